//! Notifications on the real control plane: AlertProviders of every type
//! post to a loopback receiver through a successful rollout (with a
//! promotion gate that waits) and a rolled-back one; each alert hears only
//! the severities it admits, and a missing AlertProvider becomes an event.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::{Value, json};
use serin::api::{AlertProvider, Phase};
use serin_e2e::fixtures;
use serin_e2e::receiver::{Answer, Receiver};
use serin_e2e::{TestContext, wait, with_namespace};

const T: Duration = Duration::from_secs(60);
const INIT: &str = "New Deployment detected, initialization completed.";
const NEW_REVISION: &str = "New revision detected, progressing canary analysis.";
const WAITING: &str = "Canary promotion is waiting for approval.";
const PROMOTED: &str = "Canary analysis completed successfully, promotion finished.";
const ROLLED_BACK: &str = "Canary analysis failed: rolled back revision";
const ROLLBACK_REASON: &str =
    "failed checks threshold reached 1/1: pre-rollout webhook acceptance failed: HTTP 500";

/// Reads the message out of one provider type's payload.
type Reader = fn(&Value) -> Option<String>;

async fn provider(ctx: &TestContext, name: &str, spec: Value) -> anyhow::Result<()> {
    let body = json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "AlertProvider",
        "metadata": { "name": name },
        "spec": spec,
    });
    let api: Api<AlertProvider> = ctx.api();
    api.create(&Default::default(), &serde_json::from_value(body)?)
        .await?;
    Ok(())
}

fn alert(name: &str, severity: &str, provider: &str) -> Value {
    json!({ "name": name, "severity": severity, "providerRef": { "name": provider } })
}

/// Waits until `path` has received a body whose message (read by `text`) contains `wanted`.
async fn wait_for_message(
    receiver: &Receiver,
    path: &str,
    wanted: &str,
    text: Reader,
) -> anyhow::Result<Vec<Value>> {
    let what = format!("{path} to receive {wanted:?}");
    wait::poll_until(&what, T, Duration::from_millis(200), || {
        let bodies = receiver.received(path);
        async move {
            let found = bodies.iter().any(|b| text(b).is_some_and(|t| t.contains(wanted)));
            Ok(found.then_some(bodies))
        }
    })
    .await
}

fn slack_text(body: &Value) -> Option<String> {
    body["attachments"][0]["text"].as_str().map(String::from)
}
fn teams_text(body: &Value) -> Option<String> {
    body["attachments"][0]["content"]["body"][1]["text"]
        .as_str()
        .map(String::from)
}
fn discord_text(body: &Value) -> Option<String> {
    body["embeds"][0]["description"].as_str().map(String::from)
}
fn gchat_text(body: &Value) -> Option<String> {
    body["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"]
        .as_str()
        .map(String::from)
}
fn rocket_text(body: &Value) -> Option<String> {
    body["attachments"][0]["text"].as_str().map(String::from)
}
fn webhook_text(body: &Value) -> Option<String> {
    body["message"].as_str().map(String::from)
}

/// The messages `bodies` carry, in order, each reduced to the first of `known` it contains.
fn sequence(bodies: &[Value], text: Reader) -> Vec<&'static str> {
    let known = [INIT, NEW_REVISION, WAITING, PROMOTED, ROLLED_BACK];
    bodies
        .iter()
        .filter_map(text)
        .filter_map(|t| known.into_iter().find(|k| t.contains(k)))
        .collect()
}

