//! Controller-driven rollouts on the mesh routers, judged from a real
//! Prometheus scraping simulated traffic: weights step up on the SMI
//! TrafficSplit (`linkerd`) and the Istio VirtualService and come back to
//! the primary on a rollback; the Gateway API HTTPRoute steps the same way;
//! A/B analyses send only matching requests to the canary (Istio and Gateway
//! API) for all their iterations; Blue/Green mirroring is on the route
//! only while the analysis runs; Istio traffic policies reach both
//! DestinationRules. (The Gateway API rollback is in `canary_analysis.rs`;
//! users' own routes in `canary_mesh_users.rs`.)

use std::time::Duration;

use anyhow::Context as _;
use kube::Api;
use kube::api::DynamicObject;
use serde_json::{Value, json};
use serin::api::{Canary, Phase};
use serin::router::gatewayapi_types::HTTPRoute;
use serin::router::istio_types::{DestinationRule, VirtualService};
use serin::router::smi_types::v1alpha1;
use serin_e2e::mesh::{
    ALL_PRIMARY, T, builtin_metrics, canary, initialize, routed, setup, splits_until, stored_api,
    wait_for_split,
};
use serin_e2e::simulator::{self, Behaviour, SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, wait, with_namespace};

/// A healthy release steps the canary up by `stepWeight` to `maxWeight`
/// on the route, promotes and hands all traffic back to the primary.
async fn steps_up_and_promotes(
    ctx: &TestContext,
    provider: &str,
    extra_service: Value,
) -> anyhow::Result<()> {
    let mut body = canary(
        provider,
        json!({ "stepWeight": 20, "maxWeight": 60, "metrics": builtin_metrics() }),
    );
    for (key, value) in extra_service.as_object().context("service fields")? {
        body["spec"]["service"][key] = value.clone();
    }
    initialize(ctx, body).await?;
    let traffic = SimConfig {
        canary_direct_rps: 10.0,
        ..SimConfig::default()
    };
    let _sim = Simulator::start(ctx, "podinfo", traffic).await?;
    fixtures::set_image(ctx, "podinfo", "podinfo:2").await?;
    let seen = splits_until(ctx, Phase::Succeeded).await?;
    let steps: Vec<_> = seen.iter().filter(|s| s.1 > 0).copied().collect();
    assert_eq!(
        steps,
        [(80, 20), (60, 40), (40, 60)],
        "{provider}: every split seen: {seen:?}"
    );
    wait_for_split(ctx, None, ALL_PRIMARY).await
}

/// Builtin metrics for a rollback judged on routed traffic only. The first
/// step (weight 0) has nothing to judge: no data passes it, as Flagger skips
/// the checks at weight 0, so the weight leaves 0; from then on the canary's
/// errors come only from the share the route gives it. (`minRequests` would
/// hold the first step for ever: nothing reaches a canary at weight 0.)
/// Also in `canary_analysis.rs`, for the Gateway API.
fn routed_only_metrics() -> Value {
    json!([
        { "name": "request-success-rate", "interval": "10s", "noData": "pass", "thresholdRange": { "min": 99 } },
        { "name": "request-duration", "interval": "10s", "noData": "pass", "thresholdRange": { "max": 500 } }
    ])
}

/// A release whose pods fail 10% of requests gets traffic through the route
/// (its weight leaves 0), fails on those requests and rolls back: the route
/// is all primary again.
async fn bad_release_rolls_back(ctx: &TestContext, provider: &str) -> anyhow::Result<()> {
    initialize(
        ctx,
        canary(
            provider,
            json!({ "stepWeight": 20, "maxWeight": 80, "metrics": routed_only_metrics() }),
        ),
    )
    .await?;
    // No load tester: the canary is reached only through the route.
    let traffic = SimConfig {
        rps: 40.0,
        canary_direct_rps: 0.0,
        ..SimConfig::default()
    };
    let sim = Simulator::start(ctx, "podinfo", traffic).await?;
    // A canary's new series need a scrape or two to answer a rate, so a
    // step may still pass on no data; with four steps to the maximum, the
    // errors are seen long before promotion could come.
    sim.wait_until_scraped(T).await?;
    let bad = Behaviour {
        error_rate: 0.1,
        latency_ms: 50.0,
    };
    simulator::annotate_behaviour(ctx, "podinfo", bad).await?;
    let seen = splits_until(ctx, Phase::Failed).await?;
    let max_canary = seen.iter().map(|s| s.1).max().unwrap_or(0);
    assert!(
        max_canary > 0,
        "{provider}: the canary was judged with traffic routed to it; splits seen: {seen:?}"
    );
    let failed: Canary = ctx.api::<Canary>().get("podinfo").await?;
    let status = failed.status.unwrap_or_default();
    assert_eq!(status.canary_weight, 0, "{provider}: {status:?}");
    let message = status.message.unwrap_or_default();
    assert!(message.contains("request-success-rate"), "{provider}: {message}");
    wait_for_split(ctx, None, ALL_PRIMARY).await
}

