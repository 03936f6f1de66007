//! The mesh routing objects serin owns are watched: a hand edit of an idle
//! Canary's TrafficSplit or VirtualService weights, or a deleted
//! DestinationRule, is put back at once. An idle Canary is never requeued,
//! so without the watches these edits would stay until something else
//! touched the Canary.

use std::time::Duration;

use anyhow::Context as _;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use serde_json::{Value, json};
use serin::api::Phase;
use serin::router::istio_types::{DestinationRule, VirtualService};
use serin::router::smi_types::v1alpha2::TrafficSplit;
use serin_e2e::simulator;
use serin_e2e::{TestContext, fixtures, wait, with_namespace};

const T: Duration = Duration::from_secs(60);
/// Far shorter than anything but a watch-triggered reconcile would take.
const PUT_BACK: Duration = Duration::from_secs(15);

async fn initialized(ctx: &TestContext, provider: &str) -> anyhow::Result<serin_e2e::serin::SerinProcess> {
    match provider {
        "istio" => fixtures::install_istio(&ctx.client).await?,
        _ => fixtures::install_smi(&ctx.client).await?,
    }
    let serin = fixtures::podinfo_with_serin(ctx, "podinfo:1", 1).await?;
    let mut canary =
        fixtures::gatewayapi_canary("podinfo", "2s", json!({ "stepWeight": 50, "maxWeight": 50 }));
    canary["spec"]["provider"] = json!(provider);
    if let Some(service) = canary["spec"]["service"].as_object_mut() {
        service.remove("gatewayRefs");
    }
    fixtures::create_canary(ctx, canary).await?;
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    wait_for_split(ctx, (100, 0)).await?;
    Ok(serin)
}

async fn wait_for_split(ctx: &TestContext, split: (i64, i64)) -> anyhow::Result<()> {
    let what = format!("the route to split {split:?}");
    wait::poll_until(&what, PUT_BACK, Duration::from_millis(100), || async move {
        let seen = simulator::routed_weights(&ctx.client, &ctx.namespace, "podinfo", None).await;
        Ok((seen == Some(split)).then_some(()))
    })
    .await
}

/// Replaces the object after `edit` changed its JSON, as `kubectl edit`
/// would, and returns what the API server stored.
async fn hand_edit(api: &Api<DynamicObject>, edit: impl FnOnce(&mut Value)) -> anyhow::Result<Value> {
    let object = api.get("podinfo").await?;
    let mut json = serde_json::to_value(&object)?;
    edit(&mut json);
    let edited: DynamicObject = serde_json::from_value(json)?;
    let stored = api.replace("podinfo", &PostParams::default(), &edited).await?;
    Ok(serde_json::to_value(stored)?)
}

/// Every `weight` in the list at `pointer`.
fn weights(object: &Value, pointer: &str) -> Vec<Value> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|item| item["weight"].clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_hand_edited_traffic_split_is_put_back() {
    with_namespace("mesh-drift-smi", |ctx| async move {
        let _serin = initialized(&ctx, "linkerd").await?;
        let api: Api<DynamicObject> = Api::namespaced_with(
            ctx.client.clone(),
            &ctx.namespace,
            &ApiResource::erase::<TrafficSplit>(&()),
        );
        let stored = hand_edit(&api, |split| {
            for backend in split["spec"]["backends"].as_array_mut().into_iter().flatten() {
                backend["weight"] = json!(50);
            }
        })
        .await?;
        let edited = weights(&stored, "/spec/backends");
        anyhow::ensure!(
            edited == [json!(50), json!(50)],
            "the edit was not stored: {edited:?}"
        );
        wait_for_split(&ctx, (100, 0)).await
    })
    .await;
}

#[tokio::test]
async fn a_hand_edited_virtual_service_and_a_deleted_destination_rule_are_put_back() {
    with_namespace("mesh-drift-istio", |ctx| async move {
        let _serin = initialized(&ctx, "istio").await?;
        let services: Api<DynamicObject> = Api::namespaced_with(
            ctx.client.clone(),
            &ctx.namespace,
            &ApiResource::erase::<VirtualService>(&()),
        );
        let stored = hand_edit(&services, |vs| {
            for route in vs["spec"]["http"][0]["route"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                route["weight"] = json!(50);
            }
        })
        .await?;
        let edited = weights(&stored, "/spec/http/0/route");
        anyhow::ensure!(
            edited == [json!(50), json!(50)],
            "the edit was not stored: {edited:?}"
        );
        wait_for_split(&ctx, (100, 0)).await?;

        let rules: Api<DestinationRule> = ctx.api();
        let old_uid = rules.get("podinfo-canary").await?.metadata.uid;
        rules.delete("podinfo-canary", &Default::default()).await?;
        wait::poll_until(
            "the canary DestinationRule to come back",
            PUT_BACK,
            Duration::from_millis(100),
            || {
                let (rules, old_uid) = (rules.clone(), old_uid.clone());
                async move {
                    let rule = rules.get_opt("podinfo-canary").await?;
                    // Not the deleted object: a new one, with serin's spec.
                    Ok(rule
                        .filter(|r| r.metadata.uid != old_uid)
                        .map(|r| r.spec.host)
                        .filter(|host| host.starts_with("podinfo-canary")))
                }
            },
        )
        .await
        .context("deleted DestinationRule")?;
        Ok(())
    })
    .await;
}
