//! Shared by the controller-driven mesh rollout tests (`canary_mesh_*.rs`):
//! a `podinfo` Deployment with serin and the provider's CRDs, a Canary for a
//! provider, and the splits its route shows, read as the simulator reads them.

use std::time::Duration;

use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use serde_json::{Value, json};
use serin::api::{Canary, Phase};

use crate::serin::SerinProcess;
use crate::simulator::{self, Header};
use crate::{TestContext, fixtures, wait};

pub const T: Duration = Duration::from_secs(120);
pub const ALL_PRIMARY: (i64, i64) = (100, 0);

/// Builtin success rate and latency, gated on a few requests so a step the
/// canary has not been reached in yet is held, not judged.
pub fn builtin_metrics() -> Value {
    json!([
        { "name": "request-success-rate", "interval": "10s", "minRequests": 10, "thresholdRange": { "min": 99 } },
        { "name": "request-duration", "interval": "10s", "minRequests": 10, "thresholdRange": { "max": 500 } }
    ])
}

/// serin's and the provider's CRDs, a `podinfo` Deployment and serin running.
pub async fn setup(ctx: &TestContext, provider: &str) -> anyhow::Result<SerinProcess> {
    match provider {
        "istio" => fixtures::install_istio(&ctx.client).await?,
        "linkerd" => fixtures::install_smi(&ctx.client).await?,
        _ => {}
    }
    fixtures::podinfo_with_serin(ctx, "podinfo:1", 1).await
}

/// A `podinfo` Canary for `provider` (2s interval) with `analysis` merged in.
pub fn canary(provider: &str, analysis: Value) -> Value {
    let mut canary = fixtures::gatewayapi_canary("podinfo", "2s", analysis);
    canary["spec"]["provider"] = json!(provider);
    canary["spec"]["metricsServer"] = json!(crate::env::prometheus_url());
    if let Some(service) = canary["spec"]["service"].as_object_mut()
        && !provider.starts_with("gatewayapi")
    {
        service.remove("gatewayRefs");
    }
    canary
}

/// Creates the Canary and waits until it is initialized and the target's
/// own pods are gone (their series would count as the canary's).
pub async fn initialize(ctx: &TestContext, body: Value) -> anyhow::Result<Canary> {
    fixtures::create_canary(ctx, body).await?;
    let canary = fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    fixtures::wait_for_no_pods(ctx, "podinfo", T).await?;
    Ok(canary)
}

pub async fn routed(ctx: &TestContext, header: Header<'_>) -> Option<(i64, i64)> {
    simulator::routed_weights(&ctx.client, &ctx.namespace, "podinfo", header).await
}

/// Every distinct split the route showed (for requests without a header)
/// until the Canary reached `phase`, read as the traffic reads it.
pub async fn splits_until(ctx: &TestContext, phase: Phase) -> anyhow::Result<Vec<(i64, i64)>> {
    fixtures::splits_until(ctx, "podinfo", phase, T).await
}

/// Waits until a request carrying `header` is routed by `split`.
pub async fn wait_for_split(ctx: &TestContext, header: Header<'_>, split: (i64, i64)) -> anyhow::Result<()> {
    let what = format!("requests with {header:?} routed {split:?}");
    wait::poll_until(&what, T, Duration::from_millis(200), || async move {
        Ok((routed(ctx, header).await == Some(split)).then_some(()))
    })
    .await
}

/// Objects as stored, with the fields serin's types do not know.
pub fn stored_api<K: kube::Resource<DynamicType = ()>>(ctx: &TestContext) -> Api<DynamicObject> {
    Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &ApiResource::erase::<K>(&()))
}