#[tokio::test]
async fn every_provider_hears_its_severities_through_a_rollout_and_a_rollback() {
    with_namespace("notify", |ctx| async move {
        let receiver = Receiver::start().await?;
        receiver.answer("gate", Answer::Status(403));
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;

        for type_ in ["slack", "msteams", "discord", "gchat", "rocket"] {
            let spec = json!({ "type": type_, "address": receiver.url(type_), "channel": "deploys", "username": "bot" });
            provider(&ctx, type_, spec).await?;
        }
        let secrets: Api<Secret> = ctx.api();
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "hook" },
            "stringData": { "address": receiver.url("webhook"), "token": "s3cret\n" },
        });
        secrets
            .create(&Default::default(), &serde_json::from_value(secret)?)
            .await?;
        provider(&ctx, "webhook", json!({ "type": "webhook", "secretRef": { "name": "hook" } })).await?;

        let mut gchat = alert("chat", "info", "gchat");
        gchat["providerRef"]["namespace"] = json!(ctx.namespace);
        let analysis = json!({
            "stepWeight": 50, "maxWeight": 50, "threshold": 1,
            "webhooks": [
                { "name": "acceptance", "type": "pre-rollout", "url": receiver.url("pre"), "timeout": "5s" },
                { "name": "ship-it", "type": "confirm-promotion", "url": receiver.url("gate"), "timeout": "5s" },
            ],
            "alerts": [
                alert("team", "info", "slack"),
                alert("teams", "info", "msteams"),
                alert("oncall", "warn", "discord"),
                gchat,
                alert("rocket", "info", "rocket"),
                alert("pager", "error", "webhook"),
                alert("ghost", "error", "missing"),
            ]
        });
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("podinfo", "1s", analysis)).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        wait_for_message(&receiver, "slack", INIT, slack_text).await?;

        // A rollout held at its promotion gate, then let through.
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        wait_for_message(&receiver, "discord", WAITING, discord_text).await?;
        receiver.answer("gate", Answer::Status(200));
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        wait_for_message(&receiver, "slack", PROMOTED, slack_text).await?;

        // A rollout whose pre-rollout check fails: rolled back at the first failure.
        receiver.answer("pre", Answer::Status(500));
        fixtures::set_image(&ctx, "podinfo", "podinfo:3").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let wanted = ROLLBACK_REASON;
        let readers: [(&str, Reader); 6] = [
            ("slack", slack_text),
            ("msteams", teams_text),
            ("discord", discord_text),
            ("gchat", gchat_text),
            ("rocket", rocket_text),
            ("webhook", webhook_text),
        ];
        for (path, text) in readers {
            wait_for_message(&receiver, path, wanted, text).await?;
        }

        // Info alerts hear everything, in order; warn hears the wait and the rollback; error only the rollback.
        let everything = [INIT, NEW_REVISION, WAITING, PROMOTED, NEW_REVISION, ROLLED_BACK];
        for (path, text) in [
            ("slack", slack_text as Reader),
            ("msteams", teams_text),
            ("gchat", gchat_text),
            ("rocket", rocket_text),
        ] {
            assert_eq!(sequence(&receiver.received(path), text), everything, "{path}");
        }
        assert_eq!(
            sequence(&receiver.received("discord"), discord_text),
            [WAITING, ROLLED_BACK]
        );
        let pager = receiver.received("webhook");
        assert_eq!(sequence(&pager, webhook_text), [ROLLED_BACK], "{pager:?}");

        // Shapes per type.
        let title = format!("podinfo.{}", ctx.namespace);
        let slack = receiver.received("slack");
        assert_eq!((&slack[0]["channel"], &slack[0]["username"]), (&json!("deploys"), &json!("bot")));
        assert_eq!(slack[0]["attachments"][0]["color"], "good");
        assert_eq!(slack[0]["attachments"][0]["author_name"], title.as_str());
        let fields = &slack[1]["attachments"][0]["fields"];
        let field = |i: usize| (fields[i]["title"].clone(), fields[i]["value"].clone());
        assert_eq!(field(0), (json!("Target"), json!(format!("Deployment/podinfo.{}", ctx.namespace))));
        assert_eq!(field(1), (json!("Failed checks threshold"), json!("1")));
        assert_eq!(field(2), (json!("Progress deadline"), json!("60s")));
        assert_eq!(field(3), (json!("Traffic routing"), json!("gatewayapi:v1, weights 50%")));
        assert_eq!(slack[2]["attachments"][0]["color"], "warning");
        assert_eq!(slack.last().map(|b| b["attachments"][0]["color"].clone()), Some(json!("danger")));

        let teams = receiver.received("msteams");
        let card = &teams[0]["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][0]["text"], title.as_str());

        let discord = receiver.received("discord");
        assert_eq!(discord[0]["username"], "bot");
        assert_eq!(discord[0]["embeds"][0]["title"], title.as_str());
        assert_eq!(discord[1]["embeds"][0]["color"], 0xa30200);

        let gchat = receiver.received("gchat");
        assert_eq!(gchat[0]["cardsV2"][0]["card"]["header"]["title"], title.as_str());
        assert_eq!(gchat[0]["cardsV2"][0]["card"]["header"]["subtitle"], "info");

        let rocket = receiver.received("rocket");
        assert_eq!((&rocket[0]["alias"], &rocket[0]["channel"]), (&json!("bot"), &json!("#deploys")));

        assert_eq!(pager[0]["name"], "podinfo");
        assert_eq!(pager[0]["namespace"], ctx.namespace.as_str());
        assert_eq!(pager[0]["severity"], "error");
        assert!(pager[0]["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(receiver.authorizations("webhook"), [Some("Bearer s3cret".to_string())]);
        assert_eq!(receiver.authorizations("slack")[0], None);

        // The alert whose AlertProvider does not exist is reported, not silently dropped.
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(reasons.iter().any(|r| r == "AlertFailed"), "{reasons:?}");
        Ok(())
    })
    .await;
}

/// A rollback decided by a metric carries the values behind it: the
/// generic webhook's `fields` hold each check of the last analysis.
#[tokio::test]
async fn a_metric_rollback_alert_carries_the_values_behind_it() {
    with_namespace("notify-metrics", |ctx| async move {
        let receiver = Receiver::start().await?;
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        provider(
            &ctx,
            "pager",
            json!({ "type": "webhook", "address": receiver.url("pager") }),
        )
        .await?;
        let analysis = json!({
            "stepWeight": 50, "maxWeight": 50, "threshold": 1,
            // Prometheus answers 42 whatever the traffic: below the floor of 99.
            "metrics": [{ "name": "success-rate", "query": "vector(42)", "thresholdRange": { "min": 99 } }],
            "alerts": [alert("pager", "error", "pager")],
        });
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", analysis);
        canary["spec"]["metricsServer"] = json!(serin_e2e::env::prometheus_url());
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;

        let bodies = wait_for_message(&receiver, "pager", ROLLED_BACK, webhook_text).await?;
        let rollback = bodies
            .iter()
            .find(|b| webhook_text(b).is_some_and(|t| t.contains(ROLLED_BACK)))
            .ok_or_else(|| anyhow::anyhow!("no rollback message: {bodies:?}"))?;
        let message = webhook_text(rollback).unwrap_or_default();
        assert!(
            message.contains("success-rate"),
            "the reason names the metric: {message}"
        );
        let check = rollback["fields"]["success-rate"].as_str().unwrap_or_default();
        assert!(
            check.starts_with("42") && check.contains("99") && check.to_lowercase().contains("fail"),
            "the check's value, range and verdict: {check:?} in {rollback}"
        );
        Ok(())
    })
    .await;
}
