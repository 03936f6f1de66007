//! Errors of the serin binary, typed so callers can tell them apart.

use std::error::Error as StdError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid log filter {filter:?}: {source}")]
    LogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("could not install the log subscriber: {0}")]
    Telemetry(String),
    #[error("no Kubernetes configuration found (set KUBECONFIG or run in a pod)")]
    KubeConfig(#[source] kube::config::InferConfigError),
    #[error("could not build a Kubernetes client")]
    KubeClient(#[source] kube::Error),
    #[error("could not reach the Kubernetes API server at {url}")]
    ApiServerUnreachable {
        url: String,
        #[source]
        source: kube::Error,
    },
    #[error("could not wait for a shutdown signal")]
    Signal(#[source] std::io::Error),
    #[error("cannot list Canaries: are serin's CRDs installed? (kubectl apply -f crds/)")]
    CrdMissing(#[source] kube::Error),
    #[error("could not start the metrics and health server")]
    Server(#[source] crate::ops::ServerError),
    #[error("invalid leader election settings")]
    Leader(#[source] crate::ops::LeaderError),
    #[error("load tester stopped")]
    Loadtester(#[from] crate::loadtester::LoadtesterError),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Renders an error and its sources as one line, outermost first.
pub fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_lists_every_source_outermost_first() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = Error::Signal(io);
        assert_eq!(
            chain(&err),
            "could not wait for a shutdown signal: connection refused"
        );
    }
}
