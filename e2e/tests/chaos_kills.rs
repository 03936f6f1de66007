//! Chaos: serin killed with SIGKILL in every phase of a rollout, including
//! mid-promotion and mid-rollback, and started again. Each run must end in
//! the right terminal phase, promote at most once, and leave no traffic
//! split behind.
//!
//! Phases are made long enough to be hit on purpose: pods of the workload
//! take 3 s to become ready (`serin.dev/e2e-slow`, a kwok stage of
//! e2e/cluster.sh), the confirm gates stay closed until the test opens them,
//! and the post-rollout webhook hangs while the test kills serin in
//! Finalising.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::receiver::{Answer, Receiver};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, crds, with_namespace};

const T: Duration = Duration::from_secs(90);

/// Where serin dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillIn {
    Initializing,
    Waiting,
    Progressing,
    WaitingPromotion,
    /// After the primary got the new template, before it is ready.
    Promoting,
    /// While the post-rollout webhook of the finalising turn is in flight.
    Finalising,
}

fn slow_podinfo() -> Deployment {
    let mut deployment = fixtures::deployment("podinfo", "podinfo:1", 1);
    if let Some(labels) = deployment
        .spec
        .as_mut()
        .and_then(|s| s.template.metadata.as_mut())
        .and_then(|m| m.labels.as_mut())
    {
        labels.insert("serin.dev/e2e-slow".into(), "true".into());
    }
    deployment
}

async fn start_serin(ctx: &TestContext) -> anyhow::Result<SerinProcess> {
    SerinProcess::controller(ctx, &[]).await
}

/// Kills `serin`, checks the Canary is in `phase` as it died, starts a new one.
async fn kill_and_restart(
    ctx: &TestContext,
    serin: SerinProcess,
    phase: Phase,
) -> anyhow::Result<SerinProcess> {
    serin.kill().await?;
    let api: Api<serin::api::Canary> = ctx.api();
    let status = api.get("podinfo").await?.status.unwrap_or_default();
    anyhow::ensure!(
        status.phase == phase,
        "meant to kill serin in {phase:?}, but the Canary was {:?}: {:?}",
        status.phase,
        status.message
    );
    start_serin(ctx).await
}

