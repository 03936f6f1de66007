//! `serin controller` connects to the cluster from KUBECONFIG, logs the API
//! server's version and stops cleanly on SIGTERM.

use std::time::Duration;

use serin_e2e::serin::SerinProcess;
use serin_e2e::with_namespace;

#[tokio::test]
async fn controller_logs_the_server_version_and_stops_on_sigterm() {
    with_namespace("controller", |ctx| async move {
        let server = ctx.client.apiserver_version().await?;
        let serin = SerinProcess::start(&ctx, &["controller"])?;
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
            .wait_for_log(&["waiting for a shutdown signal"], Duration::from_secs(10))
            .await?;
        let status = serin.terminate(Duration::from_secs(10)).await?;
        assert!(status.success(), "serin exited with {status}");
        Ok(())
    })
    .await;
}
