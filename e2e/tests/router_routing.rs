//! A/B routing, mirroring, user fields and missing CRDs for the Istio and
//! Gateway API routers against the real API server (with the test-only
//! CRDs generated from serin's types). The controller does not run; the
//! Canary only has to exist so the objects can be owned by it.

use anyhow::Context;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, CustomResourceExt};
use serde_json::{Value, json};
use serin::api::Canary;
use serin::rollout::Weights;
use serin::router::gatewayapi_types::HTTPRoute;
use serin::router::istio_types::{DestinationRule, VirtualService};
use serin::router::{RouterError, router_for};
use serin_e2e::{TestContext, fixtures, with_namespace};

async fn install_crds(client: &Client) -> anyhow::Result<()> {
    serin_e2e::crds::install_serin(client).await?;
    serin_e2e::crds::install(client, vec![VirtualService::crd(), DestinationRule::crd()]).await?;
    fixtures::install_gateway_api(client).await
}

/// A Canary with the given provider, `service` and extra `analysis` fields.
async fn canary(
    ctx: &TestContext,
    provider: &str,
    service: Value,
    analysis: Value,
) -> anyhow::Result<Canary> {
    let mut body = json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo"},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": service,
            "analysis": {"interval": "10s", "threshold": 2}
        }
    });
    for (key, value) in analysis.as_object().context("analysis is an object")? {
        body["spec"]["analysis"][key] = value.clone();
    }
    let canary: Canary = serde_json::from_value(body)?;
    Ok(ctx.api::<Canary>().create(&Default::default(), &canary).await?)
}

/// The object as stored, with fields serin's types do not know.
async fn stored<K: kube::Resource<DynamicType = ()>>(ctx: &TestContext, name: &str) -> anyhow::Result<Value> {
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
    Ok(serde_json::to_value(api.get(name).await?)?)
}

fn ab_analysis() -> Value {
    json!({"iterations": 5, "match": [
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}
    ]})
}

