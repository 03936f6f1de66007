//! `serin loadtester`: the HTTP service Canary webhooks call for load tests,
//! acceptance tests and approval gates; compatible with flagger-loadtester.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct LoadtesterArgs {
    /// Address to listen on.
    #[arg(long, env = "SERIN_LOADTESTER_ADDR", default_value = "0.0.0.0:8080")]
    pub addr: std::net::SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadtesterError {
    #[error("could not listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub async fn run(args: LoadtesterArgs) -> Result<(), LoadtesterError> {
    let _ = args;
    Ok(())
}