#[tokio::test]
async fn linkerd_steps_the_traffic_split_up_and_promotes() {
    with_namespace("rollout-linkerd", |ctx| async move {
        let _serin = setup(&ctx, "linkerd").await?;
        steps_up_and_promotes(&ctx, "linkerd", json!({})).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_steps_the_http_route_up_and_promotes() {
    with_namespace("rollout-gw", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1").await?;
        steps_up_and_promotes(&ctx, "gatewayapi:v1", json!({})).await
    })
    .await;
}

/// Flagger's recommended Linkerd setup names `gatewayapi:v1beta1`: the same
/// router (serin writes the HTTPRoute at v1, the same object).
#[tokio::test]
async fn gatewayapi_v1beta1_steps_the_same_http_route_up_and_promotes() {
    with_namespace("rollout-gw-beta", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1beta1").await?;
        steps_up_and_promotes(&ctx, "gatewayapi:v1beta1", json!({})).await
    })
    .await;
}

#[tokio::test]
async fn linkerd_rolls_a_bad_release_back_to_the_primary() {
    with_namespace("rollback-linkerd", |ctx| async move {
        let _serin = setup(&ctx, "linkerd").await?;
        bad_release_rolls_back(&ctx, "linkerd").await
    })
    .await;
}

#[tokio::test]
async fn istio_rolls_a_bad_release_back_to_the_primary() {
    with_namespace("rollback-istio", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        bad_release_rolls_back(&ctx, "istio").await
    })
    .await;
}

/// Circuit breaking must hold on both sides of the comparison, so
/// `service.trafficPolicy` is on both DestinationRules the whole time.
#[tokio::test]
async fn istio_steps_up_and_promotes_with_the_traffic_policy_on_both_rules() {
    with_namespace("rollout-istio", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        let policy = json!({
            "outlierDetection": { "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s" },
            "connectionPool": { "http": { "http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1 } }
        });
        steps_up_and_promotes(&ctx, "istio", json!({ "trafficPolicy": policy })).await?;
        let rules = stored_api::<DestinationRule>(&ctx);
        for host in ["podinfo-primary", "podinfo-canary"] {
            let rule = rules.get(host).await?;
            assert_eq!(rule.data["spec"]["host"], host);
            assert_eq!(rule.data["spec"]["trafficPolicy"], policy, "{host}");
        }
        Ok(())
    })
    .await;
}

/// During an A/B analysis only requests carrying `header` reach the
/// canary: the route sends them 100% there and the rest 100% to the
/// primary, and the canary serves about their share of the traffic.
async fn ab_rollout(
    ctx: &TestContext,
    provider: &str,
    header: (&str, &str),
    condition: Value,
) -> anyhow::Result<()> {
    initialize(
        ctx,
        canary(
            provider,
            json!({ "iterations": AB_ITERATIONS, "match": [condition], "metrics": builtin_metrics() }),
        ),
    )
    .await?;
    let traffic = SimConfig {
        header: Some((header.0.to_string(), header.1.to_string())),
        matching_share: 0.3,
        ..SimConfig::default()
    };
    let sim = Simulator::start(ctx, "podinfo", traffic).await?;
    let iterations = tokio::spawn(fixtures::iterations_until(
        ctx.clone(),
        "podinfo".to_string(),
        Phase::Succeeded,
        T,
    ));
    fixtures::set_image(ctx, "podinfo", "podinfo:2").await?;
    wait_for_split(ctx, Some(header), (0, 100)).await?;
    assert_eq!(routed(ctx, None).await, Some(ALL_PRIMARY), "the default route");

    // The canary's share of what both workloads served while the A/B
    // route stood (checked again after the window).
    let (canary0, primary0) = (sim.totals("podinfo"), sim.totals("podinfo-primary"));
    wait::poll_until(
        "the canary to serve 30 requests",
        T,
        Duration::from_millis(200),
        || {
            let served = sim.totals("podinfo").requests - canary0.requests;
            async move { Ok((served >= 30).then_some(())) }
        },
    )
    .await?;
    let canary_served = sim.totals("podinfo").requests - canary0.requests;
    let primary_served = sim.totals("podinfo-primary").requests - primary0.requests;
    assert_eq!(
        routed(ctx, Some(header)).await,
        Some((0, 100)),
        "{provider}: the A/B route stood through the window"
    );
    let share = canary_served as f64 / (canary_served + primary_served) as f64;
    assert!(
        (0.2..0.4).contains(&share),
        "{provider}: the canary served {canary_served} and the primary {primary_served}: {share:.2}, not about 0.3"
    );

    let done = fixtures::wait_for_phase(ctx, "podinfo", Phase::Succeeded, T).await?;
    assert_eq!(done.status.unwrap_or_default().failed_checks, 0);
    ran_every_iteration(provider, &iterations.await??);
    wait_for_split(ctx, Some(header), ALL_PRIMARY).await?;
    wait_for_split(ctx, None, ALL_PRIMARY).await
}

const AB_ITERATIONS: i32 = 5;

/// An A/B analysis runs "for the iterations": the Canary counted every one
/// of them (`iterations` watched from before the release) before promoting.
fn ran_every_iteration(provider: &str, seen: &[i32]) {
    let counted: Vec<i32> = seen.iter().copied().filter(|&i| i > 0).collect();
    let expected: Vec<i32> = (1..=AB_ITERATIONS).collect();
    assert_eq!(counted, expected, "{provider}: iterations seen: {seen:?}");
}

fn insider() -> ((&'static str, &'static str), Value) {
    (
        ("x-canary", "insider"),
        json!({ "headers": { "x-canary": { "exact": "insider" } } }),
    )
}

fn canary_cookie() -> ((&'static str, &'static str), Value) {
    (
        ("cookie", "theme=dark; canary=always"),
        json!({ "headers": { "cookie": { "regex": "^(.*?;)?( ?canary=always)(;.*)?$" } } }),
    )
}

#[tokio::test]
async fn istio_ab_on_a_header_reaches_only_matching_requests() {
    with_namespace("ab-istio-header", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        let (header, condition) = insider();
        ab_rollout(&ctx, "istio", header, condition).await
    })
    .await;
}

