//! Deleting a Canary never leaves the service without ready pods: the target
//! is scaled back up and the apex Service, released from the Canary, selects
//! it before the finalizer lets the Canary go.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::DeleteParams;
use kube::runtime::conditions;
use serde_json::json;
use serin::api::{Canary, Phase};
use serin_e2e::fixtures;
use serin_e2e::{wait, with_namespace};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn deleting_a_canary_hands_the_service_back_to_the_target() {
    with_namespace("deletion", |ctx| async move {
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 2).await?;
        let deployments: Api<Deployment> = ctx.api();
        let services: Api<Service> = ctx.api();
        let canaries: Api<Canary> = ctx.api();
        let mut body = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 }));
        body["spec"]["revertOnDeletion"] = json!(true);
        let created = fixtures::create_canary(&ctx, body).await?;
        let initialized = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        assert!(
            initialized.metadata.finalizers.unwrap_or_default().iter().any(|f| f == serin::controller::FINALIZER),
            "serin guards every Canary with its finalizer"
        );
        wait::poll_until("the target at zero", T, Duration::from_millis(200), || {
            let deployments = deployments.clone();
            async move { Ok((fixtures::replicas_of(&deployments.get("podinfo").await?) == Some(0)).then_some(())) }
        })
        .await?;

        canaries.delete("podinfo", &DeleteParams::default()).await?;
        let uid = created.metadata.uid.clone().unwrap_or_default();
        wait::for_deletion(&canaries, "podinfo", &uid, T).await?;

        let target = deployments.get("podinfo").await?;
        assert_eq!(fixtures::replicas_of(&target), Some(2), "the target runs the primary's replicas again");
        wait::for_object(&deployments, "podinfo", T, conditions::is_deployment_completed()).await?;
        let apex = services.get("podinfo").await?;
        assert!(apex.metadata.owner_references.unwrap_or_default().is_empty(), "the apex Service is released");
        let selector = apex.spec.and_then(|s| s.selector).unwrap_or_default();
        assert_eq!(selector.get("app").map(String::as_str), Some("podinfo"), "the apex Service selects the target");
        wait::poll_until("the primary to be garbage-collected", T, Duration::from_millis(250), || {
            let deployments = deployments.clone();
            async move { Ok(deployments.get_opt("podinfo-primary").await?.is_none().then_some(())) }
        })
        .await?;
        Ok(())
    })
    .await;
}