async fn killed_in(kill_in: KillIn) {
    with_namespace("chaos-kill", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        let receiver = Receiver::start().await?;
        receiver.answer("rollout", Answer::Status(403));
        receiver.answer("promotion", Answer::Status(403));
        let hook = |name: &str, kind: &str, path: &str| {
            json!({ "name": name, "type": kind, "url": receiver.url(path), "timeout": "5s" })
        };
        let analysis = json!({
            "stepWeight": 25, "maxWeight": 50,
            "webhooks": [
                hook("start", "confirm-rollout", "rollout"),
                hook("finish", "confirm-promotion", "promotion"),
                hook("cleanup", "post-rollout", "post"),
            ]
        });
        let deployments: Api<Deployment> = ctx.api();
        deployments.create(&Default::default(), &slow_podinfo()).await?;
        let mut serin = start_serin(&ctx).await?;
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("podinfo", "1s", analysis)).await?;

        if kill_in == KillIn::Initializing {
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initializing, T).await?;
            serin = kill_and_restart(&ctx, serin, Phase::Initializing).await?;
        }
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        let initial_generation = deployments.get("podinfo-primary").await?.metadata.generation;

        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        if kill_in == KillIn::Waiting {
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Waiting, T).await?;
            serin = kill_and_restart(&ctx, serin, Phase::Waiting).await?;
        }
        receiver.answer("rollout", Answer::Status(200));
        if kill_in == KillIn::Progressing {
            fixtures::wait_for_status(&ctx, "podinfo", "weight 25", T, |s| {
                s.phase == Phase::Progressing && s.canary_weight == 25
            })
            .await?;
            serin = kill_and_restart(&ctx, serin, Phase::Progressing).await?;
        }
        if kill_in == KillIn::WaitingPromotion {
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::WaitingPromotion, T).await?;
            serin = kill_and_restart(&ctx, serin, Phase::WaitingPromotion).await?;
        }
        if kill_in == KillIn::Finalising {
            receiver.answer("post", Answer::Hang);
        }
        receiver.answer("promotion", Answer::Status(200));
        if kill_in == KillIn::Promoting {
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Promoting, T).await?;
            serin_e2e::wait::poll_until(
                "the primary to get the new template",
                T,
                Duration::from_millis(50),
                || async {
                    let primary = deployments.get("podinfo-primary").await?;
                    Ok((fixtures::image_of(&primary).as_deref() == Some("podinfo:2")).then_some(()))
                },
            )
            .await?;
            serin = kill_and_restart(&ctx, serin, Phase::Promoting).await?;
        }
        if kill_in == KillIn::Finalising {
            fixtures::wait_for_phase(&ctx, "podinfo", Phase::Finalising, T).await?;
            serin_e2e::wait::poll_until(
                "the post-rollout call",
                T,
                Duration::from_millis(50),
                || async { Ok((!receiver.received("post").is_empty()).then_some(())) },
            )
            .await?;
            receiver.answer("post", Answer::Status(200));
            serin = kill_and_restart(&ctx, serin, Phase::Finalising).await?;
        }

        let done = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        drop(serin);
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
        assert_eq!(
            primary.metadata.generation,
            initial_generation.map(|g| g + 1),
            "{kill_in:?}: the primary's pod template changed exactly once"
        );
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        let promotions = reasons.iter().filter(|r| r.as_str() == "Promoting").count();
        assert_eq!(promotions, 1, "{kill_in:?}: one promotion: {reasons:?}");
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(
            route_weights(&routes.get("podinfo").await?),
            Some((100, 0)),
            "{kill_in:?}: all traffic on the primary"
        );
        let canary = deployments.get("podinfo").await?;
        assert_eq!(fixtures::replicas_of(&canary), Some(0), "{kill_in:?}: canary scaled down");
        let status = done.status.unwrap_or_default();
        assert_eq!(status.last_promoted_spec, status.last_applied_spec);
        assert!(
            !receiver.received("post").is_empty(),
            "{kill_in:?}: post-rollout ran at least once"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn killed_while_initializing() {
    killed_in(KillIn::Initializing).await;
}

#[tokio::test]
async fn killed_while_waiting_for_the_rollout_gate() {
    killed_in(KillIn::Waiting).await;
}

#[tokio::test]
async fn killed_mid_analysis() {
    killed_in(KillIn::Progressing).await;
}

#[tokio::test]
async fn killed_while_waiting_for_the_promotion_gate() {
    killed_in(KillIn::WaitingPromotion).await;
}

#[tokio::test]
async fn killed_mid_promotion() {
    killed_in(KillIn::Promoting).await;
}

#[tokio::test]
async fn killed_while_finalising() {
    killed_in(KillIn::Finalising).await;
}

/// Killed after the first of two failed checks: the restarted serin counts
/// on from the status and rolls back, leaving the primary untouched.
#[tokio::test]
async fn killed_mid_rollback_count() {
    with_namespace("chaos-fail", |ctx| async move {
        let receiver = Receiver::start().await?;
        receiver.answer("pre", Answer::Status(500));
        let analysis = json!({
            "stepWeight": 25, "maxWeight": 50, "threshold": 2,
            "webhooks": [{ "name": "acceptance", "type": "pre-rollout", "url": receiver.url("pre"), "timeout": "5s" }]
        });
        let serin = fixtures::initialized_podinfo(&ctx, "1s", analysis).await?;
        let deployments: Api<Deployment> = ctx.api();
        let initial_generation = deployments.get("podinfo-primary").await?.metadata.generation;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "one failed check", T, |s| s.failed_checks == 1).await?;
        let serin = kill_and_restart(&ctx, serin, Phase::Progressing).await?;

        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        drop(serin);
        let message = failed.status.and_then(|s| s.message).unwrap_or_default();
        assert!(message.contains("failed checks threshold reached 2/2"), "{message}");
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:1"));
        assert_eq!(primary.metadata.generation, initial_generation, "the primary was not touched");
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        assert_eq!(fixtures::replicas_of(&deployments.get("podinfo").await?), Some(0));
        Ok(())
    })
    .await;
}
