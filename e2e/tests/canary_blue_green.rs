//! Blue/green with the `kubernetes` provider: no routing objects, a number of
//! analysis iterations against the canary Service, then the switch.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures;
use serin_e2e::with_namespace;

#[tokio::test]
async fn blue_green_canary_runs_its_iterations_and_switches() {
    with_namespace("bluegreen", |ctx| async move {
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:6.0.0", 1).await?;
        let deployments: Api<Deployment> = ctx.api();
        let services: Api<Service> = ctx.api();
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "iterations": 3 }));
        canary["spec"]["provider"] = json!("kubernetes");
        canary["spec"]["service"]
            .as_object_mut()
            .expect("service")
            .remove("gatewayRefs");
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, Duration::from_secs(60)).await?;

        fixtures::set_image(&ctx, "podinfo", "podinfo:6.0.1").await?;
        let progressing = fixtures::wait_for_status(
            &ctx,
            "podinfo",
            "blue/green iterations",
            Duration::from_secs(60),
            |s| s.phase == Phase::Progressing && s.iterations >= 1,
        )
        .await?;
        let status = progressing.status.unwrap_or_default();
        assert_eq!(
            status.canary_weight, 0,
            "blue/green never splits traffic by weight"
        );
        let canary_svc = services.get("podinfo-canary").await?;
        let selector = canary_svc.spec.and_then(|s| s.selector).unwrap_or_default();
        assert_eq!(
            selector.get("app").map(String::as_str),
            Some("podinfo"),
            "the canary Service selects the new pods"
        );

        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, Duration::from_secs(60)).await?;
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:6.0.1"));
        assert_eq!(fixtures::replicas_of(&deployments.get("podinfo").await?), Some(0));
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(!reasons.is_empty(), "transitions are recorded as events");
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert!(
            routes
                .list(&Default::default())
                .await
                .map(|l| l.items.is_empty())
                .unwrap_or(true),
            "no HTTPRoute"
        );
        Ok(())
    })
    .await;
}
