//! The Linkerd and Istio builtin metrics on a real Prometheus: a Canary
//! routed by an SMI TrafficSplit (`linkerd`) or an Istio VirtualService
//! (`istio`) is judged by that mesh's series and promotes when healthy.

use std::time::Duration;

use serde_json::json;
use serin::api::{Phase, Verdict};
use serin_e2e::simulator::{SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, with_namespace};

const T: Duration = Duration::from_secs(120);

async fn healthy_rollout(ctx: &TestContext, provider: &str) -> anyhow::Result<()> {
    let _serin = fixtures::podinfo_with_serin(ctx, "podinfo:1", 1).await?;
    let metrics = json!([
        { "name": "request-success-rate", "interval": "10s", "minRequests": 20, "thresholdRange": { "min": 99 } },
        { "name": "request-duration", "interval": "10s", "minRequests": 20, "thresholdRange": { "max": 500 } }
    ]);
    let mut canary = fixtures::gatewayapi_canary(
        "podinfo",
        "2s",
        json!({ "stepWeight": 50, "maxWeight": 50, "metrics": metrics }),
    );
    canary["spec"]["provider"] = json!(provider);
    canary["spec"]["metricsServer"] = json!(serin_e2e::env::prometheus_url());
    canary["spec"]["service"]
        .as_object_mut()
        .expect("service")
        .remove("gatewayRefs");
    fixtures::create_canary(ctx, canary).await?;
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    fixtures::wait_for_no_pods(ctx, "podinfo", T).await?;
    let _sim = Simulator::start(
        ctx,
        "podinfo",
        SimConfig {
            canary_direct_rps: 10.0,
            ..SimConfig::default()
        },
    )
    .await?;

    fixtures::set_image(ctx, "podinfo", "podinfo:2").await?;
    let done = fixtures::wait_for_phase(ctx, "podinfo", Phase::Succeeded, T).await?;
    let status = done.status.unwrap_or_default();
    assert_eq!(status.failed_checks, 0);
    for name in ["request-success-rate", "request-duration"] {
        let check = status
            .last_analysis
            .iter()
            .find(|c| c.name == name)
            .expect("the metric in status");
        assert_eq!(check.verdict, Verdict::Pass, "{provider}: {check:?}");
        assert!(
            check.value.is_some(),
            "{provider}: a value from the mesh's series: {check:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn linkerd_builtin_metrics_judge_a_traffic_split_canary() {
    with_namespace("linkerd", |ctx| async move {
        fixtures::install_smi(&ctx.client).await?;
        healthy_rollout(&ctx, "linkerd").await
    })
    .await;
}

#[tokio::test]
async fn istio_builtin_metrics_judge_a_virtual_service_canary() {
    with_namespace("istio", |ctx| async move {
        fixtures::install_istio(&ctx.client).await?;
        healthy_rollout(&ctx, "istio").await
    })
    .await;
}
