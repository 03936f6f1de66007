//! Rollouts that cannot succeed: a canary that never becomes ready, and a
//! Canary whose target does not exist yet.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{crds, with_namespace};

#[tokio::test]
async fn a_canary_that_never_becomes_ready_rolls_back_after_the_progress_deadline() {
    with_namespace("deadline", |ctx| async move {
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:6.0.0", 1).await?;
        let deployments: Api<Deployment> = ctx.api();
        let mut canary =
            fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 20, "maxWeight": 60 }));
        canary["spec"]["progressDeadlineSeconds"] = json!(5);
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, Duration::from_secs(60)).await?;

        // The new revision's pods carry the label that keeps kwok from making them ready.
        let patch = json!({ "spec": { "template": {
            "metadata": { "labels": { "serin.dev/e2e-unready": "true" } },
            "spec": { "containers": [{ "name": "podinfod", "image": "podinfo:6.0.1-broken" }] }
        } } });
        let bumped = std::time::Instant::now();
        deployments
            .patch("podinfo", &PatchParams::default(), &Patch::Strategic(&patch))
            .await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Progressing, Duration::from_secs(30)).await?;
        let failed =
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, Duration::from_secs(60)).await?;
        let message = failed
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        // A figure for the README, not an assertion: tests do not time things. The
        // deadline counts from the canary's scale-up, a few ms after the bump.
        let late = bumped.elapsed().as_millis() as i64 - 5000;
        eprintln!("reaction: progress deadline passed -> Failed observed at most {late} ms later");
        assert!(message.contains("deadline"), "the status says why: {message:?}");

        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(
            fixtures::image_of(&primary).as_deref(),
            Some("podinfo:6.0.0"),
            "primary unchanged"
        );
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(
            route_weights(&routes.get("podinfo").await?),
            Some((100, 0)),
            "all traffic on the primary"
        );
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(
            reasons.iter().any(|r| r == "RolledBack"),
            "a RolledBack event: {reasons:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_canary_without_its_target_says_so_and_proceeds_once_it_appears() {
    with_namespace("notarget", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        let _serin = SerinProcess::controller(&ctx, &[]).await?;
        fixtures::create_canary(
            &ctx,
            fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 })),
        )
        .await?;

        let waiting = fixtures::wait_for_status(
            &ctx,
            "podinfo",
            "a TargetNotFound condition",
            Duration::from_secs(30),
            |s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "TargetNotFound")
            },
        )
        .await?;
        let condition = waiting
            .status
            .unwrap_or_default()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .expect("Ready condition");
        assert!(
            condition.message.contains("podinfo"),
            "the message names the Deployment: {}",
            condition.message
        );
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(
            reasons.iter().any(|r| r == "TargetNotFound"),
            "a TargetNotFound Warning event: {reasons:?}"
        );

        let deployments: Api<Deployment> = ctx.api();
        deployments
            .create(
                &PostParams::default(),
                &fixtures::deployment("podinfo", "podinfo:6.0.0", 1),
            )
            .await?;
        let ready =
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, Duration::from_secs(60)).await?;
        let status = ready.status.unwrap_or_default();
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            "Ready=True once the target exists: {:?}",
            status.conditions
        );
        Ok(())
    })
    .await;
}
