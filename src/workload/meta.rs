//! Metadata shared by every generated object: owner references, namespace, copied annotations.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::WorkloadError;
use crate::api::Canary;

/// Owner reference that makes the Canary the controller of a generated object, so
/// deleting the Canary garbage-collects it and watches can map it back.
/// `blockOwnerDeletion` keeps a foreground deletion of the Canary waiting until the
/// object is gone.
pub(crate) fn controller_owner(canary: &Canary) -> Result<OwnerReference, WorkloadError> {
    let owner = canary.owner_ref(&()).ok_or_else(|| WorkloadError::MissingUid {
        kind: "Canary",
        name: canary.name_any(),
    })?;
    Ok(OwnerReference {
        controller: Some(true),
        block_owner_deletion: Some(true),
        ..owner
    })
}

/// Owner reference without `controller`: a ConfigMap/Secret copy may be shared by
/// several Canaries whose targets mount the same config, and an object can have only
/// one controller but any number of owners. It is collected once the last owner goes.
pub(crate) fn shared_owner(canary: &Canary) -> Result<OwnerReference, WorkloadError> {
    let mut owner = controller_owner(canary)?;
    owner.controller = None;
    Ok(owner)
}

pub(crate) fn canary_namespace(canary: &Canary) -> Result<String, WorkloadError> {
    canary.namespace().ok_or_else(|| WorkloadError::MissingNamespace {
        kind: "Canary",
        name: canary.name_any(),
    })
}

/// Annotations that describe the source object itself (how it was applied, which
/// Flux object owns it, the Deployment controller's bookkeeping); copying them would
/// make tools treat the copy as the original or fight the controller over them.
fn is_source_only_annotation(key: &str) -> bool {
    key == "kubectl.kubernetes.io/last-applied-configuration"
        || key.contains("toolkit.fluxcd.io")
        || key.starts_with("deployment.kubernetes.io/")
}

pub(crate) fn copy_annotations(
    annotations: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let copied: BTreeMap<String, String> = annotations
        .into_iter()
        .flatten()
        .filter(|(k, _)| !is_source_only_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!copied.is_empty()).then_some(copied)
}

/// `None` for an empty map, so generated objects do not carry `labels: {}`.
pub(crate) fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}
