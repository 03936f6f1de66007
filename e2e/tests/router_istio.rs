//! The Istio router against the real API server, with the test-only Istio
//! CRDs generated from serin's types (`e2e/crds/istio.yaml`): it creates
//! the VirtualService and the two DestinationRules for a Canary, moves the
//! weights without disturbing what other field managers set, reads the
//! weights back and removes the objects again. The controller does not run;
//! the Canary only has to exist so the objects can be owned by it.

use std::time::Duration;

use anyhow::Context;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client, CustomResourceExt, Resource, ResourceExt};
use serde_json::json;
use serin::api::Canary;
use serin::rollout::Weights;
use serin::router::istio_types::{DestinationRule, VirtualService};
use serin::router::router_for;
use serin_e2e::{fixtures, wait, with_namespace};

/// serin's CRDs and the Istio ones, the same as `e2e/crds/istio.yaml`
/// (which a unit test keeps in step with the types).
async fn install_crds(client: &Client) -> anyhow::Result<()> {
    serin_e2e::crds::install_serin(client).await?;
    serin_e2e::crds::install(client, vec![VirtualService::crd(), DestinationRule::crd()]).await
}

fn destination_weights(vs: &VirtualService) -> Vec<(String, Option<i32>)> {
    vs.spec.http[0]
        .route
        .iter()
        .map(|d| (d.destination.host.clone(), d.weight))
        .collect()
}

fn assert_owned_by(object: &impl Resource, canary: &Canary) {
    let owners = object.meta().owner_references.as_deref().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(
        (owners[0].kind.as_str(), owners[0].controller),
        ("Canary", Some(true))
    );
    assert_eq!(Some(&owners[0].uid), canary.metadata.uid.as_ref());
}

fn annotation<'a>(object: &'a impl Resource, key: &str) -> Option<&'a str> {
    object.meta().annotations.as_ref()?.get(key).map(String::as_str)
}