#[tokio::test]
async fn istio_ab_rules_mirroring_and_user_fields() {
    with_namespace("router-routing", |ctx| async move {
        install_crds(&ctx.client).await?;
        let policy = json!({
            "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
            "connectionPool": {"http": {"http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1}}
        });
        let canary = canary(
            &ctx,
            "istio",
            json!({"port": 9898, "trafficPolicy": policy, "retries": {"attempts": 2, "retryOn": "5xx"}}),
            ab_analysis(),
        )
        .await?;
        let router = router_for("istio", ctx.client.clone())?;
        fixtures::first_apply(router.as_ref(), &canary, Weights::ALL_PRIMARY).await?;

        // Circuit breaking reaches both sides of the comparison.
        for host in ["podinfo-primary", "podinfo-canary"] {
            let rule = stored::<DestinationRule>(&ctx, host).await?;
            assert_eq!(rule["spec"]["trafficPolicy"], policy, "{host}");
        }

        // A user adds fields serin does not write, before the analysis starts.
        let user = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        };
        let edit = json!({
            "metadata": {"annotations": {"example.com/owner": "team-web"}, "labels": {"team": "web"}},
            "spec": {
                "exportTo": ["."],
                "tcp": [{"match": [{"port": 3306}], "route": [{"destination": {"host": "mysql"}}]}]
            }
        });
        ctx.api::<VirtualService>()
            .patch("podinfo", &user, &Patch::Merge(&edit))
            .await?;

        router.apply(&canary, Weights::canary(100)).await?;
        let vs = stored::<VirtualService>(&ctx, "podinfo").await?;
        let http = &vs["spec"]["http"];
        assert_eq!(
            http[0]["match"],
            json!([
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}
            ])
        );
        assert_eq!(
            http[0]["route"],
            json!([
                {"destination": {"host": "podinfo-primary"}, "weight": 0},
                {"destination": {"host": "podinfo-canary"}, "weight": 100}
            ])
        );
        assert_eq!(http[0]["retries"], json!({"attempts": 2, "retryOn": "5xx"}));
        assert_eq!(
            http[1]["route"],
            json!([{"destination": {"host": "podinfo-primary"}, "weight": 100}])
        );
        assert!(
            http[1].get("match").is_none(),
            "the default route matches everything"
        );
        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(100)));

        // What the user set is still there, and still theirs.
        assert_eq!(vs["spec"]["exportTo"], json!(["."]));
        assert_eq!(vs["spec"]["tcp"][0]["route"][0]["destination"]["host"], "mysql");
        assert_eq!(vs["metadata"]["annotations"]["example.com/owner"], "team-web");
        assert_eq!(vs["metadata"]["labels"]["team"], "web");

        // Mirroring on, then off again: serin gives up what it stops sending.
        let mut mirrored = canary.clone();
        mirrored.spec.analysis.match_.clear();
        mirrored.spec.analysis.mirror = true;
        mirrored.spec.analysis.mirror_weight = Some(40);
        router
            .apply(&mirrored, Weights::ALL_PRIMARY.mirrored(true))
            .await?;
        let vs = stored::<VirtualService>(&ctx, "podinfo").await?;
        assert_eq!(vs["spec"]["http"].as_array().map(Vec::len), Some(1));
        assert_eq!(vs["spec"]["http"][0]["mirror"], json!({"host": "podinfo-canary"}));
        assert_eq!(
            vs["spec"]["http"][0]["mirrorPercentage"]["value"].as_f64(),
            Some(40.0)
        );
        assert_eq!(
            router.weights(&mirrored).await?,
            Some(Weights::ALL_PRIMARY.mirrored(true))
        );

        router.apply(&mirrored, Weights::ALL_PRIMARY).await?;
        let vs = stored::<VirtualService>(&ctx, "podinfo").await?;
        assert!(vs["spec"]["http"][0].get("mirror").is_none(), "{vs}");
        assert!(vs["spec"]["http"][0].get("mirrorPercentage").is_none(), "{vs}");
        assert_eq!(router.weights(&mirrored).await?, Some(Weights::ALL_PRIMARY));
        assert_eq!(vs["spec"]["tcp"][0]["route"][0]["destination"]["host"], "mysql");
        assert_eq!(vs["spec"]["exportTo"], json!(["."]));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn gatewayapi_ab_rules_and_mirroring() {
    with_namespace("router-routing", |ctx| async move {
        install_crds(&ctx.client).await?;
        let canary = canary(
            &ctx,
            "gatewayapi:v1",
            json!({"port": 9898, "gatewayRefs": [{"name": "public", "namespace": "gateways"}]}),
            ab_analysis(),
        )
        .await?;
        let router = router_for("gatewayapi:v1", ctx.client.clone())?;
        fixtures::first_apply(router.as_ref(), &canary, Weights::canary(100)).await?;

        let route = stored::<HTTPRoute>(&ctx, "podinfo").await?;
        let rules = &route["spec"]["rules"];
        let root = json!({"type": "PathPrefix", "value": "/"});
        assert_eq!(
            rules[0]["matches"],
            json!([
                {"path": root, "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]},
                {"path": root, "headers": [
                    {"type": "RegularExpression", "name": "cookie", "value": "^(.*?;)?(canary=always)(;.*)?$"}
                ]}
            ])
        );
        assert_eq!(
            rules[0]["backendRefs"],
            json!([
                {"name": "podinfo-primary", "port": 9898, "weight": 0},
                {"name": "podinfo-canary", "port": 9898, "weight": 100}
            ])
        );
        assert_eq!(rules[1]["matches"], json!([{"path": root}]));
        assert_eq!(
            rules[1]["backendRefs"],
            json!([{"name": "podinfo-primary", "port": 9898, "weight": 100}])
        );
        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(100)));

        let mut mirrored = canary.clone();
        mirrored.spec.analysis.match_.clear();
        mirrored.spec.analysis.mirror = true;
        router.apply(&mirrored, Weights::ALL_PRIMARY.mirrored(true)).await?;
        let route = stored::<HTTPRoute>(&ctx, "podinfo").await?;
        assert_eq!(route["spec"]["rules"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            route["spec"]["rules"][0]["filters"],
            json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "podinfo-canary", "port": 9898}}}])
        );
        assert_eq!(router.weights(&mirrored).await?, Some(Weights::ALL_PRIMARY.mirrored(true)));

        router.apply(&mirrored, Weights::ALL_PRIMARY).await?;
        let route = stored::<HTTPRoute>(&ctx, "podinfo").await?;
        assert!(route["spec"]["rules"][0].get("filters").is_none(), "{route}");
        assert_eq!(router.weights(&mirrored).await?, Some(Weights::ALL_PRIMARY));
        Ok(())
    })
    .await;
}

/// A client to the same API server whose requests for `group` go to a group
/// no cluster serves: what a router sees when its provider's CRDs are not
/// installed. CRDs are cluster-wide and other tests install them in
/// parallel, so uninstalling them is not an option.
async fn client_without(group: &'static str) -> anyhow::Result<Client> {
    let config = kube::Config::infer().await?;
    let rewrite = move |mut request: http::Request<kube::client::Body>| {
        let from = format!("/apis/{group}/");
        let uri = request.uri().to_string();
        if uri.contains(&from) {
            let to = uri.replace(&from, "/apis/absent.e2e.serin.dev/");
            if let Ok(to) = to.parse() {
                *request.uri_mut() = to;
            }
        }
        request
    };
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&tower::util::MapRequestLayer::new(rewrite))
        .build())
}

