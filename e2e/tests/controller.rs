//! `serin controller` connects to the cluster from KUBECONFIG, logs the API
//! server's version, reports ready, and stops cleanly on SIGTERM.

use std::time::Duration;

use serin_e2e::serin::SerinProcess;
use serin_e2e::{crds, with_namespace};

#[tokio::test]
async fn controller_logs_the_server_version_and_stops_on_sigterm() {
    with_namespace("controller", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        let server = ctx.client.apiserver_version().await?;
        let serin = SerinProcess::controller(&ctx, &[]).await?;
        let line = serin
            .wait_for_log(
                &["connected to Kubernetes API server", &server.git_version],
                Duration::from_secs(30),
            )
            .await?;
        assert!(
            line.contains("127.0.0.1"),
            "log names the API server address: {line}"
        );
        serin
            .wait_for_log(&["serving /metrics"], Duration::from_secs(10))
            .await?;
        let status = serin.terminate(Duration::from_secs(15)).await?;
        assert!(status.success(), "serin exited with {status}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn controller_check_connects_and_exits() {
    with_namespace("check", |ctx| async move {
        let serin = SerinProcess::start(&ctx, &["controller", "--check"])?;
        let status = serin.wait(Duration::from_secs(30)).await?;
        assert!(status.success(), "--check connects and exits 0, got {status}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn controller_stops_when_told_to_during_start_up() {
    with_namespace("early-stop", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        let serin = SerinProcess::controller(&ctx, &[]).await?;
        // Right after the metrics server is up, before the caches have filled.
        serin
            .wait_for_log(&["serving /metrics"], Duration::from_secs(30))
            .await?;
        let status = serin.terminate(Duration::from_secs(15)).await?;
        assert!(status.success(), "serin exited with {status}");
        Ok(())
    })
    .await;
}
