//! Routes users had before their Canary, driven by the controller: serin
//! takes over a user's VirtualService, TrafficSplit or HTTPRoute without
//! losing the fields it does not own, rolls out through it, and with
//! `revertOnDeletion` puts the user's spec back when the Canary goes (the
//! object stays, same uid, released from the Canary).

use anyhow::{Context as _, anyhow};
use kube::api::{DeleteParams, DynamicObject};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use serin::api::{Canary, Phase};
use serin::router::gatewayapi_types::HTTPRoute;
use serin::router::istio_types::VirtualService;
use serin::router::original::ORIGINAL_CONFIGURATION;
use serin::router::smi_types::v1alpha1;
use serin_e2e::mesh::{T, builtin_metrics, canary, initialize, setup, splits_until, stored_api};
use serin_e2e::simulator::{SimConfig, Simulator};
use serin_e2e::{TestContext, fixtures, wait, with_namespace};

/// A VirtualService the user had before the Canary: serin takes it over
/// without losing the user's other fields, and `revertOnDeletion` puts the
/// user's spec back (the object stays, released from the Canary).
#[tokio::test]
async fn istio_keeps_a_users_virtual_service_and_restores_it_on_deletion() {
    with_namespace("istio-user-vs", |ctx| async move {
        let _serin = setup(&ctx, "istio").await?;
        let original = json!({
            "hosts": ["podinfo"],
            "exportTo": ["."],
            "http": [{ "route": [{ "destination": { "host": "podinfo" } }] }],
            "tcp": [{ "match": [{ "port": 3306 }], "route": [{ "destination": { "host": "mysql" } }] }]
        });
        let users: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": { "name": "podinfo", "annotations": { "example.com/owner": "team-web" } },
            "spec": original
        }))?;
        let services = stored_api::<VirtualService>(&ctx);
        let created = fixtures::create_fresh_kind(&services, &users).await?;

        let mut body = canary(
            "istio",
            json!({ "stepWeight": 50, "maxWeight": 50, "metrics": builtin_metrics() }),
        );
        body["spec"]["revertOnDeletion"] = json!(true);
        let canary = initialize(&ctx, body).await?;
        let vs = services.get("podinfo").await?;
        let saved: Value = serde_json::from_str(
            vs.annotations()
                .get(ORIGINAL_CONFIGURATION)
                .context("the user's spec saved on takeover")?,
        )?;
        assert_eq!(saved, original);

        let traffic = SimConfig {
            canary_direct_rps: 10.0,
            ..SimConfig::default()
        };
        let _sim = Simulator::start(&ctx, "podinfo", traffic).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        let seen = splits_until(&ctx, Phase::Succeeded).await?;
        assert!(
            seen.contains(&(50, 50)),
            "the rollout ran on the user's object: {seen:?}"
        );
        let vs = services.get("podinfo").await?;
        assert_eq!(vs.uid(), created.uid(), "the same object throughout");
        assert_eq!(vs.data["spec"]["exportTo"], original["exportTo"]);
        assert_eq!(vs.data["spec"]["tcp"], original["tcp"]);
        assert_eq!(
            vs.annotations().get("example.com/owner").map(String::as_str),
            Some("team-web")
        );
        let saved_still: Value = serde_json::from_str(
            vs.annotations()
                .get(ORIGINAL_CONFIGURATION)
                .context("still saved")?,
        )?;
        assert_eq!(saved_still, original, "never overwritten by serin's own spec");

        let canaries: Api<Canary> = ctx.api();
        canaries.delete("podinfo", &DeleteParams::default()).await?;
        let uid = canary.uid().context("a stored Canary has a uid")?;
        wait::for_deletion(&canaries, "podinfo", &uid, T).await?;
        let vs = services
            .get_opt("podinfo")
            .await?
            .ok_or_else(|| anyhow!("the user's VirtualService was deleted"))?;
        assert_eq!(vs.uid(), created.uid());
        assert_eq!(vs.data["spec"], original, "the user's spec is back");
        assert!(
            !vs.annotations().contains_key(ORIGINAL_CONFIGURATION),
            "{:?}",
            vs.annotations()
        );
        assert_eq!(
            vs.annotations().get("example.com/owner").map(String::as_str),
            Some("team-web")
        );
        assert!(
            vs.owner_references().is_empty(),
            "released: {:?}",
            vs.owner_references()
        );
        Ok(())
    })
    .await;
}