#[tokio::test]
async fn a_missing_crd_is_reported_as_such_with_how_to_install_it() {
    with_namespace("router-routing", |ctx| async move {
        serin_e2e::crds::install_serin(&ctx.client).await?;
        for (provider, group, service, kind) in [
            ("istio", "networking.istio.io", json!({"port": 9898}), "DestinationRule"),
            (
                "gatewayapi:v1",
                "gateway.networking.k8s.io",
                json!({"port": 9898, "gatewayRefs": [{"name": "public"}]}),
                "HTTPRoute",
            ),
        ] {
            let canary = canary(&ctx, provider, service, json!({"stepWeight": 10})).await?;
            let router = router_for(provider, client_without(group).await?)?;
            let err = router
                .apply(&canary, Weights::ALL_PRIMARY)
                .await
                .err()
                .with_context(|| format!("{provider}: apply without the CRDs succeeded"))?;
            assert!(
                matches!(&err, RouterError::CrdNotInstalled { kind: k, group: g, .. } if *k == kind && *g == group),
                "{provider}: {err:?}"
            );
            assert_eq!(err.reason(), "RoutingCrdNotInstalled");
            assert!(err.to_string().contains("install"), "{err}");
            let read = router.weights(&canary).await.err().context("weights without the CRDs")?;
            assert!(matches!(read, RouterError::CrdNotInstalled { .. }), "{read:?}");
            ctx.api::<Canary>().delete("podinfo", &Default::default()).await?;
            serin_e2e::wait::poll_until("the Canary to go", std::time::Duration::from_secs(30), std::time::Duration::from_millis(100), || async {
                Ok(ctx.api::<Canary>().get_opt("podinfo").await?.is_none().then_some(()))
            })
            .await?;
        }
        Ok(())
    })
    .await;
}

/// The session-affinity routes are accepted by the API server as written,
/// and weights are read from the weighted route, not the cookie route.
#[tokio::test]
async fn session_affinity_routes_are_stored_and_weights_read_past_them() {
    with_namespace("router-routing", |ctx| async move {
        install_crds(&ctx.client).await?;
        let affinity =
            json!({"sessionAffinity": {"cookieName": "flagger-cookie", "maxAge": 60}, "stepWeight": 10});
        for (provider, service) in [
            ("istio", json!({"port": 9898})),
            (
                "gatewayapi:v1",
                json!({"port": 9898, "gatewayRefs": [{"name": "public"}]}),
            ),
        ] {
            let mut canary = canary(&ctx, provider, service, affinity.clone()).await?;
            // The revision the decision recorded; the cookie value derives from it.
            canary.status = Some(serde_json::from_value(json!({"lastAppliedSpec": "rev-1"}))?);
            let router = router_for(provider, ctx.client.clone())?;
            fixtures::first_apply(router.as_ref(), &canary, Weights::canary(30)).await?;
            assert_eq!(
                router.weights(&canary).await?,
                Some(Weights::canary(30)),
                "{provider}"
            );

            let set_cookie = if provider == "istio" {
                let vs = stored::<VirtualService>(&ctx, "podinfo").await?;
                assert_eq!(vs["spec"]["http"][0]["name"], "sticky-route");
                vs["spec"]["http"][1]["route"][1]["headers"]["response"]["add"]["Set-Cookie"].clone()
            } else {
                let route = stored::<HTTPRoute>(&ctx, "podinfo").await?;
                assert_eq!(
                    route["spec"]["rules"][0]["matches"][0]["headers"][0]["name"],
                    "Cookie"
                );
                route["spec"]["rules"][1]["backendRefs"][1]["filters"][0]["responseHeaderModifier"]["add"][0]
                    ["value"]
                    .clone()
            };
            let set_cookie = set_cookie.as_str().context("a Set-Cookie value")?.to_string();
            assert!(
                set_cookie.starts_with("flagger-cookie=") && set_cookie.ends_with("; Max-Age=60"),
                "{provider}: {set_cookie}"
            );

            router.apply(&canary, Weights::ALL_PRIMARY).await?;
            assert_eq!(
                router.weights(&canary).await?,
                Some(Weights::ALL_PRIMARY),
                "{provider}"
            );
            router.remove(&canary).await?;
            ctx.api::<Canary>().delete("podinfo", &Default::default()).await?;
            serin_e2e::wait::poll_until(
                "the Canary to go",
                std::time::Duration::from_secs(30),
                std::time::Duration::from_millis(100),
                || async {
                    Ok(ctx
                        .api::<Canary>()
                        .get_opt("podinfo")
                        .await?
                        .is_none()
                        .then_some(()))
                },
            )
            .await?;
        }
        Ok(())
    })
    .await;
}
