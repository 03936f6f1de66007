//! Logging set-up, done once at start-up from the command line.

use tracing_subscriber::{EnvFilter, fmt};

use crate::cli::{LogArgs, LogFormat};
use crate::error::Error;

pub fn init(args: &LogArgs) -> Result<(), Error> {
    let filter = EnvFilter::try_new(&args.log_level).map_err(|source| Error::LogFilter {
        filter: args.log_level.clone(),
        source,
    })?;
    // Colours only for a person at a terminal, never in files or log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let installed = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|err| Error::Telemetry(err.to_string()))
}
