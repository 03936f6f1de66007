//! ConfigMap and Secret tracking: which configs a pod template uses, their
//! checksums, and the `-primary` copies the primary Deployment mounts instead.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use super::meta::{copy_annotations, shared_owner};
use super::revision::short_hex;
use super::{WorkloadError, config_map_key, primary_name, secret_key};
use crate::api::Canary;

/// Opt-out annotation on a ConfigMap or Secret; any value starting with `disable` turns tracking off.
pub const CONFIG_TRACKING_ANNOTATION: &str = "serin.dev/config-tracking";
/// Flagger's spelling of [`CONFIG_TRACKING_ANNOTATION`], honoured so Flagger manifests keep working.
pub const FLAGGER_CONFIG_TRACKING_ANNOTATION: &str = "flagger.app/config-tracking";

/// Names of the ConfigMaps and Secrets a pod spec references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackedRefs {
    pub config_maps: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RefKind {
    ConfigMap,
    Secret,
}

/// Calls `f(kind, name, optional)` for every ConfigMap/Secret reference a pod can
/// resolve at start: volumes (plain and projected) and `env`/`envFrom` of containers
/// and init containers. Taking `&mut` lets one walk serve both scanning and renaming.
pub(crate) fn visit_refs(spec: &mut PodSpec, f: &mut dyn FnMut(RefKind, &mut String, bool)) {
    let optional = |o: Option<bool>| o.unwrap_or(false);
    for volume in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = volume.config_map.as_mut() {
            f(RefKind::ConfigMap, &mut cm.name, optional(cm.optional));
        }
        if let Some(secret) = volume.secret.as_mut()
            && let Some(name) = secret.secret_name.as_mut()
        {
            f(RefKind::Secret, name, optional(secret.optional));
        }
        let sources = volume.projected.as_mut().and_then(|p| p.sources.as_mut());
        for source in sources.into_iter().flatten() {
            if let Some(cm) = source.config_map.as_mut() {
                f(RefKind::ConfigMap, &mut cm.name, optional(cm.optional));
            }
            if let Some(secret) = source.secret.as_mut() {
                f(RefKind::Secret, &mut secret.name, optional(secret.optional));
            }
        }
    }
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for container in containers {
        visit_container_refs(container, f);
    }
}

fn visit_container_refs(container: &mut Container, f: &mut dyn FnMut(RefKind, &mut String, bool)) {
    let optional = |o: Option<bool>| o.unwrap_or(false);
    for env in container.env.iter_mut().flatten() {
        let Some(source) = env.value_from.as_mut() else {
            continue;
        };
        if let Some(cm) = source.config_map_key_ref.as_mut() {
            f(RefKind::ConfigMap, &mut cm.name, optional(cm.optional));
        }
        if let Some(secret) = source.secret_key_ref.as_mut() {
            f(RefKind::Secret, &mut secret.name, optional(secret.optional));
        }
    }
    for env_from in container.env_from.iter_mut().flatten() {
        if let Some(cm) = env_from.config_map_ref.as_mut() {
            f(RefKind::ConfigMap, &mut cm.name, optional(cm.optional));
        }
        if let Some(secret) = env_from.secret_ref.as_mut() {
            f(RefKind::Secret, &mut secret.name, optional(secret.optional));
        }
    }
}

/// Every referenced name with whether the pod needs it: a name is required when
/// at least one of its references is not `optional: true`.
fn refs_with_requirement(spec: &PodSpec) -> BTreeMap<(RefKind, String), bool> {
    let mut refs = BTreeMap::new();
    visit_refs(&mut spec.clone(), &mut |kind, name, optional| {
        if !name.is_empty() {
            *refs.entry((kind, name.clone())).or_insert(false) |= !optional;
        }
    });
    refs
}

/// The ConfigMaps and Secrets `pod_spec` references, whether or not they exist or are tracked.
pub fn tracked_refs(pod_spec: &PodSpec) -> TrackedRefs {
    let mut refs = TrackedRefs::default();
    for (kind, name) in refs_with_requirement(pod_spec).into_keys() {
        match kind {
            RefKind::ConfigMap => refs.config_maps.insert(name),
            RefKind::Secret => refs.secrets.insert(name),
        };
    }
    refs
}

/// Points the references to tracked configs at their `-primary` copies; untracked
/// ones (opted out, unsupported Secret types, missing optional) keep the original.
pub(crate) fn rename_tracked_refs(spec: &mut PodSpec, tracked: &BTreeMap<String, String>) {
    visit_refs(spec, &mut |kind, name, _| {
        let key = match kind {
            RefKind::ConfigMap => config_map_key(name),
            RefKind::Secret => secret_key(name),
        };
        if tracked.contains_key(&key) {
            *name = primary_name(name);
        }
    });
}

/// Secret types whose content is application configuration. Service-account
/// tokens and registry credentials are managed elsewhere and are not copied.
pub fn is_tracked_secret_type(type_: Option<&str>) -> bool {
    matches!(
        type_.unwrap_or(""),
        "" | "Opaque" | "kubernetes.io/basic-auth" | "kubernetes.io/ssh-auth" | "kubernetes.io/tls"
    )
}

