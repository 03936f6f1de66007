//! A Canary whose provider's CRDs are not installed says so in its status
//! and events, and carries on by itself once they are: SMI (`linkerd`),
//! Istio (neither CRD, or the VirtualService without the DestinationRule)
//! and Gateway API (`gatewayapi:v1`). Once installed, the kind is also
//! watched without a restart: a hand edit of the route is put back.
//!
//! These tests remove CRDs, which are cluster-wide, so they live in a test
//! binary of their own: `cargo test` runs test binaries one after another,
//! so no other test sees a CRD missing. Within this binary they take
//! [`CLUSTER_CRDS`] in turn, as the tests of one binary run in parallel and
//! each installs the CRDs another removes. Each installs its CRDs again.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use serin::api::Phase;
use serin::router::istio_types::VirtualService;
use serin::router::smi_types::v1alpha1::TrafficSplit;
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, crds, fixtures, simulator, wait, with_namespace};
use tokio::sync::Mutex;

const T: Duration = Duration::from_secs(60);
/// serin looks for a missing routing kind every 10 s; its watch then
/// triggers a reconcile of the Canary at once.
const PUT_BACK: Duration = Duration::from_secs(25);

/// Held by each test for its whole run: one test's missing CRD is another's
/// installed one.
static CLUSTER_CRDS: Mutex<()> = Mutex::const_new(());

const TRAFFIC_SPLITS: &str = "trafficsplits.split.smi-spec.io";
const VIRTUAL_SERVICES: &str = "virtualservices.networking.istio.io";
const DESTINATION_RULES: &str = "destinationrules.networking.istio.io";
const HTTP_ROUTES: &str = "httproutes.gateway.networking.k8s.io";

async fn remove_crd(client: &Client, name: &str) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    if let Some(crd) = crds.get_opt(name).await? {
        crds.delete(name, &Default::default()).await?;
        let uid = crd.metadata.uid.unwrap_or_default();
        wait::for_deletion(&crds, name, &uid, T).await?;
    }
    Ok(())
}

/// A `podinfo` Deployment and serin running, without installing any
/// provider's CRDs (`fixtures::podinfo_with_serin` installs Gateway API's).
async fn podinfo_and_serin(ctx: &TestContext) -> anyhow::Result<SerinProcess> {
    crds::install_serin(&ctx.client).await?;
    let deployments: Api<Deployment> = ctx.api();
    deployments
        .create(
            &Default::default(),
            &fixtures::deployment("podinfo", "podinfo:1", 1),
        )
        .await?;
    SerinProcess::controller(ctx, &[]).await
}

/// With `missing` CRDs removed, a `provider` Canary is not Ready, with
/// reason `RoutingCrdNotInstalled`, a message containing every one of
/// `says` (what is missing, how to install it) and an event; after
/// `install`, it initializes and is Ready.
async fn reported_then_recovers<F>(
    ctx: &TestContext,
    provider: &str,
    missing: &[&str],
    says: &[&str],
    install: F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    for crd in missing {
        remove_crd(&ctx.client, crd).await?;
    }
    let _serin = podinfo_and_serin(ctx).await?;
    let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 }));
    canary["spec"]["provider"] = json!(provider);
    if !provider.starts_with("gatewayapi")
        && let Some(service) = canary["spec"]["service"].as_object_mut()
    {
        service.remove("gatewayRefs");
    }
    fixtures::create_canary(ctx, canary).await?;

    let reported = fixtures::wait_for_status(ctx, "podinfo", "a Ready=False condition", T, |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "RoutingCrdNotInstalled")
    })
    .await?;
    let status = reported.status.unwrap_or_default();
    let message = status.message.unwrap_or_default();
    for part in says {
        assert!(
            message.contains(part),
            "{provider}: the message says what is missing and how to install it ({part}): {message}"
        );
    }
    let reasons = fixtures::event_reasons(ctx, "podinfo").await?;
    assert!(
        reasons.iter().any(|r| r == "RoutingCrdNotInstalled"),
        "{provider}: {reasons:?}"
    );

    install.await?;
    let recovered = fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    let status = recovered.status.unwrap_or_default();
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        "{provider}: {:?}",
        status.conditions
    );
    // The kind is watched from when it appeared, without a restart: a hand
    // edit of the idle Canary's route is put back.
    hand_edit_weights(ctx, provider).await?;
    let what = format!("{provider}: the hand-edited route back at 100/0");
    wait::poll_until(&what, PUT_BACK, Duration::from_millis(200), || async move {
        let split = simulator::routed_weights(&ctx.client, &ctx.namespace, "podinfo", None).await;
        Ok((split == Some((100, 0))).then_some(()))
    })
    .await
}

