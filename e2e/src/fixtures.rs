//! Objects the rollout tests share: a podinfo-like Deployment, Canaries,
//! and readers for the objects serin writes.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{DynamicObject, GroupVersionKind, ObjectMeta, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::{Value, json};
use serin::api::{Canary, Phase};

use crate::{TestContext, wait};

pub fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    let labels: BTreeMap<String, String> = [("app".to_string(), name.to_string())].into();
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "podinfod".to_string(),
                        image: Some(image.to_string()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Sets the image of the first container, as a user bumping a tag would.
pub async fn set_image(ctx: &TestContext, name: &str, image: &str) -> anyhow::Result<()> {
    let api: Api<Deployment> = ctx.api();
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "podinfod", "image": image }] } } } });
    api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    Ok(())
}

pub fn image_of(dep: &Deployment) -> Option<String> {
    dep.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

pub fn replicas_of(dep: &Deployment) -> Option<i32> {
    dep.spec.as_ref()?.replicas
}

/// A gatewayapi Canary in Flagger's shape.
pub fn gatewayapi_canary(name: &str, interval: &str, analysis: Value) -> Value {
    let mut analysis_obj = json!({ "interval": interval, "threshold": 2 });
    if let (Some(base), Some(extra)) = (analysis_obj.as_object_mut(), analysis.as_object()) {
        base.extend(extra.clone());
    }
    json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": { "name": name },
        "spec": {
            "provider": "gatewayapi:v1",
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": name },
            "progressDeadlineSeconds": 60,
            "service": { "port": 9898, "gatewayRefs": [{ "name": "public-gateway", "namespace": "gateways" }] },
            "analysis": analysis_obj
        }
    })
}

pub async fn create_canary(ctx: &TestContext, body: Value) -> anyhow::Result<Canary> {
    let api: Api<Canary> = ctx.api();
    let canary: Canary = serde_json::from_value(body).context("Canary fixture")?;
    Ok(api.create(&Default::default(), &canary).await?)
}

/// Waits until the Canary reaches `phase`, failing early if it reaches `Failed` instead.
pub async fn wait_for_phase(
    ctx: &TestContext,
    name: &str,
    phase: Phase,
    timeout: Duration,
) -> anyhow::Result<Canary> {
    let api: Api<Canary> = ctx.api();
    let what = format!("Canary {name} to reach {}", phase.as_str());
    wait::poll_until(&what, timeout, Duration::from_millis(200), || {
        let api = api.clone();
        async move {
            let canary = api.get(name).await?;
            let current = canary.status.as_ref().map(|s| s.phase).unwrap_or_default();
            if current == phase {
                return Ok(Some(canary));
            }
            if current == Phase::Failed && phase != Phase::Failed {
                let message = canary
                    .status
                    .as_ref()
                    .and_then(|s| s.message.clone())
                    .unwrap_or_default();
                return Err(anyhow!("Canary {name} failed: {message}"));
            }
            Ok(None)
        }
    })
    .await
}

pub fn http_route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

pub fn http_routes(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &http_route_resource())
}

/// `(primary, canary)` weights of an HTTPRoute's backendRefs, by Service
/// name suffix, from the first rule that has a canary backend (the A/B
/// rule before the primary-only default one; the split otherwise).
pub fn route_weights(route: &DynamicObject) -> Option<(i64, i64)> {
    let rules = route.data.get("spec")?.get("rules")?.as_array()?;
    rules.iter().find_map(|rule| {
        let backends = rule.get("backendRefs")?.as_array()?;
        let weight = |suffix: &str| {
            backends
                .iter()
                .find(|b| {
                    b.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.ends_with(suffix))
                })
                .map(|b| b.get("weight").and_then(Value::as_i64).unwrap_or(1))
        };
        Some((weight("-primary")?, weight("-canary")?))
    })
}

/// The Gateway API HTTPRoute CRD generated from serin's router types (the
/// same as `e2e/crds/gateway-api-httproute.yaml`, which a unit test keeps in step).
pub async fn install_gateway_api(client: &Client) -> anyhow::Result<()> {
    use kube::CustomResourceExt;
    crate::crds::install(client, vec![serin::router::gatewayapi_types::HTTPRoute::crd()]).await
}

