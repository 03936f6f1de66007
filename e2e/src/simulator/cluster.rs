//! Reads what the simulator routes by: the HTTPRoute's weights, the primary
//! and canary Deployments, and their pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod as KubePod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::traffic::{Annotated, Pod, Snapshot, Workload};
use super::{Behaviour, ERROR_RATE_ANNOTATION, LATENCY_ANNOTATION};
use crate::TestContext;

/// Reads per tick: Deployments, Pods and the routing object (HTTPRoute,
/// else TrafficSplit, else VirtualService). None of them, or no CRD for
/// them, is "no route".
pub(crate) async fn snapshot(
    client: &Client,
    namespace: &str,
    target: &str,
    route: &str,
) -> anyhow::Result<Snapshot> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let pods: Api<KubePod> = Api::namespaced(client.clone(), namespace);
    let list = ListParams::default();
    let (deployments, pods) = tokio::try_join!(deployments.list(&list), pods.list(&list))?;
    let routes = super::routes::rules(client, namespace, route).await;
    let workload = |name: &str| {
        let deployment = deployments.items.iter().find(|d| d.name_any() == name)?;
        Some(Workload {
            name: name.to_string(),
            pods: pods
                .items
                .iter()
                .filter(|p| selects(deployment, p))
                .map(pod)
                .collect(),
        })
    };
    Ok(Snapshot {
        routes,
        primary: workload(&format!("{target}-primary")),
        canary: workload(target),
    })
}

/// Only `matchLabels` are honoured; an empty selector selects nothing here,
/// so a malformed fixture cannot claim every pod in the namespace.
fn selects(deployment: &Deployment, pod: &KubePod) -> bool {
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .filter(|m| !m.is_empty());
    let Some(wanted) = wanted else { return false };
    let labels = pod.labels();
    wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn pod(pod: &KubePod) -> Pod {
    let ready = pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    Pod {
        name: pod.name_any(),
        ready,
        annotated: annotated(pod.annotations()),
    }
}

pub(crate) fn annotated(annotations: &BTreeMap<String, String>) -> Annotated {
    let number = |key: &str| {
        let raw = annotations.get(key)?;
        let parsed = raw.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        if parsed.is_none() {
            tracing::warn!(annotation = key, value = %raw, "simulator: ignoring a value that is not a number");
        }
        parsed
    };
    Annotated {
        error_rate: number(ERROR_RATE_ANNOTATION),
        latency_ms: number(LATENCY_ANNOTATION),
    }
}

/// Sets the behaviour annotations on a Deployment's pod template. This is a
/// template change, so it also makes a new revision (and new pods) as a
/// user's release would.
pub async fn annotate_behaviour(
    ctx: &TestContext,
    deployment: &str,
    behaviour: Behaviour,
) -> anyhow::Result<()> {
    let api: Api<Deployment> = ctx.api();
    let patch = json!({ "spec": { "template": { "metadata": { "annotations": {
        ERROR_RATE_ANNOTATION: behaviour.error_rate.to_string(),
        LATENCY_ANNOTATION: behaviour.latency_ms.to_string(),
    } } } } });
    api.patch(deployment, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