/// Sets every backend of the provider's route `podinfo` to weight 50, as
/// `kubectl edit` would, and checks the API server stored it.
async fn hand_edit_weights(ctx: &TestContext, provider: &str) -> anyhow::Result<()> {
    let (resource, list) = match provider {
        "linkerd" => (ApiResource::erase::<TrafficSplit>(&()), "/spec/backends"),
        "istio" => (ApiResource::erase::<VirtualService>(&()), "/spec/http/0/route"),
        _ => (fixtures::http_route_resource(), "/spec/rules/0/backendRefs"),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
    let mut route = serde_json::to_value(api.get("podinfo").await?)?;
    for backend in route
        .pointer_mut(list)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        backend["weight"] = json!(50);
    }
    let stored = api
        .replace("podinfo", &PostParams::default(), &serde_json::from_value(route)?)
        .await?;
    let stored = serde_json::to_value(stored)?;
    let weights: Vec<Value> = stored
        .pointer(list)
        .and_then(Value::as_array)
        .map(|backends| backends.iter().map(|b| b["weight"].clone()).collect())
        .unwrap_or_default();
    anyhow::ensure!(
        weights.len() == 2 && weights.iter().all(|w| w == &json!(50) || w == &json!("50")),
        "{provider}: the edit was not stored: {weights:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_provider_crd_is_reported_and_the_canary_recovers_when_it_appears() {
    let _turn = CLUSTER_CRDS.lock().await;
    with_namespace("no-crd", |ctx| async move {
        let install = fixtures::install_smi(&ctx.client);
        let says = ["TrafficSplit CRD", "linkerd smi install"];
        reported_then_recovers(&ctx, "linkerd", &[TRAFFIC_SPLITS], &says, install).await
    })
    .await;
}

#[tokio::test]
async fn missing_istio_crds_are_reported_and_the_canary_recovers_when_they_appear() {
    let _turn = CLUSTER_CRDS.lock().await;
    with_namespace("no-crd-istio", |ctx| async move {
        let missing = [VIRTUAL_SERVICES, DESTINATION_RULES];
        let install = fixtures::install_istio(&ctx.client);
        let says = ["CRD (networking.istio.io/", "istioctl install"];
        reported_then_recovers(&ctx, "istio", &missing, &says, install).await
    })
    .await;
}

/// Istio half installed: the VirtualService CRD is there, the
/// DestinationRule one is not, and the message names the one missing.
#[tokio::test]
async fn a_missing_destination_rule_crd_is_reported_though_virtual_services_exist() {
    let _turn = CLUSTER_CRDS.lock().await;
    with_namespace("no-crd-istio-dr", |ctx| async move {
        fixtures::install_istio(&ctx.client).await?;
        let install = fixtures::install_istio(&ctx.client);
        let says = ["DestinationRule CRD", "istioctl install"];
        reported_then_recovers(&ctx, "istio", &[DESTINATION_RULES], &says, install).await
    })
    .await;
}

#[tokio::test]
async fn a_missing_http_route_crd_is_reported_and_the_canary_recovers_when_it_appears() {
    let _turn = CLUSTER_CRDS.lock().await;
    with_namespace("no-crd-gw", |ctx| async move {
        let install = fixtures::install_gateway_api(&ctx.client);
        let says = ["HTTPRoute CRD", "gateway-api"];
        reported_then_recovers(&ctx, "gatewayapi:v1", &[HTTP_ROUTES], &says, install).await
    })
    .await;
}
