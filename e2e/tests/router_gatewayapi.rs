//! The Gateway API router against the real API server: it creates the
//! HTTPRoute for a Canary, moves the weights without disturbing what other
//! field managers set on the route, reads the weights back and removes the
//! route again. The controller does not run; the Canary only has to exist
//! so the route can be owned by it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use serin::rollout::Weights;
use serin::router::gatewayapi_types::HTTPRoute;
use serin::router::router_for;
use serin_e2e::{fixtures, wait, with_namespace};

/// Installs or updates a CRD by server-side apply and waits until it is
/// served. Idempotent, so tests running at the same time may all call it.
async fn install_crds(client: &Client) -> anyhow::Result<()> {
    serin_e2e::crds::install_serin(client).await?;
    serin_e2e::fixtures::install_gateway_api(client).await
}

fn backend_weights(route: &HTTPRoute) -> Vec<(String, Option<i32>)> {
    route.spec.rules[0]
        .backend_refs
        .iter()
        .map(|b| (b.name.clone(), b.weight))
        .collect()
}

#[tokio::test]
async fn gatewayapi_router_applies_moves_reads_and_removes_the_route() {
    with_namespace("router-gwapi", |ctx| async move {
        install_crds(&ctx.client).await?;
        let canary = fixtures::router_canary(
            &ctx,
            "podinfo",
            "gatewayapi:v1",
            json!({
                "port": 9898,
                "gatewayRefs": [
                    {"name": "public", "namespace": "gateways", "sectionName": "https"},
                    {"group": "core", "kind": "Service", "name": "podinfo", "port": 9898}
                ],
                "hosts": ["app.example.com"]
            }),
        )
        .await?;
        let router = router_for("gatewayapi:v1", ctx.client.clone())?;
        let routes: Api<HTTPRoute> = ctx.api();

        assert_eq!(router.weights(&canary).await?, None, "no route yet");
        fixtures::first_apply(router.as_ref(), &canary, Weights::ALL_PRIMARY).await?;

        let route = routes.get("podinfo").await?;
        let parents: Vec<_> = route.spec.parent_refs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(parents, ["public", "podinfo"]);
        assert_eq!(route.spec.parent_refs[0].section_name.as_deref(), Some("https"));
        assert_eq!(route.spec.parent_refs[1].group.as_deref(), Some("core"));
        assert_eq!(route.spec.parent_refs[1].port, Some(9898));
        assert_eq!(route.spec.hostnames, ["app.example.com"]);
        assert_eq!(
            backend_weights(&route),
            [
                ("podinfo-primary".to_string(), Some(100)),
                ("podinfo-canary".to_string(), Some(0))
            ]
        );
        let owner = &route.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("Canary", Some(true)));
        assert_eq!(Some(&owner.uid), canary.metadata.uid.as_ref());

        // A user annotates the route; another controller labels it with its own apply.
        let annotate = PatchParams {
            field_manager: Some("kubectl-annotate".into()),
            ..PatchParams::default()
        };
        routes
            .patch(
                "podinfo",
                &annotate,
                &Patch::Merge(json!({"metadata": {"annotations": {"example.com/owner": "team-web"}}})),
            )
            .await?;
        let other_apply = json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "podinfo", "labels": {"mesh.example.com/tracked": "true"}}
        });
        routes
            .patch(
                "podinfo",
                &PatchParams::apply("other-controller"),
                &Patch::Apply(&other_apply),
            )
            .await
            .context("another manager's apply of a label must not conflict with serin")?;

        router.apply(&canary, Weights::canary(40)).await?;
        let route = routes.get("podinfo").await?;
        assert_eq!(
            backend_weights(&route),
            [
                ("podinfo-primary".to_string(), Some(60)),
                ("podinfo-canary".to_string(), Some(40))
            ]
        );
        let annotations: &BTreeMap<String, String> = route.annotations();
        assert_eq!(
            annotations.get("example.com/owner").map(String::as_str),
            Some("team-web")
        );
        assert_eq!(
            route.labels().get("mesh.example.com/tracked").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            route.spec.hostnames,
            ["app.example.com"],
            "serin's fields are intact"
        );
        let managers: Vec<_> = route
            .managed_fields()
            .iter()
            .filter_map(|m| m.manager.as_deref())
            .collect();
        for manager in ["serin", "kubectl-annotate", "other-controller"] {
            assert!(managers.contains(&manager), "{manager} missing from {managers:?}");
        }

        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(40)));

        // Applying the same weights again changes nothing on the server.
        router.apply(&canary, Weights::canary(40)).await?;
        let again = routes.get("podinfo").await?;
        assert_eq!(
            again.resource_version(),
            route.resource_version(),
            "a no-op apply wrote"
        );

        router.remove(&canary).await?;
        let uid = route.uid().context("a stored route has a uid")?;
        wait::for_deletion(&routes, "podinfo", &uid, Duration::from_secs(30)).await?;
        assert_eq!(router.weights(&canary).await?, None);
        router.remove(&canary).await.context("removing twice is fine")?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_router_leaves_a_route_it_does_not_control() {
    with_namespace("router-gwapi", |ctx| async move {
        install_crds(&ctx.client).await?;
        let canary = fixtures::router_canary(
            &ctx,
            "frontend",
            "gatewayapi:v1",
            json!({"port": 80, "name": "handmade", "gatewayRefs": [{"name": "public"}]}),
        )
        .await?;
        let routes: Api<HTTPRoute> = ctx.api();
        let handmade: HTTPRoute = serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "handmade"},
            "spec": {"parentRefs": [{"name": "public"}]}
        }))?;
        routes.create(&PostParams::default(), &handmade).await?;

        let router = router_for("gatewayapi", ctx.client.clone())?;
        router.remove(&canary).await?;
        let still_there = routes.get_opt("handmade").await?;
        assert!(
            still_there.is_some(),
            "a route the Canary does not control was deleted"
        );
        assert_eq!(router.weights(&canary).await?, None, "no serin backends on it");
        Ok(())
    })
    .await;
}
