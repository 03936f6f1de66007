//! Builds the decision's observations from the watch caches: no API reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use super::error::ReconcileError;
use crate::api::{Canary, CanarySpec};
use crate::rollout::{self, Observations, TargetState};
use crate::workload;

pub const FINALIZER: &str = "serin.dev/finalizer";

/// Observations plus the cached objects the actions will need.
pub struct Observed {
    pub obs: Observations,
    pub target: Option<Arc<Deployment>>,
    pub primary: Option<Arc<Deployment>>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    /// `configmap/<name>` / `secret/<name>` → checksum, as computed once for this reconcile.
    pub tracked_configs: BTreeMap<String, String>,
}

pub fn observe(
    ctx: &Context,
    canary: &Canary,
    spec: &CanarySpec,
    now: Timestamp,
) -> Result<Observed, ReconcileError> {
    let ns = canary
        .namespace()
        .ok_or(ReconcileError::MissingField("namespace"))?;
    let target_name = &spec.target_ref.name;
    let target = ctx.deployments.get(&ObjectRef::new(target_name).within(&ns));
    let primary = ctx
        .deployments
        .get(&ObjectRef::new(&workload::primary_name(target_name)).within(&ns));
    let canary_threshold = spec.analysis.canary_ready_threshold.unwrap_or(100);
    let primary_threshold = spec.analysis.primary_ready_threshold.unwrap_or(100);

    let mut config_maps = Vec::new();
    let mut secrets = Vec::new();
    let mut tracked = BTreeMap::new();
    let target_state = match &target {
        None => TargetState::Missing,
        Some(dep) => {
            let template = dep.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
            if let Some(pod_spec) = template.spec.as_ref() {
                let refs = workload::tracked_refs(pod_spec);
                config_maps = refs
                    .config_maps
                    .iter()
                    .filter_map(|name| ctx.config_maps.get(&ObjectRef::new(name).within(&ns)))
                    .map(|cm| (*cm).clone())
                    .collect();
                secrets = refs
                    .secrets
                    .iter()
                    .filter_map(|name| ctx.secrets.get(&ObjectRef::new(name).within(&ns)))
                    .map(|s| (*s).clone())
                    .collect();
            }
            tracked = workload::tracked_configs(dep, &config_maps, &secrets)?;
            // Only tracked configs get -primary copies (opted-out ones and
            // untracked Secret types are used as they are).
            config_maps.retain(|cm| tracked.contains_key(&workload::config_map_key(&cm.name_any())));
            secrets.retain(|s| tracked.contains_key(&workload::secret_key(&s.name_any())));
            TargetState::Found {
                revision: workload::revision(&template, &tracked),
                tracked_configs: tracked.clone(),
                workload: workload::workload_state(dep, canary_threshold),
            }
        }
    };

    let obs = Observations {
        now,
        generation: canary.metadata.generation,
        deleting: canary.metadata.deletion_timestamp.is_some(),
        has_finalizer: canary.finalizers().iter().any(|f| f == FINALIZER),
        target: target_state,
        primary: primary
            .as_deref()
            .map(|p| workload::workload_state(p, primary_threshold)),
        requests: rollout::requests_from(canary.annotations()),
        analysis: None,
        hooks: Default::default(),
    };
    Ok(Observed {
        obs,
        target,
        primary,
        config_maps,
        secrets,
        tracked_configs: tracked,
    })
}