#[tokio::test]
async fn istio_router_applies_moves_reads_and_removes_its_objects() {
    with_namespace("router-istio", |ctx| async move {
        install_crds(&ctx.client).await?;
        let policy = json!({"tls": {"mode": "ISTIO_MUTUAL"}, "loadBalancer": {"simple": "LEAST_REQUEST"}});
        let mut canary = fixtures::router_canary(
            &ctx,
            "podinfo",
            "istio",
            json!({
                "port": 9898,
                "hosts": ["app.example.com"],
                "gateways": ["istio-system/public", "mesh"],
                "timeout": "1m",
                "retries": {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx"},
                "trafficPolicy": policy
            }),
        )
        .await?;
        let router = router_for("istio", ctx.client.clone())?;
        let services: Api<VirtualService> = ctx.api();
        let rules: Api<DestinationRule> = ctx.api();

        assert_eq!(router.weights(&canary).await?, None, "no VirtualService yet");
        fixtures::first_apply(router.as_ref(), &canary, Weights::ALL_PRIMARY).await?;

        let vs = services.get("podinfo").await?;
        assert_eq!(vs.spec.hosts, ["app.example.com", "podinfo"]);
        assert_eq!(vs.spec.gateways, ["istio-system/public", "mesh"]);
        assert_eq!(
            destination_weights(&vs),
            [
                ("podinfo-primary".to_string(), Some(100)),
                ("podinfo-canary".to_string(), Some(0))
            ]
        );
        let http = &vs.spec.http[0];
        assert_eq!(http.timeout.as_deref(), Some("60s"));
        let retries = http.retries.as_ref().context("retries on the route")?;
        assert_eq!(retries.per_try_timeout.as_deref(), Some("0.500s"));
        assert_owned_by(&vs, &canary);
        for host in ["podinfo-primary", "podinfo-canary"] {
            let rule = rules.get(host).await?;
            assert_eq!(rule.spec.host, host);
            assert_eq!(rule.spec.traffic_policy.as_ref(), Some(&policy));
            assert_owned_by(&rule, &canary);
        }

        // A user annotates the VirtualService and adds a field serin does not
        // write; another controller labels a DestinationRule with its own apply.
        let user = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        };
        let edit = json!({
            "metadata": {"annotations": {"example.com/owner": "team-web"}},
            "spec": {"exportTo": ["."]}
        });
        services.patch("podinfo", &user, &Patch::Merge(&edit)).await?;
        let other_apply = json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": {"name": "podinfo-canary", "labels": {"mesh.example.com/tracked": "true"}},
            "spec": {"host": "podinfo-canary"}
        });
        rules
            .patch(
                "podinfo-canary",
                &PatchParams::apply("other-controller"),
                &Patch::Apply(&other_apply),
            )
            .await
            .context("another manager's apply of the same host must not conflict with serin")?;

        router.apply(&canary, Weights::canary(30)).await?;
        let vs = services.get("podinfo").await?;
        assert_eq!(
            destination_weights(&vs),
            [
                ("podinfo-primary".to_string(), Some(70)),
                ("podinfo-canary".to_string(), Some(30))
            ]
        );
        assert_eq!(annotation(&vs, "example.com/owner"), Some("team-web"));
        // serin's types drop fields they do not know; read the object as stored.
        let stored = ApiResource::erase::<VirtualService>(&());
        let dynamic: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &stored);
        let exported = dynamic.get("podinfo").await?.data;
        assert_eq!(
            exported["spec"]["exportTo"],
            json!(["."]),
            "a field serin does not write survives"
        );
        assert_eq!(
            vs.spec.hosts,
            ["app.example.com", "podinfo"],
            "serin's fields are intact"
        );
        let tracked = rules.get("podinfo-canary").await?;
        assert_eq!(
            tracked
                .labels()
                .get("mesh.example.com/tracked")
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(tracked.spec.traffic_policy.as_ref(), Some(&policy));

        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(30)));

        // Applying the same weights again changes nothing on the server.
        router.apply(&canary, Weights::canary(30)).await?;
        let again = services.get("podinfo").await?;
        assert_eq!(
            again.resource_version(),
            vs.resource_version(),
            "a no-op apply wrote"
        );

        // Dropping the policy from the Canary drops it from the rules: serin
        // gives up the fields it no longer sends.
        canary.spec.service.traffic_policy = None;
        router.apply(&canary, Weights::canary(30)).await?;
        for host in ["podinfo-primary", "podinfo-canary"] {
            assert_eq!(rules.get(host).await?.spec.traffic_policy, None, "{host}");
        }

        router.remove(&canary).await?;
        let uid = vs.uid().context("a stored VirtualService has a uid")?;
        wait::for_deletion(&services, "podinfo", &uid, Duration::from_secs(30)).await?;
        for host in ["podinfo-primary", "podinfo-canary"] {
            if let Some(rule) = rules.get_opt(host).await? {
                let uid = rule.uid().context("a stored rule has a uid")?;
                wait::for_deletion(&rules, host, &uid, Duration::from_secs(30)).await?;
            }
        }
        assert_eq!(router.weights(&canary).await?, None);
        router.remove(&canary).await.context("removing twice is fine")?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn istio_router_leaves_objects_it_does_not_control() {
    with_namespace("router-istio", |ctx| async move {
        install_crds(&ctx.client).await?;
        let canary =
            fixtures::router_canary(&ctx, "frontend", "istio", json!({"port": 80, "name": "handmade"}))
                .await?;
        let services: Api<VirtualService> = ctx.api();
        let handmade: VirtualService = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "handmade"},
            "spec": {"hosts": ["handmade"], "http": [{"route": [{"destination": {"host": "handmade"}}]}]}
        }))?;
        services.create(&PostParams::default(), &handmade).await?;

        let router = router_for("istio", ctx.client.clone())?;
        router.remove(&canary).await?;
        assert!(
            services.get_opt("handmade").await?.is_some(),
            "a VirtualService the Canary does not control was deleted"
        );
        assert_eq!(
            router.weights(&canary).await?,
            None,
            "no serin destinations on it"
        );
        Ok(())
    })
    .await;
}