/// Sets (or with `None` removes) an annotation on the Canary, as `kubectl annotate` would.
pub async fn annotate_canary(
    ctx: &TestContext,
    name: &str,
    key: &str,
    value: Option<&str>,
) -> anyhow::Result<()> {
    let api: Api<Canary> = ctx.api();
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Waits until the Canary's status satisfies `check`.
pub async fn wait_for_status(
    ctx: &TestContext,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&serin::api::CanaryStatus) -> bool,
) -> anyhow::Result<Canary> {
    // A watch, not a poll: intermediate states (one failed check, one step)
    // may last less than a poll period on a loaded machine.
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let api: Api<Canary> = ctx.api();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut seen = Box::pin(watcher(api, config).applied_objects());
    let mut last = String::from("no status yet");
    let watch = async {
        while let Some(canary) = seen.next().await {
            let canary = canary?;
            if let Some(status) = canary.status.as_ref() {
                if check(status) {
                    return Ok(canary);
                }
                last = format!("{:?} {:?}", status.phase, status.message);
            }
        }
        Err(anyhow!("the watch of Canary {name} ended"))
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(found) => found,
        Err(_) => Err(anyhow!(
            "timed out after {timeout:?} waiting for {what}; last status: {last}"
        )),
    }
}

/// Asserts that `check` keeps holding for `period`: for properties such as
/// "a paused canary does not advance", which can only be observed over time.
pub async fn holds_for(
    ctx: &TestContext,
    name: &str,
    what: &str,
    period: Duration,
    check: impl Fn(&serin::api::CanaryStatus) -> bool,
) -> anyhow::Result<()> {
    let api: Api<Canary> = ctx.api();
    let deadline = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < deadline {
        let canary = api.get(name).await?;
        let status = canary.status.unwrap_or_default();
        if !check(&status) {
            return Err(anyhow!(
                "expected {what} for {period:?}, but the status became {status:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Reasons of the events recorded for a Canary, oldest first.
pub async fn event_reasons(ctx: &TestContext, name: &str) -> anyhow::Result<Vec<String>> {
    Ok(events(ctx, name)
        .await?
        .into_iter()
        .map(|(reason, _)| reason)
        .collect())
}

/// `(reason, note)` of the events of Canary `name`, oldest first.
pub async fn events(ctx: &TestContext, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let api: Api<k8s_openapi::api::events::v1::Event> = ctx.api();
    let mut events: Vec<_> = api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.name.as_deref() == Some(name) && r.kind.as_deref() == Some("Canary"))
        })
        .collect();
    events.sort_by_key(|e| e.event_time.clone().map(|t| t.0));
    Ok(events
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect())
}

/// The usual start of a rollout test: serin's and Gateway API's CRDs, a
/// `podinfo` Deployment, and serin running for the test's namespace.
pub async fn podinfo_with_serin(
    ctx: &TestContext,
    image: &str,
    replicas: i32,
) -> anyhow::Result<crate::serin::SerinProcess> {
    crate::crds::install_serin(&ctx.client).await?;
    install_gateway_api(&ctx.client).await?;
    let deployments: Api<Deployment> = ctx.api();
    deployments
        .create(&Default::default(), &deployment("podinfo", image, replicas))
        .await?;
    crate::serin::SerinProcess::controller(ctx, &[]).await
}

/// `podinfo` with serin running and a gatewayapi Canary for it, initialized.
pub async fn initialized_podinfo(
    ctx: &TestContext,
    interval: &str,
    analysis: Value,
) -> anyhow::Result<crate::serin::SerinProcess> {
    let serin = podinfo_with_serin(ctx, "podinfo:1", 1).await?;
    create_canary(ctx, gatewayapi_canary("podinfo", interval, analysis)).await?;
    wait_for_phase(ctx, "podinfo", Phase::Initialized, Duration::from_secs(60)).await?;
    Ok(serin)
}

/// The SMI TrafficSplit CRD (v1alpha1–v1alpha3) generated from serin's router types.
pub async fn install_smi(client: &Client) -> anyhow::Result<()> {
    crate::crds::install(client, vec![serin::router::smi_types::crd()?]).await
}

/// Istio's VirtualService and DestinationRule CRDs generated from serin's router types.
pub async fn install_istio(client: &Client) -> anyhow::Result<()> {
    use kube::CustomResourceExt;
    use serin::router::istio_types::{DestinationRule, VirtualService};
    crate::crds::install(client, vec![VirtualService::crd(), DestinationRule::crd()]).await
}

/// Waits until the pods of Deployment `app` (selected by `app=<app>`) are
/// gone. Simulated traffic starts after this: series the target's own pods
/// served before serin took over would match the canary's pod-name regex
/// for a whole query window.
pub async fn wait_for_no_pods(ctx: &TestContext, app: &str, timeout: Duration) -> anyhow::Result<()> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = ctx.api();
    let selector = format!("app={app}");
    wait::poll_until(
        &format!("the pods of {app} to go"),
        timeout,
        Duration::from_millis(200),
        || {
            let (pods, selector) = (pods.clone(), selector.clone());
            async move {
                Ok(pods
                    .list(&kube::api::ListParams::default().labels(&selector))
                    .await?
                    .items
                    .is_empty()
                    .then_some(()))
            }
        },
    )
    .await
}

/// A Canary for router tests: the controller does not run, the object only
/// needs to exist so routing objects can name it as their owner.
pub async fn router_canary(
    ctx: &TestContext,
    name: &str,
    provider: &str,
    service: Value,
) -> anyhow::Result<Canary> {
    let canary: Canary = serde_json::from_value(json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": { "name": name },
        "spec": {
            "provider": provider,
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": name },
            "service": service,
            "analysis": { "interval": "10s", "stepWeight": 20, "maxWeight": 60 }
        }
    }))?;
    Ok(ctx.api::<Canary>().create(&Default::default(), &canary).await?)
}

