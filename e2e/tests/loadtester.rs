//! `serin loadtester` as a process: its built-in load generator sends real requests at the asked rate
//! and stops at its duration, and gate state kept in a ConfigMap survives a restart.

use std::time::Duration;

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::json;
use serin_e2e::loadtester::{CountingTarget, Loadtester};
use serin_e2e::wait::poll_until;
use serin_e2e::with_namespace;

const RATE: u64 = 20;
const SECONDS: u64 = 5;

#[tokio::test]
async fn a_load_task_sends_the_asked_rate_and_stops_at_its_duration() {
    with_namespace("lt-load", |ctx| async move {
        let target = CountingTarget::start().await?;
        let lt = Loadtester::start(&ctx, &[]).await?;
        let task = json!({
            "name": "podinfo",
            "namespace": ctx.namespace,
            "phase": "Progressing",
            "checksum": "1",
            "metadata": {
                "type": "load",
                "url": target.url,
                "rate": RATE.to_string(),
                "duration": format!("{SECONDS}s"),
            },
        });
        let (status, body) = lt.post("/", &task).await?;
        ensure!(status == 202, "POST / answered {status}: {body}");
        // The next analysis tick asks again while the test runs: accepted, not stacked.
        let (status, body) = lt.post("/", &task).await?;
        ensure!(
            status == 202 && body.contains("already running"),
            "{status}: {body}"
        );

        let finished = lt
            .process
            .wait_for_log(&["load test finished", "podinfo."], Duration::from_secs(30))
            .await?;
        // Nothing more arrives after the end: wait for a second of silence, bounded.
        poll_until(
            "the target to go quiet",
            Duration::from_secs(15),
            Duration::from_millis(100),
            || async { Ok(target.quiet_for().filter(|q| *q >= Duration::from_secs(1))) },
        )
        .await?;

        let count = target.count();
        let expected = RATE * SECONDS;
        let span = target.span().context("no request arrived")?;
        eprintln!("load: {count} requests in {span:?} (asked {expected}); {finished}");
        ensure!(
            (expected * 3 / 4..=expected * 5 / 4).contains(&count),
            "{count} requests, expected {expected} ± 25%"
        );
        ensure!(
            span <= Duration::from_millis(SECONDS * 1000 + 500),
            "requests spread over {span:?}, longer than the {SECONDS}s duration"
        );
        ensure!(
            finished.contains(&format!("requests={count}")),
            "the load tester's count differs from the target's ({count}): {finished}"
        );

        let (_, metrics) = lt.get("/metrics").await?;
        let series = format!(
            "serin_loadtester_load_requests_total{{canary=\"podinfo.{}\"}} {count}",
            ctx.namespace
        );
        ensure!(metrics.contains(&series), "no {series:?} in:\n{metrics}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn gate_state_survives_a_restart() {
    with_namespace("lt-gates", |ctx| async move {
        let name = "loadtester-gates";
        let state = format!("{}/{name}", ctx.namespace);
        let flags = ["--state-configmap", state.as_str()];
        let canary = json!({ "name": "podinfo", "namespace": ctx.namespace });
        let key = format!("gate.podinfo.{}", ctx.namespace);
        let configmaps: Api<ConfigMap> = ctx.api();

        let lt = Loadtester::start(&ctx, &flags).await?;
        // Started with no ConfigMap: it creates one, and every gate starts closed.
        ensure!(
            configmaps.get_opt(name).await?.is_some(),
            "state ConfigMap not created"
        );
        ensure!(
            lt.post("/gate/check", &canary).await?.0 == 403,
            "a new gate is open"
        );
        let (status, body) = lt.post("/gate/open", &canary).await?;
        ensure!(status == 202, "/gate/open answered {status}: {body}");
        ensure!(
            lt.post("/gate/check", &canary).await?.0 == 200,
            "the opened gate is closed"
        );
        let stored = configmaps.get(name).await?.data.unwrap_or_default();
        ensure!(
            stored.get(&key).map(String::as_str) == Some("open"),
            "stored: {stored:?}"
        );

        // A crash: SIGKILL, no chance to flush anything.
        lt.process.kill().await?;
        let lt = Loadtester::start(&ctx, &flags).await?;
        let (status, body) = lt.post("/gate/check", &canary).await?;
        ensure!(
            status == 200,
            "after a restart the gate answered {status}: {body}"
        );

        let (status, body) = lt.post("/gate/close", &canary).await?;
        ensure!(status == 202, "/gate/close answered {status}: {body}");
        // A graceful stop this time.
        let exit = lt.process.terminate(Duration::from_secs(10)).await?;
        ensure!(exit.success(), "the load tester exited with {exit} on SIGTERM");
        let lt = Loadtester::start(&ctx, &flags).await?;
        let (status, body) = lt.post("/gate/check", &canary).await?;
        ensure!(
            status == 403,
            "after close and restart the gate answered {status}: {body}"
        );
        ensure!(
            lt.post("/rollback/check", &canary).await?.0 == 403,
            "rollback switch open"
        );
        lt.process.kill().await?;
        Ok(())
    })
    .await;
}
