//! Approval gates and manual rollback through `serin loadtester`, as users
//! run them: the Canary's webhooks point at the load tester, and a person
//! (here the test) opens gates with its HTTP API.

use std::time::Duration;

use serde_json::{Value, json};
use serin::api::{Phase, WebhookType};
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::loadtester::Loadtester;
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, with_namespace};

const T: Duration = Duration::from_secs(60);

fn gate(name: &str, kind: &str, url: String) -> Value {
    json!({ "name": name, "type": kind, "url": url, "timeout": "5s" })
}

/// A load tester keeping gates in a ConfigMap, serin, and a Canary whose
/// webhook URLs (paths in `hooks`) point at the load tester.
async fn start(ctx: &TestContext, mut hooks: Value) -> anyhow::Result<(SerinProcess, Loadtester)> {
    let state = format!("{}/gates", ctx.namespace);
    let tester = Loadtester::start(ctx, &["--state-configmap", &state]).await?;
    for hook in hooks.as_array_mut().into_iter().flatten() {
        if let Some(path) = hook["url"].as_str() {
            hook["url"] = json!(format!("{}{path}", tester.base));
        }
    }
    let serin = fixtures::podinfo_with_serin(ctx, "podinfo:1", 1).await?;
    let analysis = json!({ "stepWeight": 25, "maxWeight": 50, "webhooks": hooks });
    fixtures::create_canary(ctx, fixtures::gatewayapi_canary("podinfo", "1s", analysis)).await?;
    Ok((serin, tester))
}

fn who(ctx: &TestContext) -> Value {
    json!({ "name": "podinfo", "namespace": ctx.namespace })
}

#[tokio::test]
async fn gates_hold_the_rollout_until_opened_through_the_load_tester() {
    with_namespace("gates", |ctx| async move {
        let hooks = json!([
            gate("start", "confirm-rollout", "/gate/check".into()),
            gate("ship", "confirm-promotion", "/gate/check".into()),
        ]);
        let (_serin, tester) = start(&ctx, hooks).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;

        // confirm-rollout: the new revision waits, with nothing scaled up or shifted.
        let waiting = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Waiting, T).await?;
        let wait = waiting.status.unwrap_or_default().waiting_for;
        assert_eq!(
            wait.map(|w| (w.type_, w.webhooks)),
            Some((WebhookType::ConfirmRollout, vec!["start".into()]))
        );
        fixtures::holds_for(&ctx, "podinfo", "Waiting to hold", Duration::from_secs(3), |s| {
            s.phase == Phase::Waiting && s.canary_weight == 0
        })
        .await?;

        // One gate opens both: the load tester keys gates by Canary.
        assert_eq!(tester.post("/gate/open", &who(&ctx)).await?.0, 202);
        fixtures::wait_for_status(&ctx, "podinfo", "the analysis to start", T, |s| {
            matches!(
                s.phase,
                Phase::Progressing | Phase::WaitingPromotion | Phase::Promoting | Phase::Succeeded
            )
        })
        .await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;

        // Second rollout with the gate closed again: held in WaitingPromotion at max weight.
        assert_eq!(tester.post("/gate/close", &who(&ctx)).await?.0, 202);
        fixtures::set_image(&ctx, "podinfo", "podinfo:3").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Waiting, T).await?;
        // Let this revision start, then close the gate before promotion.
        assert_eq!(tester.post("/gate/open", &who(&ctx)).await?.0, 202);
        fixtures::wait_for_status(&ctx, "podinfo", "the analysis to start", T, |s| {
            s.phase == Phase::Progressing
        })
        .await?;
        assert_eq!(tester.post("/gate/close", &who(&ctx)).await?.0, 202);
        let held = fixtures::wait_for_phase(&ctx, "podinfo", Phase::WaitingPromotion, T).await?;
        let status = held.status.unwrap_or_default();
        assert_eq!(status.canary_weight, 50);
        assert_eq!(
            status.waiting_for.map(|w| w.type_),
            Some(WebhookType::ConfirmPromotion)
        );
        fixtures::holds_for(
            &ctx,
            "podinfo",
            "WaitingPromotion to hold",
            Duration::from_secs(3),
            |s| s.phase == Phase::WaitingPromotion,
        )
        .await?;
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((50, 50)));

        assert_eq!(tester.post("/gate/open", &who(&ctx)).await?.0, 202);
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let status = done.status.unwrap_or_default();
        assert_eq!(status.last_promoted_spec, status.last_applied_spec);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        // The event recorder folds events of one reason into one series, so once is all it shows.
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(reasons.iter().any(|r| r == "GateOpened"), "{reasons:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn opening_the_rollback_gate_mid_analysis_rolls_back() {
    with_namespace("gates-rollback", |ctx| async move {
        let hooks = json!([gate("abort", "rollback", "/rollback/check".into())]);
        let (_serin, tester) = start(&ctx, hooks).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        // stepWeight 25 to 50 would finish in a few seconds; slow it down with more steps.
        let canaries = ctx.api::<serin::api::Canary>();
        let patch = json!({ "spec": { "analysis": { "stepWeight": 5, "maxWeight": 95 } } });
        canaries
            .patch("podinfo", &Default::default(), &kube::api::Patch::Merge(&patch))
            .await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 10", T, |s| s.canary_weight >= 10).await?;

        assert_eq!(tester.post("/rollback/open", &who(&ctx)).await?.0, 202);
        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let status = failed.status.unwrap_or_default();
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("rollback requested by webhook abort"),
            "{message}"
        );
        assert!(status.canary_weight == 0 && status.last_promoted_spec != status.last_applied_spec);
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        Ok(())
    })
    .await;
}
