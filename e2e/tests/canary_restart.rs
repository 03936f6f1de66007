//! serin killed with SIGKILL mid-rollout and started again finishes the
//! rollout from the Canary status, promoting exactly once.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures;
use serin_e2e::serin::SerinProcess;
use serin_e2e::with_namespace;

const T: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_killed_controller_resumes_and_promotes_exactly_once() {
    with_namespace("restart", |ctx| async move {
        let first = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let deployments: Api<Deployment> = ctx.api();
        fixtures::create_canary(
            &ctx,
            fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 20, "maxWeight": 80 })),
        )
        .await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        let primary_generation = deployments.get("podinfo-primary").await?.metadata.generation;

        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 40", T, |s| s.canary_weight >= 40).await?;
        first.kill().await?;
        let second = SerinProcess::controller(&ctx, &[]).await?;
        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        drop(second);

        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
        assert_eq!(
            primary.metadata.generation,
            primary_generation.map(|g| g + 1),
            "the primary's pod template changed exactly once"
        );
        let status = done.status.unwrap_or_default();
        assert_eq!(status.last_promoted_spec, status.last_applied_spec);
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        let promotions = reasons.iter().filter(|r| r.as_str() == "Promoting").count();
        assert_eq!(promotions, 1, "one promotion event: {reasons:?}");
        Ok(())
    })
    .await;
}
