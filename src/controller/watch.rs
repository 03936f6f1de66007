//! Which Canaries a change to a watched object concerns. Mappers read the
//! caches only.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::Canary;
use crate::workload;

fn canaries_in(canaries: &Store<Canary>, namespace: &str) -> Vec<Arc<Canary>> {
    canaries
        .state()
        .into_iter()
        .filter(|c| c.namespace().as_deref() == Some(namespace))
        .collect()
}

/// A ConfigMap or Secret concerns the Canaries whose target references it.
pub fn canaries_for_config(
    canaries: &Store<Canary>,
    deployments: &Store<Deployment>,
    namespace: Option<String>,
    name: &str,
    secret: bool,
) -> Vec<ObjectRef<Canary>> {
    let Some(ns) = namespace else { return Vec::new() };
    canaries_in(canaries, &ns)
        .into_iter()
        .filter(|c| {
            let target = deployments.get(&ObjectRef::new(&c.spec.target_ref.name).within(&ns));
            let pod_spec = target
                .as_ref()
                .and_then(|d| d.spec.as_ref())
                .and_then(|s| s.template.spec.as_ref());
            pod_spec.is_some_and(|spec| {
                let refs = workload::tracked_refs(spec);
                if secret {
                    refs.secrets.contains(name)
                } else {
                    refs.config_maps.contains(name)
                }
            })
        })
        .map(|c| ObjectRef::from_obj(&*c))
        .collect()
}