/// The object opts out of tracking with `serin.dev/config-tracking` (or Flagger's
/// `flagger.app/config-tracking`) set to a value starting with `disable`.
pub fn config_tracking_disabled(meta: &ObjectMeta) -> bool {
    let annotations = meta.annotations.iter().flatten();
    annotations
        .filter(|(k, _)| *k == CONFIG_TRACKING_ANNOTATION || *k == FLAGGER_CONFIG_TRACKING_ANNOTATION)
        .any(|(_, v)| v.trim().to_ascii_lowercase().starts_with("disable"))
}

/// Hashes a canonical JSON document. Absent and empty maps hash alike because the
/// API server does not distinguish them either.
fn checksum_of(doc: serde_json::Value) -> String {
    short_hex(&Sha256::digest(doc.to_string()))
}

/// Changes whenever the ConfigMap's `data` or `binaryData` changes.
pub fn config_map_checksum(cm: &ConfigMap) -> String {
    checksum_of(serde_json::json!({
        "data": cm.data.clone().unwrap_or_default(),
        "binaryData": cm.binary_data.clone().unwrap_or_default(),
    }))
}

/// Changes whenever the Secret's `data` or `stringData` changes.
pub fn secret_checksum(secret: &Secret) -> String {
    checksum_of(serde_json::json!({
        "data": secret.data.clone().unwrap_or_default(),
        "stringData": secret.string_data.clone().unwrap_or_default(),
    }))
}

/// Checksums of the configs the target's pod template uses and serin tracks, keyed
/// `configmap/<name>` / `secret/<name>`. `config_maps` and `secrets` are the objects
/// found in the target's namespace; references to absent objects marked
/// `optional: true` are skipped.
pub fn tracked_configs(
    target: &Deployment,
    config_maps: &[ConfigMap],
    secrets: &[Secret],
) -> Result<BTreeMap<String, String>, WorkloadError> {
    let Some(pod_spec) = target.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Ok(BTreeMap::new());
    };
    let namespace = target.namespace();
    let in_namespace = |meta: &ObjectMeta, name: &str| {
        meta.name.as_deref() == Some(name)
            && (namespace.is_none() || meta.namespace.is_none() || meta.namespace == namespace)
    };
    let mut tracked = BTreeMap::new();
    for ((kind, name), required) in refs_with_requirement(pod_spec) {
        match kind {
            RefKind::ConfigMap => match config_maps.iter().find(|cm| in_namespace(&cm.metadata, &name)) {
                Some(cm) if config_tracking_disabled(&cm.metadata) => {}
                Some(cm) => {
                    tracked.insert(config_map_key(&name), config_map_checksum(cm));
                }
                None if required => {
                    let deployment = target.name_any();
                    return Err(WorkloadError::MissingConfigMap { name, deployment });
                }
                None => {}
            },
            RefKind::Secret => match secrets.iter().find(|s| in_namespace(&s.metadata, &name)) {
                Some(s) if config_tracking_disabled(&s.metadata) => {}
                Some(s) if !is_tracked_secret_type(s.type_.as_deref()) => {}
                Some(s) => {
                    tracked.insert(secret_key(&name), secret_checksum(s));
                }
                None if required => {
                    let deployment = target.name_any();
                    return Err(WorkloadError::MissingSecret { name, deployment });
                }
                None => {}
            },
        }
    }
    Ok(tracked)
}

/// Metadata of a `-primary` config copy. `immutable` is deliberately not copied:
/// the copy is rewritten at every promotion, which an immutable object would refuse.
fn copy_meta(canary: &Canary, original: &ObjectMeta) -> Result<ObjectMeta, WorkloadError> {
    let name = original.name.clone().unwrap_or_default();
    Ok(ObjectMeta {
        name: Some(primary_name(&name)),
        namespace: match &original.namespace {
            Some(ns) => Some(ns.clone()),
            None => Some(super::meta::canary_namespace(canary)?),
        },
        labels: original.labels.clone().filter(|l| !l.is_empty()),
        annotations: copy_annotations(original.annotations.as_ref()),
        owner_references: Some(vec![shared_owner(canary)?]),
        ..ObjectMeta::default()
    })
}

/// The `<name>-primary` copy of a tracked ConfigMap that the primary mounts.
pub fn primary_config_map(canary: &Canary, cm: &ConfigMap) -> Result<ConfigMap, WorkloadError> {
    Ok(ConfigMap {
        metadata: copy_meta(canary, &cm.metadata)?,
        data: cm.data.clone(),
        binary_data: cm.binary_data.clone(),
        immutable: None,
    })
}

/// The `<name>-primary` copy of a tracked Secret that the primary mounts.
pub fn primary_secret(canary: &Canary, secret: &Secret) -> Result<Secret, WorkloadError> {
    Ok(Secret {
        metadata: copy_meta(canary, &secret.metadata)?,
        data: secret.data.clone(),
        string_data: secret.string_data.clone(),
        type_: secret.type_.clone(),
        immutable: None,
    })
}
