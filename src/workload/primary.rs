//! The `<target>-primary` Deployment: the stable version that serves traffic
//! between rollouts, built from the target's spec.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::configs::rename_tracked_refs;
use super::meta::{canary_namespace, controller_owner, copy_annotations, non_empty};
use super::selector::{rewrite_pod_selectors, rewrite_selector, selector_matches};
use super::{WorkloadError, primary_name, revision, selector_label};
use crate::api::Canary;

/// Pod-template annotation on the primary carrying the promoted revision. Because
/// the revision covers the tracked configs' checksums, a config-only change alters
/// the template and rolls the primary's pods, which would otherwise keep the old
/// files and environment. Deterministic, so re-applying an unchanged primary is a no-op.
pub const REVISION_ANNOTATION: &str = "serin.dev/revision";

/// The primary Deployment for `target`, to create at initialisation and to apply at
/// promotion.
///
/// `tracked_configs` is [`super::tracked_configs`] of the target: exactly those
/// references are renamed to their `-primary` copies, and they enter the revision
/// annotation. `existing_primary`, when it exists, decides the replicas under an
/// autoscaler and keeps its (immutable) selector.
pub fn build_primary(
    canary: &Canary,
    target: &Deployment,
    existing_primary: Option<&Deployment>,
    has_autoscaler: bool,
    tracked_configs: &BTreeMap<String, String>,
) -> Result<Deployment, WorkloadError> {
    let owner = controller_owner(canary)?;
    let namespace = canary_namespace(canary)?;
    let label = selector_label(target)?;
    let target_name = target
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| canary.spec.target_ref.name.clone());
    let name = primary_name(&target_name);
    let spec = target.spec.clone().unwrap_or_default();

    let mut template = spec.template;
    let template_revision = revision(&template, tracked_configs);
    let pod_labels = template.metadata.get_or_insert_with(ObjectMeta::default);
    pod_labels
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(label.key.clone(), label.primary_value());
    pod_labels
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_ANNOTATION.to_string(), template_revision);
    let pod_labels = pod_labels.labels.clone().unwrap_or_default();
    if let Some(pod_spec) = template.spec.as_mut() {
        rename_tracked_refs(pod_spec, tracked_configs);
        rewrite_pod_selectors(pod_spec, &label);
    }

    let mut selector = spec.selector;
    rewrite_selector(&mut selector, &label);
    if let Some(existing) = existing_primary.and_then(|p| p.spec.as_ref()) {
        // The selector is immutable: keep the one the primary was created with (by an
        // earlier serin or by Flagger) as long as it still selects the new pods.
        if !selector_matches(&existing.selector, &pod_labels) {
            return Err(WorkloadError::PrimarySelectorMismatch {
                primary: name,
                existing: existing.selector.match_labels.clone().unwrap_or_default(),
                labels: pod_labels,
            });
        }
        selector = existing.selector.clone();
    }

    let mut labels = target.labels().clone();
    labels.insert(label.key.clone(), label.primary_value());

    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            labels: non_empty(labels),
            annotations: copy_annotations(target.metadata.annotations.as_ref()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(primary_replicas(target, existing_primary, has_autoscaler)),
            selector,
            template,
            strategy: spec.strategy,
            min_ready_seconds: spec.min_ready_seconds,
            revision_history_limit: spec.revision_history_limit,
            progress_deadline_seconds: spec.progress_deadline_seconds,
            paused: None,
        }),
        status: None,
    })
}

/// `spec.replicas` as Kubernetes defaults it.
fn replicas(dep: &Deployment) -> i32 {
    dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Replicas of the primary. Under an autoscaler the primary's current count is the
/// autoscaler's decision and is kept (the target, scaled to zero between rollouts,
/// says nothing about load); a count of zero would disable the autoscaler, so it
/// falls back to the target's, then 1. Without one, the target's count is what
/// the user asked for; when the target is at zero the primary keeps its own.
pub fn primary_replicas(
    target: &Deployment,
    existing_primary: Option<&Deployment>,
    has_autoscaler: bool,
) -> i32 {
    let target_replicas = replicas(target);
    let primary_replicas = existing_primary.map(replicas);
    if has_autoscaler {
        [primary_replicas, Some(target_replicas)]
            .into_iter()
            .flatten()
            .find(|r| *r > 0)
            .unwrap_or(1)
    } else if target_replicas > 0 {
        target_replicas
    } else {
        primary_replicas.unwrap_or(1)
    }
}

/// Replicas to give the target when it is scaled up to run a canary: its own count
/// if it has one, else the primary's, else the autoscaler's minimum if above 1, else 1.
pub fn scale_up_replicas(target: &Deployment, primary: Option<&Deployment>, hpa_min: Option<i32>) -> i32 {
    [Some(replicas(target)), primary.map(replicas)]
        .into_iter()
        .flatten()
        .find(|r| *r > 0)
        .or(hpa_min.filter(|m| *m > 1))
        .unwrap_or(1)
}
