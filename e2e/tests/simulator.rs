//! The traffic simulator against the real control plane and Prometheus:
//! Flagger's builtin queries see the canary, the split follows a hand-made
//! HTTPRoute (and an A/B route only takes requests with its header),
//! behaviour changes show up in the success rate, and no traffic
//! or no pods mean no data.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;
use serin_e2e::prometheus::Prometheus;
use serin_e2e::simulator::queries::{self, Provider};
use serin_e2e::simulator::{self, Behaviour, SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, wait, with_namespace};

const TIMEOUT: Duration = Duration::from_secs(90);
const EVERY: Duration = Duration::from_secs(1);
/// Short enough for quick tests, long enough to hold ~80 canary requests.
const WINDOW: &str = "20s";

/// Deployments `podinfo` (the canary, 1 pod) and `podinfo-primary` (2 pods),
/// and an HTTPRoute sending 80% to the primary and 20% to the canary.
async fn podinfo_behind_a_route(ctx: &TestContext) -> anyhow::Result<()> {
    fixtures::install_gateway_api(&ctx.client).await?;
    let deployments: Api<Deployment> = ctx.api();
    for (name, replicas) in [("podinfo", 1), ("podinfo-primary", 2)] {
        let deployment = fixtures::deployment(name, "podinfo:6.0.0", replicas);
        deployments.create(&PostParams::default(), &deployment).await?;
    }
    let route: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": { "name": "podinfo" },
        "spec": { "rules": [{ "backendRefs": [
            { "name": "podinfo-primary", "port": 9898, "weight": 80 },
            { "name": "podinfo-canary", "port": 9898, "weight": 20 }
        ] }] }
    }))?;
    fixtures::http_routes(&ctx.client, &ctx.namespace)
        .create(&PostParams::default(), &route)
        .await?;
    Ok(())
}

/// Polls `promql` until its single value satisfies `accept`.
async fn wait_for_value(
    prom: &Prometheus,
    promql: &str,
    what: &str,
    accept: impl Fn(f64) -> bool,
) -> anyhow::Result<f64> {
    wait::poll_until(&format!("{what}: {promql}"), TIMEOUT, EVERY, || async {
        let samples = prom.query(promql).await?;
        match samples.as_slice() {
            [] => Ok(None),
            [one] if accept(one.value) => Ok(Some(one.value)),
            [one] => anyhow::bail!("value {} not accepted yet", one.value),
            many => anyhow::bail!("expected one sample, got {many:?}"),
        }
    })
    .await
}

fn success_rate(ctx: &TestContext, provider: Provider) -> String {
    queries::success_rate(provider, &ctx.namespace, "podinfo", WINDOW)
}

