//! Each step judged from a real Prometheus scraping simulated traffic:
//! healthy canaries promote, bad ones roll back with the reason in status,
//! and traffic gates hold until there is something to judge.

use std::time::Duration;

use serde_json::{Value, json};
use serin::api::{MetricCheck, Phase, Verdict};
use serin_e2e::simulator::{self, Behaviour, SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, wait, with_namespace};

const T: Duration = Duration::from_secs(120);

fn builtin_metrics(extra: Value) -> Value {
    let mut success =
        json!({ "name": "request-success-rate", "interval": "10s", "thresholdRange": { "min": 99 } });
    let mut duration =
        json!({ "name": "request-duration", "interval": "10s", "thresholdRange": { "max": 500 } });
    if let Some(extra) = extra.as_object() {
        for metric in [&mut success, &mut duration] {
            if let Some(m) = metric.as_object_mut() {
                m.extend(extra.clone());
            }
        }
    }
    json!([success, duration])
}

/// A gatewayapi Canary judged by the builtin metrics, a simulator sending it
/// traffic (routed, plus a load tester's share straight to the canary), and
/// the Canary initialized.
async fn start(
    ctx: &TestContext,
    metrics: Value,
    threshold: i32,
) -> anyhow::Result<(Simulator, serin_e2e::serin::SerinProcess)> {
    let traffic = SimConfig {
        canary_direct_rps: 10.0,
        ..SimConfig::default()
    };
    start_with(ctx, metrics, threshold, traffic).await
}

async fn start_with(
    ctx: &TestContext,
    metrics: Value,
    threshold: i32,
    traffic: SimConfig,
) -> anyhow::Result<(Simulator, serin_e2e::serin::SerinProcess)> {
    let analysis = json!({ "stepWeight": 50, "maxWeight": 50, "threshold": threshold, "metrics": metrics });
    start_analysis(ctx, analysis, traffic).await
}

async fn start_analysis(
    ctx: &TestContext,
    analysis: Value,
    traffic: SimConfig,
) -> anyhow::Result<(Simulator, serin_e2e::serin::SerinProcess)> {
    let serin = fixtures::podinfo_with_serin(ctx, "podinfo:1", 1).await?;
    let prometheus = serin_e2e::env::prometheus_url();
    let mut canary = fixtures::gatewayapi_canary("podinfo", "2s", analysis);
    canary["spec"]["metricsServer"] = json!(prometheus);
    fixtures::create_canary(ctx, canary).await?;
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    fixtures::wait_for_no_pods(ctx, "podinfo", T).await?;
    let sim = Simulator::start(ctx, "podinfo", traffic).await?;
    Ok((sim, serin))
}

fn check<'a>(checks: &'a [MetricCheck], name: &str) -> &'a MetricCheck {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in status.lastAnalysis: {checks:?}"))
}

#[tokio::test]
async fn a_healthy_canary_promotes_on_the_builtin_metrics() {
    with_namespace("analysis-ok", |ctx| async move {
        // minRequests keeps the first steps from judging a canary that has not been reached yet.
        let (_sim, serin) = start(&ctx, builtin_metrics(json!({ "minRequests": 20 })), 2).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let metrics = serin.get_ops("/metrics").await?.text().await?;
        let exported = metrics.lines().find(|l| {
            l.starts_with("flagger_canary_metric_analysis{") && l.contains("metric=\"request-success-rate\"")
        });
        assert!(exported.is_some(), "/metrics carries the metric's value");
        let events = fixtures::events(&ctx, "podinfo").await?;
        assert!(
            events
                .iter()
                .any(|(reason, note)| reason == "Advanced" && note.contains("request-success-rate")),
            "a judged step's event carries the metric values: {events:?}"
        );
        let status = done.status.unwrap_or_default();
        assert_eq!(status.failed_checks, 0, "no failed check for a healthy canary");
        let success = check(&status.last_analysis, "request-success-rate");
        assert_eq!(success.verdict, Verdict::Pass, "{success:?}");
        assert!(success.value.is_some_and(|v| v >= 99.0), "{success:?}");
        assert_eq!(success.min, Some(99.0));
        let latency = check(&status.last_analysis, "request-duration");
        assert_eq!(latency.verdict, Verdict::Pass, "{latency:?}");
        assert!(
            latency.value.is_some_and(|v| v > 0.0 && v < 500.0),
            "p99 in ms: {latency:?}"
        );
        Ok(())
    })
    .await;
}

