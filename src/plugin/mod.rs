//! `kubectl serin`: the kubectl plugin for Canaries. One file per command;
//! this module holds the command line, the client set-up and the errors.
//!
//! Exit codes: 0 success; 1 a failed rollout (`status`), lint problems or
//! nothing to migrate; 2 a `status --wait` timeout; 3 any other error
//! (unreadable file, unreachable API server, ...).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

mod actions;
pub mod cel;
mod get;
pub mod lint;
pub mod migrate;
pub mod schema;
mod status;
pub mod table;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-serin",
    bin_name = "kubectl serin",
    version,
    about = "Inspect and operate serin Canaries"
)]
pub struct PluginCli {
    /// Namespace of the Canary (default: the kubeconfig context's namespace).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List Canaries with their rollout progress; --watch follows them live.
    Get(GetArgs),
    /// Promote the current revision now, skipping the rest of the analysis.
    Promote(NameArg),
    /// Roll the current revision back now.
    Abort(NameArg),
    /// Analyse a Failed revision again.
    Retry(NameArg),
    /// Hold the rollout where it is.
    Pause(NameArg),
    /// Let a paused rollout carry on.
    Resume(NameArg),
    /// Show a Canary's status; --wait waits for the current rollout to end.
    Status(StatusArgs),
    /// Check Canary, MetricTemplate and AlertProvider manifests offline.
    Lint(FilesArg),
    /// Convert Flagger (flagger.app/v1beta1) manifests to serin.dev/v1beta1.
    Migrate(FilesArg),
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// One Canary; all in the namespace when omitted.
    pub name: Option<String>,
    /// List Canaries in every namespace.
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_namespaces: bool,
    /// Follow changes (watch API) until the rollout ends or Ctrl-C.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub name: String,
    /// Wait until the current rollout ends: exit 0 on success, 1 on failure, 2 on timeout.
    #[arg(long)]
    pub wait: bool,
    /// Longest --wait waits, e.g. 30s, 10m.
    #[arg(long, default_value = "10m")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct FilesArg {
    /// Manifest files (multi-document YAML); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("could not read kubeconfig {path}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no Kubernetes configuration found (set KUBECONFIG or --kubeconfig)")]
    InferConfig(#[source] kube::config::InferConfigError),
    #[error("could not build a Kubernetes client")]
    Client(#[source] kube::Error),
    #[error("{action} Canary {name}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("watching Canaries")]
    Watch(#[source] kube::runtime::watcher::Error),
    #[error("the watch of Canary {0} ended before its rollout did")]
    WatchEnded(String),
    #[error("Canary {0} was deleted")]
    Deleted(String),
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing output")]
    Output(#[source] std::io::Error),
    #[error("invalid --timeout")]
    Timeout(#[source] crate::api::DurationError),
    #[error("serialising YAML")]
    Yaml(#[source] serde_yaml::Error),
}

/// A Kubernetes client and the namespace to act in.
pub(crate) struct Target {
    pub client: Client,
    pub namespace: String,
}

impl PluginCli {
    async fn target(&self) -> Result<Target, PluginError> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|source| PluginError::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|source| PluginError::Kubeconfig {
                        path: path.display().to_string(),
                        source,
                    })?
            }
            None => kube::Config::infer().await.map_err(PluginError::InferConfig)?,
        };
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(PluginError::Client)?;
        Ok(Target { client, namespace })
    }
}

/// Runs the plugin and turns the outcome into the documented exit code.
pub async fn run(cli: PluginCli) -> ExitCode {
    match dispatch(&cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kubectl serin: {}", crate::error::chain(&err));
            ExitCode::from(3)
        }
    }
}

async fn dispatch(cli: &PluginCli) -> Result<ExitCode, PluginError> {
    use actions::Action;
    match &cli.command {
        // The offline commands need no cluster, so they must not fail for want of a kubeconfig.
        PluginCommand::Lint(args) => return lint::run(&args.files),
        PluginCommand::Migrate(args) => return migrate::run(&args.files),
        _ => {}
    }
    let target = cli.target().await?;
    match &cli.command {
        PluginCommand::Get(args) => get::run(&target, args).await,
        PluginCommand::Promote(a) => actions::run(&target, &a.name, Action::Promote).await,
        PluginCommand::Abort(a) => actions::run(&target, &a.name, Action::Abort).await,
        PluginCommand::Retry(a) => actions::run(&target, &a.name, Action::Retry).await,
        PluginCommand::Pause(a) => actions::run(&target, &a.name, Action::Pause).await,
        PluginCommand::Resume(a) => actions::run(&target, &a.name, Action::Resume).await,
        PluginCommand::Status(args) => status::run(&target, args).await,
        PluginCommand::Lint(_) | PluginCommand::Migrate(_) => Ok(ExitCode::SUCCESS),
    }
}

/// Reads a manifest file, or standard input for `-`.
pub(crate) fn read_input(path: &str) -> Result<String, PluginError> {
    use std::io::Read;
    let result = if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    };
    result.map_err(|source| PluginError::Read {
        path: path.to_string(),
        source,
    })
}

/// The documents of a YAML stream as JSON values; `None` documents (empty
/// ones between `---`) are dropped, a parse error ends the stream.
pub(crate) fn yaml_documents(text: &str) -> Vec<Result<(usize, serde_json::Value), String>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        match serde_json::Value::deserialize(document) {
            Ok(serde_json::Value::Null) => {}
            Ok(value) => out.push(Ok((index + 1, value))),
            Err(err) => {
                out.push(Err(format!("doc {}: invalid YAML: {err}", index + 1)));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        PluginCli::command().debug_assert();
    }

    #[test]
    fn namespace_flag_is_global() {
        let cli = PluginCli::try_parse_from(["kubectl-serin", "promote", "podinfo", "-n", "test"])
            .expect("valid arguments");
        assert_eq!(cli.namespace.as_deref(), Some("test"));
    }

    #[test]
    fn all_namespaces_conflicts_with_a_name() {
        assert!(PluginCli::try_parse_from(["kubectl-serin", "get", "podinfo", "-A"]).is_err());
    }

    #[test]
    fn yaml_stream_skips_empty_documents_and_numbers_the_rest() {
        let docs = yaml_documents("---\na: 1\n---\n---\nb: 2\n");
        let indexes: Vec<usize> = docs
            .iter()
            .filter_map(|d| d.as_ref().ok().map(|(i, _)| *i))
            .collect();
        assert_eq!(indexes.len(), 2);
        assert!(indexes[0] < indexes[1]);
    }
}
