//! Metrics servers and webhooks that answer badly, on the real control
//! plane: a Prometheus that trickles its body forever or sends binary junk
//! fails only its own Canary's checks, with a readable message, while another
//! Canary in the same serin keeps stepping on time and promotes; a webhook's
//! junk body passes on 200 (Flagger's rule) and fails, described, on 500.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};
use serin::api::{Canary, MetricTemplate, Phase, Verdict};
use serin_e2e::{TestContext, env, fixtures, with_namespace};

const T: Duration = Duration::from_secs(90);
/// Binary junk with a NUL, invalid UTF-8 and a terminal escape.
const JUNK: &[u8] = b"\x00\x1b[2J\xff\xfe\xde\xad\xbe\xef junk";

/// One loopback server for every bad behaviour, by path prefix.
async fn misbehaving_server() -> anyhow::Result<String> {
    let trickle = || async {
        // Headers at once, then a byte every 200 ms, forever.
        let stream = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
        });
        Response::new(Body::from_stream(stream))
    };
    let app = Router::new()
        .route("/trickle/api/v1/query", get(trickle))
        .route(
            "/junk/api/v1/query",
            get(|| async { (StatusCode::OK, JUNK).into_response() }),
        )
        .route(
            "/hook/junk-200",
            post(|| async { (StatusCode::OK, JUNK).into_response() }),
        )
        .route(
            "/hook/junk-500",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, JUNK).into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

async fn template(ctx: &TestContext, name: &str, address: &str, query: &str) -> anyhow::Result<()> {
    let template: MetricTemplate = serde_json::from_value(json!({
        "apiVersion": "serin.dev/v1beta1", "kind": "MetricTemplate",
        "metadata": { "name": name },
        "spec": { "provider": { "type": "prometheus", "address": address, "timeout": "2s" }, "query": query }
    }))?;
    ctx.api::<MetricTemplate>()
        .create(&Default::default(), &template)
        .await?;
    Ok(())
}

fn metric(template: &str) -> Value {
    json!({ "name": "errors", "templateRef": { "name": template }, "thresholdRange": { "max": 1 } })
}

async fn deployment(ctx: &TestContext, name: &str) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = ctx.api();
    deployments
        .create(&Default::default(), &fixtures::deployment(name, "podinfo:1", 1))
        .await?;
    Ok(())
}

/// The message of metric `errors` in the last analysis, once it has failed.
async fn failed_check_message(ctx: &TestContext, name: &str) -> anyhow::Result<String> {
    let failing = fixtures::wait_for_status(ctx, name, "a failed check of metric errors", T, |s| {
        s.failed_checks >= 1
            && s.last_analysis
                .iter()
                .any(|c| c.name == "errors" && c.verdict == Verdict::Fail)
    })
    .await?;
    let status = failing.status.unwrap_or_default();
    Ok(status
        .last_analysis
        .into_iter()
        .find(|c| c.name == "errors")
        .map(|c| c.message)
        .unwrap_or_default())
}

#[tokio::test]
async fn a_trickling_or_junk_metrics_server_fails_only_its_own_canary() {
    with_namespace("bad-prom", |ctx| async move {
        let server = misbehaving_server().await?;
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        for name in ["junk", "other"] {
            deployment(&ctx, name).await?;
        }
        template(&ctx, "trickle", &format!("{server}/trickle"), "sum(up)").await?;
        template(&ctx, "junk", &format!("{server}/junk"), "sum(up)").await?;
        template(&ctx, "real", &env::prometheus_url(), "vector(0)").await?;
        // Many failed checks allowed: the bad canaries stay in analysis all along.
        let held = |template: &str| json!({ "stepWeight": 10, "maxWeight": 50, "threshold": 100, "metrics": [metric(template)] });
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("podinfo", "1s", held("trickle"))).await?;
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("junk", "1s", held("junk"))).await?;
        let fast = json!({ "stepWeight": 10, "maxWeight": 50, "metrics": [metric("real")] });
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("other", "1s", fast)).await?;
        for name in ["podinfo", "junk", "other"] {
            fixtures::wait_for_phase(&ctx, name, Phase::Initialized, T).await?;
        }

        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::set_image(&ctx, "junk", "podinfo:2").await?;
        let trickled = failed_check_message(&ctx, "podinfo").await?;
        assert!(
            trickled.contains("/trickle is unreachable: no answer within 2s"),
            "{trickled}"
        );
        let junk = failed_check_message(&ctx, "junk").await?;
        assert!(
            junk.contains("unreadable response from the metrics server: not a Prometheus API response"),
            "{junk}"
        );
        assert!(!junk.chars().any(char::is_control), "printable: {junk:?}");

        // With both bad canaries failing checks every step, the third steps on time.
        fixtures::set_image(&ctx, "other", "podinfo:2").await?;
        let done = fixtures::wait_for_phase(&ctx, "other", Phase::Succeeded, Duration::from_secs(40)).await?;
        let done = done.status.unwrap_or_default();
        assert_eq!(done.last_promoted_spec, done.last_applied_spec);
        for name in ["podinfo", "junk"] {
            let status = ctx.api::<Canary>().get(name).await?.status.unwrap_or_default();
            assert_eq!(
                (status.phase, status.canary_weight),
                (Phase::Progressing, 0),
                "{name} never advanced on a bad answer"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_webhook_junk_body_passes_on_200_and_fails_described_on_500() {
    with_namespace("bad-hook", |ctx| async move {
        let server = misbehaving_server().await?;
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        deployment(&ctx, "junk").await?;
        let hook = |path: &str| {
            json!({ "stepWeight": 50, "maxWeight": 50, "threshold": 1,
                    "webhooks": [{ "name": "check", "type": "pre-rollout", "url": format!("{server}/hook/{path}"), "timeout": "5s" }] })
        };
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("podinfo", "1s", hook("junk-200"))).await?;
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("junk", "1s", hook("junk-500"))).await?;
        for name in ["podinfo", "junk"] {
            fixtures::wait_for_phase(&ctx, name, Phase::Initialized, T).await?;
            fixtures::set_image(&ctx, name, "podinfo:2").await?;
        }
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let failed = fixtures::wait_for_phase(&ctx, "junk", Phase::Failed, T).await?;
        let message = failed.status.and_then(|s| s.message).unwrap_or_default();
        assert!(
            message.contains(&format!(
                "pre-rollout webhook check failed: HTTP 500: <{} bytes of binary data>",
                JUNK.len()
            )),
            "{message}"
        );
        Ok(())
    })
    .await;
}