/// The first apply right after a CRD became Established may still race its
/// REST handler on a busy server; retry only that, briefly.
pub async fn first_apply(
    router: &dyn serin::router::Router,
    canary: &Canary,
    weights: serin::rollout::Weights,
) -> anyhow::Result<()> {
    use serin::router::RouterError;
    let outcome = wait::poll_until(
        &format!("the first apply of the {} routing objects", router.name()),
        Duration::from_secs(15),
        Duration::from_millis(250),
        || async {
            match router.apply(canary, weights).await {
                Err(err @ RouterError::CrdNotInstalled { .. }) => Err(err.into()),
                done => Ok(Some(done)),
            }
        },
    )
    .await?;
    outcome.map_err(|err| anyhow!("apply failed: {}", serin::error::chain(&err)))
}

/// Creates `object` of a kind whose CRD was just installed: like
/// [`first_apply`], the first write may race the kind's REST handler on a
/// busy server, so a missing kind (a bare 404) is retried, briefly.
pub async fn create_fresh_kind(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
) -> anyhow::Result<DynamicObject> {
    wait::poll_until(
        "the first create of a freshly installed kind",
        Duration::from_secs(15),
        Duration::from_millis(250),
        || async {
            match api.create(&Default::default(), object).await {
                Err(kube::Error::Api(status)) if status.code == 404 => Err(anyhow!("{}", status.message)),
                done => Ok(Some(done)),
            }
        },
    )
    .await?
    .map_err(Into::into)
}

/// Every distinct `(primary, canary)` split the route `name` showed to
/// requests without an A/B header until Canary `name` reached `phase`, read
/// as the simulator's traffic reads it (HTTPRoute, TrafficSplit or
/// VirtualService). Fails early if the Canary ends (fails or succeeds)
/// while waiting for another phase. Polled, so a split must last a poll period (200 ms) to be
/// seen: every step of a rollout lasts an analysis interval.
pub async fn splits_until(
    ctx: &TestContext,
    name: &str,
    phase: Phase,
    timeout: Duration,
) -> anyhow::Result<Vec<(i64, i64)>> {
    let api: Api<Canary> = ctx.api();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen: Vec<(i64, i64)> = Vec::new();
    loop {
        if let Some(split) = crate::simulator::routed_weights(&ctx.client, &ctx.namespace, name, None).await
            && seen.last() != Some(&split)
        {
            seen.push(split);
        }
        let current = api.get(name).await?.status.unwrap_or_default().phase;
        if current == phase {
            return Ok(seen);
        }
        anyhow::ensure!(
            !matches!(current, Phase::Failed | Phase::Succeeded),
            "the Canary reached {} waiting for {}; splits seen: {seen:?}",
            current.as_str(),
            phase.as_str()
        );
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {}; splits seen: {seen:?}",
            phase.as_str()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every distinct `status.iterations` Canary `name` wrote, in order, until
/// it reached `phase`. A watch, not a poll, so no write is missed however
/// short it stands (Kubernetes events cannot tell: the recorder folds events
/// of one reason into a series that keeps the first note).
pub async fn iterations_until(
    ctx: TestContext,
    name: String,
    phase: Phase,
    timeout: Duration,
) -> anyhow::Result<Vec<i32>> {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let api: Api<Canary> = ctx.api();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut updates = Box::pin(watcher(api, config).applied_objects());
    let mut seen: Vec<i32> = Vec::new();
    let watch = async {
        while let Some(canary) = updates.next().await {
            let status = canary?.status.unwrap_or_default();
            if seen.last() != Some(&status.iterations) {
                seen.push(status.iterations);
            }
            if status.phase == phase {
                return Ok(());
            }
        }
        Err(anyhow!("the watch of Canary {name} ended"))
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(done) => done.map(|()| seen),
        Err(_) => Err(anyhow!(
            "timed out after {timeout:?} waiting for {}; iterations seen: {seen:?}",
            phase.as_str()
        )),
    }
}
