//! `serin controller`: connects to the cluster and runs until told to stop.

use kube::{Client, Config};

use crate::cli::ControllerArgs;
use crate::error::Error;

pub async fn run(args: ControllerArgs) -> Result<(), Error> {
    let client = connect().await?;
    drop(client);
    if args.check {
        return Ok(());
    }
    tracing::info!("controller running; waiting for a shutdown signal");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    Ok(())
}

/// Builds a client from KUBECONFIG or the in-cluster config and proves the
/// API server answers, so a misconfigured deployment fails at start-up.
pub async fn connect() -> Result<Client, Error> {
    let config = Config::infer().await.map_err(Error::KubeConfig)?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(Error::KubeClient)?;
    let info = client
        .apiserver_version()
        .await
        .map_err(|source| Error::ApiServerUnreachable {
            url: url.clone(),
            source,
        })?;
    tracing::info!(
        server_version = %info.git_version,
        platform = %info.platform,
        url = %url,
        "connected to Kubernetes API server"
    );
    Ok(client)
}

async fn shutdown_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.map_err(Error::Signal),
        _ = term.recv() => Ok(()),
    }
}