/// A routing object the user made (`users`, with the apex name) before the
/// Canary: serin runs a rollout through it, keeping the spec fields it does
/// not write (`kept`), and when the Canary (`revertOnDeletion: true`) goes,
/// the same object has the user's spec back and is released, not deleted.
async fn users_route_comes_back_on_deletion(
    ctx: &TestContext,
    provider: &str,
    routes: Api<DynamicObject>,
    users: DynamicObject,
    kept: &[&str],
) -> anyhow::Result<()> {
    let created = fixtures::create_fresh_kind(&routes, &users).await?;
    // As stored: the API server may have defaulted fields of the user's spec.
    let original = created.data["spec"].clone();

    let mut body = canary(
        provider,
        json!({ "stepWeight": 50, "maxWeight": 50, "metrics": builtin_metrics() }),
    );
    body["spec"]["revertOnDeletion"] = json!(true);
    let canary = initialize(ctx, body).await?;
    let route = routes.get("podinfo").await?;
    let saved: Value = serde_json::from_str(
        route
            .annotations()
            .get(ORIGINAL_CONFIGURATION)
            .context("the user's spec saved on takeover")?,
    )?;
    assert_eq!(saved, original, "{provider}");

    let traffic = SimConfig {
        canary_direct_rps: 10.0,
        ..SimConfig::default()
    };
    let _sim = Simulator::start(ctx, "podinfo", traffic).await?;
    fixtures::set_image(ctx, "podinfo", "podinfo:2").await?;
    let seen = splits_until(ctx, Phase::Succeeded).await?;
    assert!(
        seen.contains(&(50, 50)),
        "{provider}: the rollout ran on the user's object: {seen:?}"
    );
    let route = routes.get("podinfo").await?;
    assert_eq!(
        route.uid(),
        created.uid(),
        "{provider}: the same object throughout"
    );
    for field in kept {
        assert_eq!(route.data["spec"][field], original[field], "{provider}: {field}");
    }

    let canaries: Api<Canary> = ctx.api();
    canaries.delete("podinfo", &DeleteParams::default()).await?;
    let uid = canary.uid().context("a stored Canary has a uid")?;
    wait::for_deletion(&canaries, "podinfo", &uid, T).await?;
    let route = routes
        .get_opt("podinfo")
        .await?
        .ok_or_else(|| anyhow!("{provider}: the user's routing object was deleted"))?;
    assert_eq!(route.uid(), created.uid(), "{provider}");
    assert_eq!(
        route.data["spec"], original,
        "{provider}: the user's spec is back"
    );
    assert!(
        !route.annotations().contains_key(ORIGINAL_CONFIGURATION),
        "{provider}: {:?}",
        route.annotations()
    );
    assert_eq!(
        route.annotations().get("example.com/owner").map(String::as_str),
        Some("team-web"),
        "{provider}"
    );
    assert!(
        route.owner_references().is_empty(),
        "{provider}: released: {:?}",
        route.owner_references()
    );
    Ok(())
}

#[tokio::test]
async fn linkerd_keeps_a_users_traffic_split_and_restores_it_on_deletion() {
    with_namespace("linkerd-user-ts", |ctx| async move {
        let _serin = setup(&ctx, "linkerd").await?;
        let users: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "split.smi-spec.io/v1alpha1",
            "kind": "TrafficSplit",
            "metadata": { "name": "podinfo", "annotations": { "example.com/owner": "team-web" } },
            "spec": { "service": "podinfo", "backends": [{ "service": "podinfo", "weight": "100" }] }
        }))?;
        let routes = stored_api::<v1alpha1::TrafficSplit>(&ctx);
        users_route_comes_back_on_deletion(&ctx, "linkerd", routes, users, &[]).await
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_keeps_a_users_http_route_and_restores_it_on_deletion() {
    with_namespace("gw-user-route", |ctx| async move {
        let _serin = setup(&ctx, "gatewayapi:v1").await?;
        let users: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": { "name": "podinfo", "annotations": { "example.com/owner": "team-web" } },
            "spec": {
                "parentRefs": [{ "name": "public-gateway", "namespace": "gateways" }],
                "hostnames": ["podinfo.example.com"],
                "rules": [{
                    "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                    "backendRefs": [{ "name": "podinfo", "port": 9898 }]
                }]
            }
        }))?;
        let routes = stored_api::<HTTPRoute>(&ctx);
        users_route_comes_back_on_deletion(&ctx, "gatewayapi:v1", routes, users, &["hostnames"]).await
    })
    .await;
}