#[tokio::test]
async fn istio_ab_on_a_cookie_reaches_only_matching_requests() {
    with_namespace("ab-istio-cookie", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        let (header, condition) = canary_cookie();
        ab_rollout(&ctx, "istio", header, condition).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_ab_on_a_header_reaches_only_matching_requests() {
    with_namespace("ab-gw-header", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1").await?;
        let (header, condition) = insider();
        ab_rollout(&ctx, "gatewayapi:v1", header, condition).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_ab_on_a_cookie_reaches_only_matching_requests() {
    with_namespace("ab-gw-cookie", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1").await?;
        let (header, condition) = canary_cookie();
        ab_rollout(&ctx, "gatewayapi:v1", header, condition).await
    })
    .await;
}

/// The mirror on the stored route, as `(target host, percent)`: Istio's
/// `mirror` + `mirrorPercentage`, Gateway API's `RequestMirror` filter.
fn mirror_of(route: &DynamicObject) -> Option<(String, Option<f64>)> {
    let spec = route.data.get("spec")?;
    if let Some(http) = spec.get("http").and_then(Value::as_array) {
        return http.iter().find_map(|r| {
            let host = r.pointer("/mirror/host")?.as_str()?.to_string();
            Some((host, r.pointer("/mirrorPercentage/value").and_then(Value::as_f64)))
        });
    }
    let rules = spec.get("rules")?.as_array()?;
    rules
        .iter()
        .flat_map(|r| r.get("filters").and_then(Value::as_array).into_iter().flatten())
        .find_map(|f| {
            (f.get("type")? == "RequestMirror").then_some(())?;
            let mirror = f.get("requestMirror")?;
            let host = mirror.pointer("/backendRef/name")?.as_str()?.to_string();
            Some((host, mirror.get("percent").and_then(Value::as_f64)))
        })
}

/// Blue/Green with mirroring: the route copies requests to the canary
/// while the analysis runs (the canary's weight stays 0), and stops after
/// promotion.
async fn mirrored_blue_green(
    ctx: &TestContext,
    provider: &str,
    mirror_weight: Option<i64>,
) -> anyhow::Result<()> {
    let mut analysis = json!({ "iterations": 3, "mirror": true, "metrics": builtin_metrics() });
    if let Some(weight) = mirror_weight {
        analysis["mirrorWeight"] = json!(weight);
    }
    initialize(ctx, canary(provider, analysis)).await?;
    let routes = if provider == "istio" {
        stored_api::<VirtualService>(ctx)
    } else {
        stored_api::<HTTPRoute>(ctx)
    };
    assert_eq!(
        mirror_of(&routes.get("podinfo").await?),
        None,
        "no mirror before a rollout"
    );
    // The load tester's traffic straight to the canary is what gets judged.
    let traffic = SimConfig {
        canary_direct_rps: 10.0,
        ..SimConfig::default()
    };
    let _sim = Simulator::start(ctx, "podinfo", traffic).await?;
    fixtures::set_image(ctx, "podinfo", "podinfo:2").await?;

    let canaries: Api<Canary> = ctx.api();
    let expected = ("podinfo-canary".to_string(), mirror_weight.map(|w| w as f64));
    let (routes, canaries) = (&routes, &canaries);
    let (mirror, split) = wait::poll_until(
        "the mirror during the analysis",
        T,
        Duration::from_millis(200),
        || async move {
            let mirror = mirror_of(&routes.get("podinfo").await?);
            let split = routed(ctx, None).await;
            let status = canaries.get("podinfo").await?.status.unwrap_or_default();
            Ok((status.phase == Phase::Progressing && mirror.is_some()).then_some((mirror, split)))
        },
    )
    .await?;
    assert_eq!(mirror, Some(expected), "{provider}");
    assert_eq!(split, Some(ALL_PRIMARY), "{provider}: mirrored, not routed");

    fixtures::wait_for_phase(ctx, "podinfo", Phase::Succeeded, T).await?;
    wait::poll_until(
        "no mirror after promotion",
        T,
        Duration::from_millis(200),
        || async move { Ok(mirror_of(&routes.get("podinfo").await?).is_none().then_some(())) },
    )
    .await?;
    wait_for_split(ctx, None, ALL_PRIMARY).await
}

#[tokio::test]
async fn istio_mirrors_half_the_requests_during_a_blue_green_analysis() {
    with_namespace("mirror-istio", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        mirrored_blue_green(&ctx, "istio", Some(50)).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_mirrors_during_a_blue_green_analysis() {
    with_namespace("mirror-gw", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1").await?;
        mirrored_blue_green(&ctx, "gatewayapi:v1", None).await
    })
    .await;
}

/// Linkerd's recommended setup (GAMMA): `provider: linkerd` with a Service
/// as the gateway ref routes with an HTTPRoute attached to the Service (no
/// TrafficSplit), and is judged by Linkerd's builtin queries. The release
/// answers in 300 ms: Linkerd's `response_latency_ms` buckets put its p99 at
/// 299 ms, under the 400 ms maximum, where the app's and Istio's buckets
/// (250 to 500) would put it at 497 ms and roll it back.
#[tokio::test]
async fn linkerd_with_a_service_parent_steps_an_http_route_judged_by_linkerd_metrics() {
    with_namespace("linkerd-gamma", |ctx| async move {
        let _serin = setup(&ctx, "linkerd").await?;
        let metrics = json!([
            { "name": "request-success-rate", "interval": "10s", "minRequests": 10, "thresholdRange": { "min": 99 } },
            { "name": "request-duration", "interval": "10s", "minRequests": 10, "thresholdRange": { "max": 400 } }
        ]);
        let mut body = canary(
            "linkerd",
            json!({ "stepWeight": 20, "maxWeight": 60, "metrics": metrics }),
        );
        let service_parent = json!({ "name": "podinfo", "kind": "Service", "group": "core", "port": 9898 });
        body["spec"]["service"]["gatewayRefs"] = json!([service_parent]);
        initialize(&ctx, body).await?;

        let routes = stored_api::<HTTPRoute>(&ctx);
        let route = routes.get("podinfo").await?;
        assert_eq!(route.data["spec"]["parentRefs"], json!([service_parent]));
        let splits = stored_api::<v1alpha1::TrafficSplit>(&ctx);
        assert!(
            splits.get_opt("podinfo").await?.is_none(),
            "no TrafficSplit with gatewayRefs"
        );

        let traffic = SimConfig {
            canary_direct_rps: 10.0,
            ..SimConfig::default()
        };
        let _sim = Simulator::start(&ctx, "podinfo", traffic).await?;
        let release = Behaviour {
            error_rate: 0.0,
            latency_ms: 300.0,
        };
        simulator::annotate_behaviour(&ctx, "podinfo", release).await?;
        let seen = splits_until(&ctx, Phase::Succeeded).await?;
        let steps: Vec<_> = seen.iter().filter(|s| s.1 > 0).copied().collect();
        assert_eq!(steps, [(80, 20), (60, 40), (40, 60)], "every split seen: {seen:?}");

        let done: Canary = ctx.api::<Canary>().get("podinfo").await?;
        let status = done.status.unwrap_or_default();
        let latency = status
            .last_analysis
            .iter()
            .find(|c| c.name == "request-duration")
            .context("request-duration in status")?;
        assert!(
            latency.value.is_some_and(|v| (290.0..300.0).contains(&v)),
            "p99 from Linkerd's buckets: {latency:?}"
        );
        assert!(
            splits.get_opt("podinfo").await?.is_none(),
            "still no TrafficSplit"
        );
        wait_for_split(&ctx, None, ALL_PRIMARY).await
    })
    .await;
}
