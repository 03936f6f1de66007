//! `kubectl serin`: kubectl finds this binary on PATH as a plugin. All logic is
//! in `serin::plugin`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    serin::plugin::run(serin::plugin::PluginCli::parse()).await
}
