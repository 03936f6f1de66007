//! Carries out the decision's actions. Every action is idempotent: objects
//! serin owns are written with server-side apply as field manager `serin`,
//! so a repeated decision after a crash changes nothing.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::context::Context;
use super::error::ReconcileError;
use super::observe::{FINALIZER, Observed};
use crate::api::{Canary, CanarySpec};
use crate::rollout::Action;
use crate::router::Router;
use crate::workload;

pub const FIELD_MANAGER: &str = "serin";

pub struct Applier<'a> {
    pub ctx: &'a Context,
    pub canary: &'a Canary,
    pub spec: &'a CanarySpec,
    pub observed: &'a Observed,
    pub router: Arc<dyn Router>,
    pub namespace: String,
}

impl Applier<'_> {
    pub async fn run(&self, action: &Action) -> Result<(), ReconcileError> {
        match action {
            Action::EnsurePrimary => {
                if self.observed.primary.is_none() {
                    self.write_primary().await?;
                }
                Ok(())
            }
            Action::PromoteToPrimary => self.write_primary().await,
            Action::ApplyRouting(weights) => {
                let target = self.target()?;
                for service in workload::services(self.canary, target)? {
                    let pending = self.ctx.applied.check(&self.namespace, &service);
                    if !pending.is_current() {
                        let written = self.apply(&self.api::<Service>(), &service).await?;
                        self.ctx.applied.wrote(pending, written.resource_version());
                    }
                }
                self.router.apply(self.canary, *weights).await?;
                Ok(())
            }
            Action::ScaleTargetToZero => self.scale_target(0).await,
            Action::ScaleTargetUp => {
                let target = self.target()?;
                let hpa_min = self.target_hpa().await?.and_then(|h| h.spec.min_replicas);
                let replicas = workload::scale_up_replicas(target, self.observed.primary.as_deref(), hpa_min);
                self.scale_target(replicas).await
            }
            Action::RevertTarget => self.revert_target().await,
            // The reconciler calls webhooks itself; nothing to write here.
            Action::PostRollout => Ok(()),
            Action::AddFinalizer | Action::RemoveFinalizer => {
                let mut finalizers: Vec<String> = self
                    .canary
                    .finalizers()
                    .iter()
                    .filter(|f| *f != FINALIZER)
                    .cloned()
                    .collect();
                if *action == Action::AddFinalizer {
                    finalizers.push(FINALIZER.to_string());
                }
                let patch = json!({ "metadata": { "finalizers": finalizers } });
                self.api::<Canary>()
                    .patch(
                        &self.canary.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .map_err(ReconcileError::api("updating the Canary's finalizers"))?;
                Ok(())
            }
        }
    }

    fn target(&self) -> Result<&Deployment, ReconcileError> {
        self.observed.target.as_deref().ok_or_else(|| {
            ReconcileError::InvalidSpec(format!("Deployment {} not found", self.spec.target_ref.name))
        })
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.ctx.client.clone(), &self.namespace)
    }

    async fn apply<K>(&self, api: &Api<K>, obj: &K) -> Result<K, ReconcileError>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let name = obj.name_any();
        let written = api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(obj),
            )
            .await
            .map_err(ReconcileError::api(format!(
                "applying {} {name}",
                K::kind(&Default::default())
            )))?;
        Ok(written)
    }

    /// The primary from the target's current spec, with `-primary` copies of
    /// its configs and autoscaler. At initialization and at promotion only:
    /// anywhere else it would promote without analysis.
    async fn write_primary(&self) -> Result<(), ReconcileError> {
        let target = self.target()?;
        for cm in &self.observed.config_maps {
            let mut copy = workload::primary_config_map(self.canary, cm)?;
            let existing = self
                .ctx
                .config_maps
                .get(&ObjectRef::new(&copy.name_any()).within(&self.namespace));
            keep_other_owners(&mut copy.metadata, existing.as_deref().map(|e| &e.metadata));
            self.apply(&self.api::<ConfigMap>(), &copy).await?;
        }
        for secret in &self.observed.secrets {
            let mut copy = workload::primary_secret(self.canary, secret)?;
            let existing = self
                .ctx
                .secrets
                .get(&ObjectRef::new(&copy.name_any()).within(&self.namespace));
            keep_other_owners(&mut copy.metadata, existing.as_deref().map(|e| &e.metadata));
            self.apply(&self.api::<Secret>(), &copy).await?;
        }
        let has_autoscaler = self.spec.autoscaler_ref.is_some();
        let primary = workload::build_primary(
            self.canary,
            target,
            self.observed.primary.as_deref(),
            has_autoscaler,
            &self.observed.tracked_configs,
        )?;
        self.apply(&self.api::<Deployment>(), &primary).await?;
        if let Some(hpa) = self.target_hpa().await? {
            self.apply(
                &self.api::<HorizontalPodAutoscaler>(),
                &workload::primary_hpa(self.canary, &hpa)?,
            )
            .await?;
        }
        Ok(())
    }

    // HPAs are read only at initialization, promotion and scale-up, so they are not cached.
    async fn target_hpa(&self) -> Result<Option<HorizontalPodAutoscaler>, ReconcileError> {
        let Some(reference) = &self.spec.autoscaler_ref else {
            return Ok(None);
        };
        let found = self
            .api::<HorizontalPodAutoscaler>()
            .get_opt(&reference.name)
            .await
            .map_err(ReconcileError::api(format!(
                "reading HorizontalPodAutoscaler {}",
                reference.name
            )))?;
        found.map(Some).ok_or_else(|| {
            ReconcileError::InvalidSpec(format!(
                "autoscalerRef names HorizontalPodAutoscaler {}, which does not exist",
                reference.name
            ))
        })
    }

    async fn scale_target(&self, replicas: i32) -> Result<(), ReconcileError> {
        let target = self.target()?;
        if target.spec.as_ref().and_then(|s| s.replicas) == Some(replicas) {
            return Ok(());
        }
        // The cache has not caught up with serin's last scale of this
        // Deployment yet: what it shows is stale, the patch is in.
        let name = target.name_any();
        if self.ctx.scaled.is_stale(
            &self.namespace,
            &name,
            target.metadata.resource_version.as_deref(),
        ) {
            return Ok(());
        }
        // A merge patch, not an apply: replicas stays owned by whoever manages
        // the Deployment, serin only moves it.
        let patch = json!({ "spec": { "replicas": replicas } });
        let scaled = self
            .api::<Deployment>()
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(ReconcileError::api(format!(
                "scaling Deployment {name} to {replicas}"
            )))?;
        self.ctx.scaled.record(
            &self.namespace,
            &name,
            scaled.metadata.resource_version.as_deref(),
        );
        Ok(())
    }

    /// Deletion: the target serves again and the apex Service, released from
    /// the Canary so garbage collection keeps it, selects the target's pods.
    async fn revert_target(&self) -> Result<(), ReconcileError> {
        let target = self.target()?;
        let hpa_min = self
            .target_hpa()
            .await
            .ok()
            .flatten()
            .and_then(|h| h.spec.min_replicas);
        let replicas = workload::scale_up_replicas(target, self.observed.primary.as_deref(), hpa_min);
        self.scale_target(replicas).await?;
        let [apex, ..] = workload::services(self.canary, target)?;
        let label = workload::selector_label(target)?;
        let patch = json!({
            "metadata": { "ownerReferences": null },
            "spec": { "selector": { label.key: label.value } }
        });
        let services = self.api::<Service>();
        match services
            .patch(&apex.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => {
                return Err(ReconcileError::api("pointing the apex Service at the target")(
                    err,
                ));
            }
        }
        if self.spec.revert_on_deletion {
            self.router.remove(self.canary).await?;
        }
        Ok(())
    }
}

/// A config copy shared by several Canaries lists each of them as an owner, so
/// it goes only with the last one; every Canary applies with the same field
/// manager, so the owners already there are sent again.
fn keep_other_owners(copy: &mut ObjectMeta, existing: Option<&ObjectMeta>) {
    let Some(existing) = existing.and_then(|m| m.owner_references.as_ref()) else {
        return;
    };
    let owners = copy.owner_references.get_or_insert_with(Vec::new);
    for owner in existing {
        if !owners.iter().any(|o| o.uid == owner.uid) {
            owners.push(owner.clone());
        }
    }
}