#[tokio::test]
async fn builtin_queries_measure_the_canary_and_the_split_follows_the_route() {
    with_namespace("sim-route", |ctx| async move {
        podinfo_behind_a_route(&ctx).await?;
        let sim = Simulator::start(&ctx, "podinfo", SimConfig::default()).await?;
        let prom = Prometheus::from_env();
        let ns = &ctx.namespace;

        // Defaults: 0.1% errors, which over a short window is 100 or just below.
        for provider in [Provider::Linkerd, Provider::Istio, Provider::App] {
            wait_for_value(&prom, &success_rate(&ctx, provider), "canary success rate near 99.9", |v| {
                (99.0..=100.0).contains(&v)
            })
            .await?;
        }
        // 50 ms sits in the bucket ending at 50 ms (0.05 s) for all three layouts.
        for (provider, low, high) in [
            (Provider::Linkerd, 40.0, 50.0),
            (Provider::Istio, 25.0, 50.0),
            (Provider::App, 0.025, 0.05),
        ] {
            let promql = queries::duration(provider, ns, "podinfo", WINDOW);
            wait_for_value(&prom, &promql, "canary p99 in the 50 ms bucket", |v| v > low && v <= high).await?;
        }

        let canary_rps = format!(
            r#"sum(rate(response_total{{namespace="{ns}", deployment="podinfo", direction="inbound"}}[{WINDOW}]))"#
        );
        let share = format!(
            r#"{canary_rps} / sum(rate(response_total{{namespace="{ns}", direction="inbound"}}[{WINDOW}]))"#
        );
        wait_for_value(&prom, &share, "the canary's share near 20%", |v| (v - 0.2).abs() <= 0.03).await?;
        wait_for_value(&prom, &canary_rps, "the canary near 4 rps", |v| (v - 4.0).abs() <= 0.6).await?;

        // The app-level regex selects the canary's pods and none of the primary's.
        let app_series = |pods: &str| {
            format!(
                r#"http_request_duration_seconds_count{{kubernetes_namespace="{ns}", kubernetes_pod_name=~"{pods}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status="200"}}"#
            )
        };
        let matched = prom.query(&app_series("podinfo")).await?;
        let names: Vec<&str> = matched
            .iter()
            .filter_map(|s| s.labels.get("kubernetes_pod_name").map(String::as_str))
            .collect();
        assert_eq!(names.len(), 1, "one canary pod: {names:?}");
        assert!(!names[0].starts_with("podinfo-primary-"), "{names:?}");
        let primaries = prom.query(&app_series("podinfo-primary")).await?;
        assert_eq!(primaries.len(), 2, "two primary pods: {primaries:?}");

        let up = prom
            .query(&format!(r#"up{{e2e_exporter="{}"}}"#, sim.exporter_id()))
            .await?;
        assert_eq!(up.iter().map(|s| s.value).collect::<Vec<_>>(), [1.0], "scraped without errors");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn annotations_and_overrides_change_the_success_rate() {
    with_namespace("sim-behaviour", |ctx| async move {
        podinfo_behind_a_route(&ctx).await?;
        let sim = Simulator::start(&ctx, "podinfo", SimConfig::default()).await?;
        let prom = Prometheus::from_env();
        let linkerd = success_rate(&ctx, Provider::Linkerd);
        wait_for_value(&prom, &linkerd, "a healthy canary", |v| v >= 99.0).await?;

        // A bad release: the new template's pods fail 20% of requests.
        let bad = Behaviour {
            error_rate: 0.2,
            latency_ms: 50.0,
        };
        simulator::annotate_behaviour(&ctx, "podinfo", bad).await?;
        wait_for_value(&prom, &linkerd, "the canary near 80%", |v| {
            (v - 80.0).abs() <= 3.0
        })
        .await?;
        let primary = success_rate(&ctx, Provider::Linkerd).replace("=~\"podinfo\"", "=~\"podinfo-primary\"");
        wait_for_value(&prom, &primary, "the primary unaffected", |v| v >= 99.0).await?;

        // An API override wins over the annotation.
        let perfect = Behaviour {
            error_rate: 0.0,
            latency_ms: 50.0,
        };
        sim.set_behaviour("podinfo", perfect);
        wait_for_value(&prom, &linkerd, "the overridden canary at 100%", |v| v == 100.0).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn no_traffic_or_no_pods_means_no_data() {
    with_namespace("sim-nodata", |ctx| async move {
        podinfo_behind_a_route(&ctx).await?;
        let sim = Simulator::start(&ctx, "podinfo", SimConfig::default()).await?;
        let prom = Prometheus::from_env();
        let linkerd = success_rate(&ctx, Provider::Linkerd);
        wait_for_value(&prom, &linkerd, "traffic to the canary", |v| v >= 99.0).await?;

        // Idle series: 0/0 once the window holds no increase.
        sim.set_rate(0.0);
        wait_for_value(&prom, &linkerd, "NaN without traffic", f64::is_nan).await?;

        // No pods: the series go, and the query answers nothing at all.
        sim.set_rate(20.0);
        let deployments: Api<Deployment> = ctx.api();
        let scale = json!({ "spec": { "replicas": 0 } });
        deployments
            .patch("podinfo", &PatchParams::default(), &Patch::Merge(&scale))
            .await?;
        wait::poll_until("no canary series", TIMEOUT, EVERY, || async {
            Ok(prom.query(&linkerd).await?.is_empty().then_some(()))
        })
        .await?;
        let canary_before = sim.totals("podinfo");
        let primary_before = sim.totals("podinfo-primary");
        wait::poll_until("the primary still served", TIMEOUT, EVERY, || async {
            Ok((sim.totals("podinfo-primary").requests > primary_before.requests).then_some(()))
        })
        .await?;
        assert_eq!(
            sim.totals("podinfo"),
            canary_before,
            "a canary with no pods gets nothing"
        );
        Ok(())
    })
    .await;
}

/// An A/B route written by serin's Gateway API router: only the requests
/// that carry the A/B header reach the canary.
#[tokio::test]
async fn ab_rules_send_only_requests_with_the_header_to_the_canary() {
    with_namespace("sim-ab", |ctx| async move {
        serin_e2e::crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        let deployments: Api<Deployment> = ctx.api();
        for (name, replicas) in [("podinfo", 1), ("podinfo-primary", 2)] {
            let deployment = fixtures::deployment(name, "podinfo:6.0.0", replicas);
            deployments.create(&PostParams::default(), &deployment).await?;
        }
        let canary: serin::api::Canary = serde_json::from_value(json!({
            "apiVersion": "serin.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo"},
            "spec": {
                "provider": "gatewayapi:v1",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898, "gatewayRefs": [{"name": "public"}]},
                "analysis": {"interval": "10s", "iterations": 5,
                             "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}
            }
        }))?;
        let canary = ctx
            .api::<serin::api::Canary>()
            .create(&PostParams::default(), &canary)
            .await?;
        let router = serin::router::router_for("gatewayapi:v1", ctx.client.clone())?;
        fixtures::first_apply(router.as_ref(), &canary, serin::rollout::Weights::canary(100)).await?;

        let config = SimConfig {
            rps: 200.0,
            header: Some(("x-canary".into(), "insider".into())),
            matching_share: 0.25,
            ..SimConfig::default()
        };
        let sim = Simulator::start(&ctx, "podinfo", config).await?;
        let served = || {
            (
                sim.totals("podinfo-primary").requests,
                sim.totals("podinfo").requests,
            )
        };
        // Measure from when both have ready pods, so a workload that became
        // ready first does not skew the share.
        let (primary0, canary0) = wait::poll_until("both workloads served", TIMEOUT, EVERY, || async {
            let (primary, canary) = served();
            Ok((primary > 0 && canary > 0).then_some((primary, canary)))
        })
        .await?;
        let (primary, canary) = wait::poll_until("400 more routed requests", TIMEOUT, EVERY, || async {
            let (primary, canary) = served();
            let (primary, canary) = (primary - primary0, canary - canary0);
            Ok((primary + canary >= 400).then_some((primary, canary)))
        })
        .await?;
        let share = canary as f64 / (primary + canary) as f64;
        assert!(
            (share - 0.25).abs() <= 0.03,
            "canary share {share} ({canary} of {})",
            primary + canary
        );
        Ok(())
    })
    .await;
}
