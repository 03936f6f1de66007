//! Operator actions through annotations, mid-rollout: pause and resume,
//! abort, retry, promote.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, with_namespace};

const T: Duration = Duration::from_secs(60);

async fn start(ctx: &TestContext, interval: &str) -> anyhow::Result<SerinProcess> {
    fixtures::initialized_podinfo(ctx, interval, json!({ "stepWeight": 10, "maxWeight": 50 })).await
}

#[tokio::test]
async fn pause_holds_the_weight_and_resume_finishes_the_rollout() {
    with_namespace("pause", |ctx| async move {
        let _serin = start(&ctx, "1s").await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 10", T, |s| s.canary_weight >= 10).await?;
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/pause", Some("true")).await?;
        let paused = fixtures::wait_for_status(&ctx, "podinfo", "a paused message", T, |s| {
            s.message.as_deref().is_some_and(|m| m.contains("paused"))
        })
        .await?;
        let held = paused.status.unwrap_or_default().canary_weight;
        // Three intervals without a step prove the pause holds.
        fixtures::holds_for(
            &ctx,
            "podinfo",
            "the weight to stay put",
            Duration::from_secs(3),
            |s| s.canary_weight == held && s.phase == Phase::Progressing,
        )
        .await?;
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/pause", None).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(
            reasons.iter().any(|r| r == "Paused") && reasons.iter().any(|r| r == "Resumed"),
            "{reasons:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn abort_rolls_back_and_retry_runs_the_same_revision_again() {
    with_namespace("abort", |ctx| async move {
        let _serin = start(&ctx, "1s").await?;
        let deployments: Api<Deployment> = ctx.api();
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 20", T, |s| s.canary_weight >= 20).await?;
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/abort", Some("first")).await?;
        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let failed_revision = failed.status.unwrap_or_default().last_applied_spec;
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(
            fixtures::image_of(&primary).as_deref(),
            Some("podinfo:1"),
            "primary unchanged by abort"
        );

        // Retry: the same revision, with no change to the pod template.
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/retry", Some("again")).await?;
        let succeeded = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        assert_eq!(
            succeeded.status.unwrap_or_default().last_promoted_spec,
            failed_revision
        );
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn promote_finishes_a_slow_rollout_at_once() {
    with_namespace("promote", |ctx| async move {
        // A one-hour interval: only the promote request can finish this rollout within the test.
        let _serin = start(&ctx, "1h").await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "the first step", T, |s| s.canary_weight == 10).await?;
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/promote", Some("now")).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let deployments: Api<Deployment> = ctx.api();
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
        Ok(())
    })
    .await;
}
