//! Command-line interface of the `serin` binary.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "serin",
    version,
    about = "Progressive delivery controller for Kubernetes"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the cluster from KUBECONFIG or the in-cluster config.
    Controller(ControllerArgs),
    /// Print the CustomResourceDefinitions generated from serin's types.
    Crd(CrdArgs),
    /// Serve load tests, acceptance tests and approval gates for Canary webhooks.
    Loadtester(crate::loadtester::LoadtesterArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub out_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Connect, log the API server version and exit instead of running until stopped.
    #[arg(long)]
    pub check: bool,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "SERIN_NAMESPACE")]
    pub namespace: Option<String>,
    /// Canaries reconciled at once. Thousands of Canaries starting together
    /// would otherwise send the API server thousands of writes at once (it
    /// answered 504 at 5,000 on a 2-core test cluster). A webhook that hangs
    /// holds one slot until its timeout. 0: no limit.
    #[arg(long, env = "SERIN_MAX_CONCURRENT_RECONCILES", default_value_t = 256)]
    pub max_concurrent_reconciles: u16,
    /// Traffic provider for Canaries that do not name one.
    #[arg(long, env = "SERIN_PROVIDER", default_value = "kubernetes")]
    pub provider: String,
    /// Prometheus URL for builtin metrics, unless a Canary or MetricTemplate names another.
    #[arg(long, env = "SERIN_METRICS_SERVER", default_value = "http://prometheus:9090")]
    pub metrics_server: String,
    /// Address of the /metrics, /healthz and /readyz server (port 0 picks a free one).
    #[arg(long, env = "SERIN_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// URL that receives every Canary event as a webhook payload, for Canaries without an `event` webhook.
    #[arg(long, env = "SERIN_EVENT_WEBHOOK")]
    pub event_webhook: Option<String>,
    /// Run as one of several replicas: only the holder of a Lease acts.
    #[arg(long, env = "SERIN_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease (default: the client's namespace).
    #[arg(long, env = "SERIN_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "serin-leader")]
    pub leader_election_id: String,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `serin=debug,kube=info`.
    #[arg(long, global = true, env = "SERIN_LOG", default_value = "info")]
    pub log_level: String,
    /// Log line format.
    #[arg(long, global = true, env = "SERIN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_flag_prints_crate_version() {
        let err = Cli::try_parse_from(["serin", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(
            err.to_string().trim(),
            format!("serin {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn controller_subcommand_takes_global_log_flags() {
        let cli = Cli::try_parse_from([
            "serin",
            "controller",
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ])
        .expect("valid arguments");
        let Command::Controller(args) = cli.command else {
            panic!("controller subcommand expected")
        };
        assert!(!args.check);
        assert_eq!(args.provider, "kubernetes");
        assert_eq!(cli.log.log_format, LogFormat::Json);
        assert_eq!(cli.log.log_level, "debug");
    }

    #[test]
    fn unknown_log_format_is_rejected() {
        let err = Cli::try_parse_from(["serin", "--log-format", "xml", "controller"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(Cli::try_parse_from(["serin"]).is_err());
    }
}