/// The canary is judged on the traffic the HTTPRoute sends it: no load
/// tester, so nothing reaches it at weight 0, where no data passes the first
/// step (as Flagger skips the checks there) and the weight leaves 0.
#[tokio::test]
async fn a_canary_with_ten_percent_errors_rolls_back_and_says_why() {
    with_namespace("analysis-errors", |ctx| async move {
        let analysis = json!({
            "stepWeight": 20,
            "maxWeight": 80,
            "threshold": 2,
            "metrics": builtin_metrics(json!({ "noData": "pass" }))
        });
        let routed_only = SimConfig {
            rps: 40.0,
            canary_direct_rps: 0.0,
            ..SimConfig::default()
        };
        let (sim, _serin) = start_analysis(&ctx, analysis, routed_only).await?;
        // No data passes a step: Prometheus must be reading the simulator
        // before the release, and four steps to the maximum leave the
        // canary's fresh series time to answer before promotion could come.
        sim.wait_until_scraped(T).await?;
        // The release itself is bad: its pods fail 10% of requests.
        simulator::annotate_behaviour(
            &ctx,
            "podinfo",
            Behaviour {
                error_rate: 0.1,
                latency_ms: 50.0,
            },
        )
        .await?;
        let seen = fixtures::splits_until(&ctx, "podinfo", Phase::Failed, T).await?;
        let max_canary = seen.iter().map(|s| s.1).max().unwrap_or(0);
        assert!(
            max_canary > 0,
            "judged with traffic routed to the canary; splits seen: {seen:?}"
        );
        let failed = ctx.api::<serin::api::Canary>().get("podinfo").await?;
        let status = failed.status.unwrap_or_default();
        assert_eq!(status.failed_checks, 2, "rolled back at the threshold");
        let success = check(&status.last_analysis, "request-success-rate");
        assert_eq!(success.verdict, Verdict::Fail);
        assert!(
            success.value.is_some_and(|v| (85.0..95.0).contains(&v)),
            "about 90%: {success:?}"
        );
        assert_eq!(success.min, Some(99.0));
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("request-success-rate"),
            "the status names the metric: {message}"
        );
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        let all_primary = wait::poll_until(
            "the HTTPRoute all primary",
            T,
            Duration::from_millis(200),
            || async {
                let weights = fixtures::route_weights(&routes.get("podinfo").await?);
                Ok((weights == Some((100, 0))).then_some(weights))
            },
        )
        .await?;
        assert_eq!(all_primary, Some((100, 0)), "all traffic back on the primary");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_slow_canary_rolls_back_on_latency() {
    with_namespace("analysis-slow", |ctx| async move {
        let (_sim, _serin) = start(&ctx, builtin_metrics(json!({ "minRequests": 20 })), 2).await?;
        simulator::annotate_behaviour(
            &ctx,
            "podinfo",
            Behaviour {
                error_rate: 0.0,
                latency_ms: 900.0,
            },
        )
        .await?;
        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let status = failed.status.unwrap_or_default();
        let latency = check(&status.last_analysis, "request-duration");
        assert_eq!(latency.verdict, Verdict::Fail);
        assert!(
            latency.value.is_some_and(|v| v > 500.0),
            "p99 above the maximum: {latency:?}"
        );
        assert_eq!(latency.max, Some(500.0));
        assert!(
            latency.message.contains("request-duration"),
            "{}",
            latency.message
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn with_no_traffic_hold_waits_and_the_gate_opens_when_traffic_arrives() {
    with_namespace("analysis-nodata", |ctx| async move {
        let silent = SimConfig {
            rps: 0.0,
            canary_direct_rps: 0.0,
            ..SimConfig::default()
        };
        let metrics = builtin_metrics(json!({ "noData": "hold", "minRequests": 20 }));
        let (sim, _serin) = start_with(&ctx, metrics, 1, silent).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        // Nothing to judge at 0% (no routed traffic yet) does not hold the
        // first increase; at 50% it does.
        fixtures::wait_for_status(&ctx, "podinfo", "a held step at 50%", T, |s| {
            s.canary_weight == 50 && s.last_analysis.iter().any(|c| c.verdict == Verdict::Hold)
        })
        .await?;
        // Several intervals with nothing to judge: no failed check, no advance.
        fixtures::holds_for(&ctx, "podinfo", "a held rollout", Duration::from_secs(6), |s| {
            s.phase == Phase::Progressing && s.failed_checks == 0 && s.canary_weight == 50
        })
        .await?;
        sim.set_rate(20.0);
        sim.set_canary_direct_rps(10.0);
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        assert_eq!(done.status.unwrap_or_default().failed_checks, 0);
        Ok(())
    })
    .await;
}

/// With no traffic at all: `fail` counts failed checks up to a rollback,
/// `pass` lets the canary through.
#[tokio::test]
async fn with_no_traffic_fail_rolls_back_and_pass_promotes() {
    for (policy, outcome) in [("fail", Phase::Failed), ("pass", Phase::Succeeded)] {
        let ns = format!("nodata-{policy}");
        with_namespace(&ns, |ctx| async move {
            let silent = SimConfig {
                rps: 0.0,
                canary_direct_rps: 0.0,
                ..SimConfig::default()
            };
            let metrics = builtin_metrics(json!({ "noData": policy }));
            let (_sim, _serin) = start_with(&ctx, metrics, 2, silent).await?;
            fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
            let done = fixtures::wait_for_phase(&ctx, "podinfo", outcome, T).await?;
            let status = done.status.unwrap_or_default();
            let success = check(&status.last_analysis, "request-success-rate");
            let expected = if policy == "fail" {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            assert_eq!(success.verdict, expected, "noData: {policy}: {success:?}");
            assert!(success.value.is_none(), "no value without traffic: {success:?}");
            assert!(success.message.contains("no data"), "{}", success.message);
            Ok(())
        })
        .await;
    }
}

/// The usual production setup, no load tester: the canary gets only the
/// traffic the route gives it. With `minRequests`, the first step (0%) has
/// nothing to judge and must not hold there for ever; at 50% the routed
/// requests are judged and the canary promotes without a failed check.
#[tokio::test]
async fn routed_traffic_alone_with_min_requests_promotes() {
    with_namespace("analysis-routed", |ctx| async move {
        let routed_only = SimConfig {
            rps: 40.0,
            canary_direct_rps: 0.0,
            ..SimConfig::default()
        };
        let metrics = builtin_metrics(json!({ "minRequests": 10 }));
        let (sim, _serin) = start_with(&ctx, metrics, 1, routed_only).await?;
        sim.wait_until_scraped(T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let status = done.status.unwrap_or_default();
        assert_eq!(status.failed_checks, 0);
        let success = check(&status.last_analysis, "request-success-rate");
        assert_eq!(
            success.verdict,
            Verdict::Pass,
            "judged on routed requests: {success:?}"
        );
        assert!(success.value.is_some(), "{success:?}");
        Ok(())
    })
    .await;
}
