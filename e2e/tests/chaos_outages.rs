//! Chaos: the API server and Prometheus stopped and started again in the
//! middle of a rollout (e2e/cluster.sh stop|start). serin must ride the
//! outage out without crashing, finish in the right phase, promote once and
//! leave all traffic on the primary.
//!
//! The tests stop shared components, so they take turns (cargo runs test
//! binaries one after the other, so no other binary is affected).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use serin::api::{Phase, Verdict};
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::simulator::{SimConfig, Simulator};
use serin_e2e::{TestContext, with_namespace};
use tokio::sync::Mutex;

const T: Duration = Duration::from_secs(120);
/// How long a component stays down: several analysis intervals.
const OUTAGE: Duration = Duration::from_secs(6);

static ONE_OUTAGE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn cluster(command: &str, component: &str) -> anyhow::Result<()> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cluster.sh");
    let output = tokio::process::Command::new(&script)
        .args([command, component])
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(
        output.status.success(),
        "cluster.sh {command} {component}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Asserts the end state every rollout must reach after an outage.
async fn assert_promoted_once(ctx: &TestContext, initial_generation: Option<i64>) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = ctx.api();
    let primary = deployments.get("podinfo-primary").await?;
    assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
    assert_eq!(
        primary.metadata.generation,
        initial_generation.map(|g| g + 1),
        "the primary's pod template changed exactly once"
    );
    let reasons = fixtures::event_reasons(ctx, "podinfo").await?;
    let promotions = reasons.iter().filter(|r| r.as_str() == "Promoting").count();
    assert_eq!(promotions, 1, "one promotion: {reasons:?}");
    let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
    assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
    assert_eq!(fixtures::replicas_of(&deployments.get("podinfo").await?), Some(0));
    Ok(())
}

#[tokio::test]
async fn an_api_server_restart_mid_rollout_is_ridden_out() {
    let _turn = ONE_OUTAGE_AT_A_TIME.lock().await;
    with_namespace("chaos-api", |ctx| async move {
        let mut serin =
            fixtures::initialized_podinfo(&ctx, "1s", json!({ "stepWeight": 10, "maxWeight": 60 })).await?;
        let deployments: Api<Deployment> = ctx.api();
        let initial_generation = deployments.get("podinfo-primary").await?.metadata.generation;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 20", T, |s| s.canary_weight >= 20).await?;

        cluster("stop", "kube-apiserver").await?;
        // The outage itself, not a synchronisation: serin must keep running through it.
        tokio::time::sleep(OUTAGE).await;
        assert!(serin.try_exit_status()?.is_none(), "serin survived the outage");
        cluster("start", "kube-apiserver").await?;

        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        assert!(serin.try_exit_status()?.is_none(), "serin is still running");
        assert_promoted_once(&ctx, initial_generation).await
    })
    .await;
}

#[tokio::test]
async fn a_prometheus_restart_mid_analysis_fails_checks_then_the_rollout_resumes() {
    let _turn = ONE_OUTAGE_AT_A_TIME.lock().await;
    with_namespace("chaos-prom", |ctx| async move {
        let serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let metric = json!({ "name": "request-success-rate", "interval": "10s", "minRequests": 10,
                             "thresholdRange": { "min": 99 } });
        let mut canary = fixtures::gatewayapi_canary(
            "podinfo",
            "1s",
            json!({ "stepWeight": 20, "maxWeight": 60, "threshold": 30, "metrics": [metric] }),
        );
        canary["spec"]["metricsServer"] = json!(serin_e2e::env::prometheus_url());
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        fixtures::wait_for_no_pods(&ctx, "podinfo", T).await?;
        let _sim = Simulator::start(
            &ctx,
            "podinfo",
            SimConfig {
                canary_direct_rps: 10.0,
                ..SimConfig::default()
            },
        )
        .await?;
        let deployments: Api<Deployment> = ctx.api();
        let initial_generation = deployments.get("podinfo-primary").await?.metadata.generation;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "a passed step", T, |s| s.canary_weight >= 20).await?;

        cluster("stop", "prometheus").await?;
        let failing = fixtures::wait_for_status(
            &ctx,
            "podinfo",
            "a failed check while Prometheus is down",
            T,
            |s| s.failed_checks >= 1,
        )
        .await;
        // Start it again whatever happened, so later tests have their Prometheus.
        cluster("start", "prometheus").await?;
        let status = failing?.status.unwrap_or_default();
        assert_eq!(status.phase, Phase::Progressing, "never promoted without metrics");
        let check = status
            .last_analysis
            .iter()
            .find(|c| c.name == "request-success-rate")
            .context("the metric in status")?;
        assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
        assert!(
            check.message.contains("127.0.0.1"),
            "the message names the unreachable server: {}",
            check.message
        );

        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        drop(serin);
        assert_promoted_once(&ctx, initial_generation).await
    })
    .await;
}
