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
        Command::Crd(args) => return crd(args),
        Command::Loadtester(args) => serin::loadtester::run(args)
            .await
            .map_err(serin::error::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %serin::error::chain(&err), "serin stopped");
            ExitCode::FAILURE
        }
    }
}

fn crd(args: serin::cli::CrdArgs) -> ExitCode {
    let result = match args.out_dir {
        Some(dir) => serin::crdgen::write(&dir).map_err(|e| e.to_string()),
        None => serin::crdgen::all_yaml()
            .map(|yaml| print!("{yaml}"))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("serin crd: {err}");
            ExitCode::FAILURE
        }
    }
}
