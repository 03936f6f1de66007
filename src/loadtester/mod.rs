//! `serin loadtester`: the HTTP service Canary webhooks call for load tests, acceptance tests and
//! approval gates; compatible with flagger-loadtester, plus a built-in load generator, gate state that
//! survives restarts and a namespace allow-list.
//!
//! - [`server`]: routes and status codes;
//! - [`payload`]: the webhook payload and the task it asks for;
//! - [`tasks`] and [`shell`]: background and blocking commands, de-duplicated per canary;
//! - [`load`]: the HTTP load generator;
//! - [`state`]: gate state in memory, a file or a ConfigMap;
//! - [`access`]: the namespace allow-list; [`metrics`]: `/metrics`.

pub mod access;
pub mod load;
pub mod metrics;
pub mod payload;
pub mod server;
pub mod shell;
pub mod state;
pub mod tasks;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use self::access::{AccessError, NamespacePolicy};
use self::metrics::Metrics;
use self::server::App;
use self::state::{Backend, ConfigMapStore, FileStore, GateStore, StateError};
use self::tasks::Tasks;
use crate::api::parse_duration;

#[derive(Debug, Clone, Args)]
pub struct LoadtesterArgs {
    /// Address to listen on (port 0 picks a free one; the log says which).
    #[arg(long, env = "SERIN_LOADTESTER_ADDR", default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,
    /// Longest any task may run; longer commands are killed and longer load tests refused.
    #[arg(long, env = "SERIN_LOADTESTER_TIMEOUT", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep gate state in this ConfigMap (`<namespace>/<name>`), created if missing.
    #[arg(long, env = "SERIN_LOADTESTER_STATE_CONFIGMAP", value_parser = parse_configmap_ref, conflicts_with = "state_file")]
    pub state_configmap: Option<ConfigMapRef>,
    /// Keep gate state in this JSON file, for running outside a cluster.
    #[arg(long, env = "SERIN_LOADTESTER_STATE_FILE")]
    pub state_file: Option<PathBuf>,
    /// Serve only Canaries whose namespace fully matches this regular expression.
    #[arg(long, env = "SERIN_LOADTESTER_NAMESPACE_REGEXP")]
    pub namespace_regexp: Option<String>,
    /// Serve only Canaries in these namespaces (comma-separated); with --namespace-regexp, either admits.
    #[arg(long, env = "SERIN_LOADTESTER_ALLOW_NAMESPACE", value_delimiter = ',')]
    pub allow_namespace: Vec<String>,
}

/// `<namespace>/<name>` of the state ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMapRef {
    pub namespace: String,
    pub name: String,
}

fn parse_configmap_ref(text: &str) -> Result<ConfigMapRef, String> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => Ok(ConfigMapRef {
            namespace: ns.to_string(),
            name: name.to_string(),
        }),
        _ => Err(format!("{text:?} is not <namespace>/<name>")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadtesterError {
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the load tester's HTTP server failed")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Access(#[from] AccessError),
    // Boxed, as kube's errors are large and this enum travels up to `main`'s error type.
    #[error("could not load gate state")]
    State(#[source] Box<StateError>),
    #[error("no Kubernetes client for --state-configmap (set KUBECONFIG or run in a pod)")]
    KubeClient(#[source] Box<kube::Error>),
    #[error("could not build the load generator's HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

pub async fn run(args: LoadtesterArgs) -> Result<(), LoadtesterError> {
    let addr = args.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| LoadtesterError::Bind { addr, source })?;
    let app = Arc::new(build(&args).await?);
    serve(listener, app, crate::controller::shutdown_signal()).await
}

/// Builds the shared state from the flags: the allow-list, the gate store, the task runner.
pub async fn build(args: &LoadtesterArgs) -> Result<App, LoadtesterError> {
    let policy = NamespacePolicy::new(args.namespace_regexp.as_deref(), &args.allow_namespace)?;
    if !policy.is_restricted() {
        tracing::info!("no namespace restriction: any Canary that can reach this load tester may use it");
    }
    let backend = match (&args.state_configmap, &args.state_file) {
        (Some(cm), _) => {
            // A client only here: without a ConfigMap store the load tester needs no cluster at all.
            let client = kube::Client::try_default()
                .await
                .map_err(|e| LoadtesterError::KubeClient(Box::new(e)))?;
            Backend::ConfigMap(Box::new(ConfigMapStore::new(client, &cm.namespace, &cm.name)))
        }
        (None, Some(path)) => Backend::File(FileStore::new(path.clone())),
        (None, None) => {
            tracing::warn!(
                "gate state is kept in memory and lost on restart; use --state-configmap or --state-file"
            );
            Backend::Memory
        }
    };
    let gates = GateStore::load(backend)
        .await
        .map_err(|e| LoadtesterError::State(Box::new(e)))?;
    let metrics = Arc::new(Metrics::new());
    let client = load_client()?;
    Ok(App {
        tasks: Tasks::new(metrics.clone(), args.timeout, client),
        gates,
        policy,
        metrics,
        timeout: args.timeout,
    })
}

/// The load generator's client. Proxies from the environment are ignored: a load test measures the
/// target, and an egress proxy in between would measure the proxy.
pub fn load_client() -> Result<reqwest::Client, LoadtesterError> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(load::MAX_IN_FLIGHT)
        .build()
        .map_err(LoadtesterError::HttpClient)
}

/// Serves until `shutdown` completes; logs `listening on <addr>` once requests can be taken.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LoadtesterError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("listening on {addr}");
    }
    let result = axum::serve(listener, server::router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(LoadtesterError::Serve);
    let abandoned = app.tasks.running();
    if abandoned > 0 {
        // A restarted pod starts them again on the Canary's next tick, as de-duplication is in memory.
        tracing::warn!(abandoned, "stopping with background tasks still running");
    }
    result
}
