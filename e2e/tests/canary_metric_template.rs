//! A MetricTemplate with templateVariables, read through a metrics server
//! that demands a bearer token from a Secret; and that server going away
//! mid-analysis, then coming back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::json;
use serin::api::{Phase, Verdict};
use serin_e2e::prometheus::AuthProxy;
use serin_e2e::simulator::{SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, with_namespace};

const T: Duration = Duration::from_secs(120);
const TOKEN: &str = "s3cr3t-token";

/// Flagger-style template: the app-level success rate, with the status
/// codes that count as errors passed in as a variable.
const QUERY: &str = r#"
  sum(rate(http_request_duration_seconds_count{kubernetes_namespace="{{ namespace }}",
      kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"{{ variables.errors }}"}[{{ interval }}]))
  /
  sum(rate(http_request_duration_seconds_count{kubernetes_namespace="{{ namespace }}",
      kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[{{ interval }}])) * 100"#;

async fn setup(ctx: &TestContext, proxy: &AuthProxy, analysis: serde_json::Value) -> anyhow::Result<()> {
    let secrets: Api<Secret> = ctx.api();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("prom-auth".into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("token".to_string(), format!("{TOKEN}\n"))].into()),
        ..Secret::default()
    };
    secrets.create(&PostParams::default(), &secret).await?;
    let templates: Api<serin::api::MetricTemplate> = ctx.api();
    let template: serin::api::MetricTemplate = serde_json::from_value(json!({
        "apiVersion": "serin.dev/v1beta1", "kind": "MetricTemplate",
        "metadata": { "name": "success-rate" },
        "spec": {
            "provider": { "type": "prometheus", "address": proxy.url(), "secretRef": { "name": "prom-auth" } },
            "query": QUERY
        }
    }))?;
    templates.create(&PostParams::default(), &template).await?;
    fixtures::create_canary(ctx, fixtures::gatewayapi_canary("podinfo", "2s", analysis)).await?;
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    Ok(())
}

fn template_metric() -> serde_json::Value {
    json!({ "name": "app-success-rate", "interval": "10s", "minRequests": 20,
            "templateRef": { "name": "success-rate" },
            "templateVariables": { "errors": "5.*" },
            "thresholdRange": { "min": 99 } })
}

#[tokio::test]
async fn a_metric_template_with_variables_and_a_bearer_token_judges_the_canary() {
    with_namespace("template", |ctx| async move {
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let proxy = AuthProxy::start(TOKEN).await?;
        let refused = reqwest::get(format!("{}/api/v1/query?query=up", proxy.url())).await?;
        assert_eq!(
            refused.status().as_u16(),
            401,
            "the proxy refuses requests without the token"
        );
        let _sim = Simulator::start(
            &ctx,
            "podinfo",
            SimConfig {
                canary_direct_rps: 10.0,
                ..SimConfig::default()
            },
        )
        .await?;
        setup(
            &ctx,
            &proxy,
            json!({ "stepWeight": 50, "maxWeight": 50, "metrics": [template_metric()] }),
        )
        .await?;

        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let status = done.status.unwrap_or_default();
        let check = status
            .last_analysis
            .iter()
            .find(|c| c.name == "app-success-rate")
            .expect("the metric in status");
        assert_eq!(check.verdict, Verdict::Pass, "{check:?}");
        assert!(check.value.is_some_and(|v| v >= 99.0), "{check:?}");
        assert!(
            proxy.authorized.load(Ordering::Relaxed) > 0,
            "serin sent the Secret's token"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_metrics_server_that_goes_away_fails_checks_and_the_analysis_resumes_when_it_returns() {
    with_namespace("prom-outage", |ctx| async move {
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let mut proxy = AuthProxy::start(TOKEN).await?;
        let _sim = Simulator::start(
            &ctx,
            "podinfo",
            SimConfig {
                canary_direct_rps: 10.0,
                ..SimConfig::default()
            },
        )
        .await?;
        let analysis =
            json!({ "stepWeight": 20, "maxWeight": 80, "threshold": 4, "metrics": [template_metric()] });
        setup(&ctx, &proxy, analysis).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "a passing step at weight 20", T, |s| {
            s.canary_weight >= 20
        })
        .await?;

        proxy.stop();
        let failing = fixtures::wait_for_status(
            &ctx,
            "podinfo",
            "a failed check while the server is away",
            T,
            |s| s.failed_checks >= 1,
        )
        .await?;
        let status = failing.status.unwrap_or_default();
        assert_eq!(
            status.phase,
            Phase::Progressing,
            "never promoted while the metrics server is away"
        );
        let check = status
            .last_analysis
            .iter()
            .find(|c| c.name == "app-success-rate")
            .expect("the metric in status");
        assert_eq!(check.verdict, Verdict::Fail);
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(
            reasons.iter().any(|r| r == "CheckFailed"),
            "a Warning event for the failed check: {reasons:?}"
        );

        proxy.restart().await?;
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let status = done.status.unwrap_or_default();
        assert!(
            status.failed_checks < 4,
            "the analysis resumed before the threshold: {}",
            status.failed_checks
        );
        Ok(())
    })
    .await;
}
