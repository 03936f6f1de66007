//! "Do not fight users": a VirtualService, HTTPRoute or TrafficSplit that a
//! user made before the Canary is taken over by the router, with the user's
//! spec saved once in `serin.dev/original-configuration`; `remove` puts that
//! spec back and releases the object instead of deleting it. The controller
//! does not run; the Canary only has to exist so the object can be owned by it.

use anyhow::{Context, anyhow};
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client, CustomResourceExt, ResourceExt};
use serde_json::{Value, json};
use serin::rollout::Weights;
use serin::router::gatewayapi_types::HTTPRoute;
use serin::router::istio_types::{DestinationRule, VirtualService};
use serin::router::original::ORIGINAL_CONFIGURATION;
use serin::router::router_for;
use serin::router::smi_types::v1alpha1;
use serin_e2e::{TestContext, fixtures, with_namespace};

async fn install_crds(client: &Client) -> anyhow::Result<()> {
    serin_e2e::crds::install_serin(client).await?;
    serin_e2e::crds::install(client, vec![VirtualService::crd(), DestinationRule::crd()]).await?;
    serin_e2e::crds::install(client, vec![serin::router::smi_types::crd()?]).await?;
    fixtures::install_gateway_api(client).await
}

fn saved_spec(object: &DynamicObject) -> anyhow::Result<Value> {
    let saved = object
        .annotations()
        .get(ORIGINAL_CONFIGURATION)
        .ok_or_else(|| anyhow!("no {ORIGINAL_CONFIGURATION} on {}", object.name_any()))?;
    Ok(serde_json::from_str(saved)?)
}

/// The user's `original` object of `resource` (named `podinfo`, with a
/// user annotation) goes through a takeover, two applies and a remove.
async fn round_trip(
    ctx: &TestContext,
    provider: &str,
    resource: ApiResource,
    service: Value,
    original: Value,
) -> anyhow::Result<()> {
    let objects: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
    let users: DynamicObject = serde_json::from_value(json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": "podinfo", "annotations": {"example.com/owner": "team-web"}},
        "spec": original
    }))?;
    let created = fixtures::create_fresh_kind(&objects, &users).await?;
    let canary = fixtures::router_canary(ctx, "podinfo", provider, service).await?;
    let router = router_for(provider, ctx.client.clone())?;

    fixtures::first_apply(router.as_ref(), &canary, Weights::ALL_PRIMARY).await?;
    let taken = objects.get("podinfo").await?;
    assert_eq!(saved_spec(&taken)?, original, "{provider}: saved on takeover");
    assert_ne!(taken.data["spec"], original, "{provider}: serin's spec is on it");
    assert!(
        taken
            .owner_references()
            .iter()
            .any(|o| Some(&o.uid) == canary.uid().as_ref()),
        "{provider}: controlled by the Canary"
    );

    // Later applies change serin's fields but never the saved spec.
    router.apply(&canary, Weights::canary(40)).await?;
    let moved = objects.get("podinfo").await?;
    assert_eq!(
        router.weights(&canary).await?,
        Some(Weights::canary(40)),
        "{provider}"
    );
    assert_eq!(saved_spec(&moved)?, original, "{provider}: never overwritten");

    router.remove(&canary).await?;
    let restored = objects
        .get_opt("podinfo")
        .await?
        .ok_or_else(|| anyhow!("{provider}: the user's object was deleted"))?;
    assert_eq!(restored.uid(), created.uid(), "{provider}: the same object");
    assert_eq!(
        restored.data["spec"], original,
        "{provider}: the user's spec is back"
    );
    assert!(
        !restored.annotations().contains_key(ORIGINAL_CONFIGURATION),
        "{provider}: {:?}",
        restored.annotations()
    );
    assert_eq!(
        restored
            .annotations()
            .get("example.com/owner")
            .map(String::as_str),
        Some("team-web"),
        "{provider}: the user's annotation stays"
    );
    assert!(
        restored.owner_references().is_empty(),
        "{provider}: released: {:?}",
        restored.owner_references()
    );
    router
        .remove(&canary)
        .await
        .context("removing again leaves the user's object alone")?;
    assert!(objects.get_opt("podinfo").await?.is_some(), "{provider}");
    Ok(())
}

#[tokio::test]
async fn istio_restores_a_users_virtual_service() {
    with_namespace("router-original", |ctx| async move {
        install_crds(&ctx.client).await?;
        let original = json!({
            "hosts": ["podinfo"],
            "exportTo": ["."],
            "http": [{"route": [{"destination": {"host": "podinfo"}}]}],
            "tcp": [{"match": [{"port": 3306}], "route": [{"destination": {"host": "mysql"}}]}]
        });
        let resource = ApiResource::erase::<VirtualService>(&());
        round_trip(&ctx, "istio", resource, json!({"port": 9898}), original).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_restores_a_users_http_route() {
    with_namespace("router-original", |ctx| async move {
        install_crds(&ctx.client).await?;
        let original = json!({
            "parentRefs": [{"name": "public", "namespace": "gateways"}],
            "hostnames": ["app.example.com"],
            "rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}]
        });
        let service = json!({"port": 9898, "gatewayRefs": [{"name": "public", "namespace": "gateways"}]});
        let resource = ApiResource::erase::<HTTPRoute>(&());
        round_trip(&ctx, "gatewayapi:v1", resource, service, original).await
    })
    .await;
}

#[tokio::test]
async fn linkerd_restores_a_users_traffic_split() {
    with_namespace("router-original", |ctx| async move {
        install_crds(&ctx.client).await?;
        let original = json!({
            "service": "podinfo",
            "backends": [{"service": "podinfo-v1", "weight": "100"}]
        });
        let resource = ApiResource::erase::<v1alpha1::TrafficSplit>(&());
        round_trip(&ctx, "linkerd", resource, json!({"port": 9898}), original).await
    })
    .await;
}
