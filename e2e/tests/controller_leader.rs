//! Two serin replicas with leader election: only the Lease holder acts, and
//! when it is killed mid-rollout the other takes over within the lease time
//! and finishes the rollout, promoting once.

use std::time::Duration;

use anyhow::Context as _;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, crds, fixtures, wait, with_namespace};

const T: Duration = Duration::from_secs(60);

async fn replica(ctx: &TestContext) -> anyhow::Result<SerinProcess> {
    SerinProcess::controller(
        ctx,
        &["--leader-elect", "--leader-election-namespace", &ctx.namespace],
    )
    .await
}

async fn holder(ctx: &TestContext) -> anyhow::Result<Option<String>> {
    let leases: Api<Lease> = ctx.api();
    Ok(leases
        .get_opt("serin-leader")
        .await?
        .and_then(|l| l.spec?.holder_identity)
        .filter(|h| !h.is_empty()))
}

#[tokio::test]
async fn only_the_leader_acts_and_a_follower_takes_over_when_it_dies() {
    with_namespace("leader", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        let deployments: Api<Deployment> = ctx.api();
        deployments
            .create(
                &PostParams::default(),
                &fixtures::deployment("podinfo", "podinfo:1", 1),
            )
            .await?;
        let replicas = [replica(&ctx).await?, replica(&ctx).await?];
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "iterations": 2 }));
        canary["spec"]["provider"] = json!("kubernetes");
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;

        let leader_identity =
            wait::poll_until("a Lease holder", T, Duration::from_millis(200), || holder(&ctx)).await?;
        let is_leader = |p: &SerinProcess| {
            p.pid()
                .is_some_and(|pid| leader_identity.ends_with(&format!("-{pid}")))
        };
        let [a, b] = replicas;
        let (leader, follower) = if is_leader(&a) { (a, b) } else { (b, a) };
        assert!(
            is_leader(&leader),
            "the Lease holder {leader_identity} is one of the two replicas"
        );
        assert!(
            leader.log_text().contains("phase changed"),
            "the leader initialized the Canary"
        );
        assert!(
            !follower.log_text().contains("phase changed"),
            "the follower did not act"
        );

        // Killed mid-rollout: the follower must take over within the lease
        // time (15 s, plus one 2 s retry period), judged by the Lease's own
        // timestamps rather than the test's clock.
        let initial_generation = deployments.get("podinfo-primary").await?.metadata.generation;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "a first iteration", T, |s| {
            s.phase == Phase::Progressing && s.iterations >= 1
        })
        .await?;
        leader.kill().await?;
        let leases: Api<Lease> = ctx.api();
        let last_renewal = leases
            .get("serin-leader")
            .await?
            .spec
            .and_then(|s| s.renew_time)
            .context("the Lease was renewed")?
            .0;
        let new_holder = wait::poll_until(
            "the follower to take the Lease",
            T,
            Duration::from_millis(200),
            || async { Ok(holder(&ctx).await?.filter(|h| *h != leader_identity)) },
        )
        .await?;
        assert!(
            follower
                .pid()
                .is_some_and(|pid| new_holder.ends_with(&format!("-{pid}"))),
            "{new_holder}"
        );
        let acquired = leases
            .get("serin-leader")
            .await?
            .spec
            .and_then(|s| s.acquire_time)
            .context("the new holder set acquireTime")?
            .0;
        let gap = acquired.duration_since(last_renewal);
        assert!(
            gap.as_secs_f64() <= 17.0,
            "the follower took over {gap:?} after the leader's last renewal"
        );
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:2"));
        assert_eq!(
            primary.metadata.generation,
            initial_generation.map(|g| g + 1),
            "promoted once across the takeover"
        );
        Ok(())
    })
    .await;
}
