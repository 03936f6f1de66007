use std::process::ExitCode;

use clap::Parser;
use serin::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = serin::telemetry::init(&cli.log) {
        eprintln!("serin: {err}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Controller(args) => serin::controller::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %serin::error::chain(&err), "serin stopped");
            ExitCode::FAILURE
        }
    }
}
