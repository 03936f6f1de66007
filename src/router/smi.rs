//! The `linkerd` and `smi:v1alpha1` / `smi:v1alpha2` / `smi:v1alpha3`
//! providers: one SMI TrafficSplit named after the apex Service, splitting
//! traffic between `<apex>-canary` and `<apex>-primary`. `linkerd` is
//! `smi:v1alpha1`, the version Linkerd's SMI extension stores.

#[cfg(test)]
mod crd_file;
mod split;
#[cfg(test)]
mod tests;

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

pub use split::{split_weights, traffic_split};

use super::error::{NotFound, classify, not_found};
use super::original::{Restored, RoutingObject};
use super::smi_types::{GROUP, KIND, TrafficSplitVersion, v1alpha1, v1alpha2, v1alpha3};
use super::{FIELD_MANAGER, Router, RouterError, apex_name, controlled_by, delete_exactly, namespace};
use crate::api::Canary;
use crate::applied::Applied;
use crate::rollout::Weights;

/// A TrafficSplit router writing version `S`.
pub struct SmiRouter<S> {
    client: Client,
    applied: Arc<Applied>,
    name: &'static str,
    version: PhantomData<fn() -> S>,
}

impl<S: TrafficSplitVersion> SmiRouter<S> {
    /// `name` is the provider name the router reports.
    pub fn new(client: Client, applied: Arc<Applied>, name: &'static str) -> Self {
        Self {
            client,
            applied,
            name,
            version: PhantomData,
        }
    }

    fn api(&self, canary: &Canary) -> Result<(Api<S>, String), RouterError> {
        let namespace = namespace(canary)?;
        Ok((Api::namespaced(self.client.clone(), &namespace), namespace))
    }

    fn split<'a>(&self, namespace: &'a str, name: &'a str) -> RoutingObject<'a> {
        RoutingObject::new::<S>(&self.client, (KIND, GROUP, S::VERSION), namespace, name)
    }

    /// The split, `None` when it does not exist.
    async fn get(&self, canary: &Canary) -> Result<Option<S>, RouterError> {
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        match api.get(name).await {
            Ok(split) => Ok(Some(split)),
            Err(err) if not_found(&err) == Some(NotFound::Object) => Ok(None),
            Err(err) => Err(api_error::<S>("read", &namespace, name, err)),
        }
    }
}

pub(crate) fn linkerd(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(SmiRouter::<v1alpha1::TrafficSplit>::new(
        client, applied, "linkerd",
    ))
}

pub(crate) fn smi_v1alpha1(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(SmiRouter::<v1alpha1::TrafficSplit>::new(
        client,
        applied,
        "smi:v1alpha1",
    ))
}

pub(crate) fn smi_v1alpha2(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(SmiRouter::<v1alpha2::TrafficSplit>::new(
        client,
        applied,
        "smi:v1alpha2",
    ))
}

pub(crate) fn smi_v1alpha3(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(SmiRouter::<v1alpha3::TrafficSplit>::new(
        client,
        applied,
        "smi:v1alpha3",
    ))
}

#[async_trait]
impl<S: TrafficSplitVersion> Router for SmiRouter<S> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn apply(&self, canary: &Canary, weights: Weights) -> Result<(), RouterError> {
        let split: S = traffic_split(canary, weights)?;
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        let pending = self.applied.check(&namespace, &split);
        if pending.is_current() {
            return Ok(());
        }
        if !pending.is_controlled_by_a_canary() {
            self.split(&namespace, name).preserve(canary).await?;
        }
        // Forced: serin is the authority on the service and backends;
        // everything else on the object stays with its owners.
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api
            .patch(name, &params, &Patch::Apply(&split))
            .await
            .map_err(|err| api_error::<S>("apply", &namespace, name, err))?;
        self.applied.wrote(pending, written.resource_version());
        Ok(())
    }

    async fn weights(&self, canary: &Canary) -> Result<Option<Weights>, RouterError> {
        Ok(self
            .get(canary)
            .await?
            .and_then(|split| split_weights(canary, &split)))
    }

    async fn remove(&self, canary: &Canary) -> Result<(), RouterError> {
        // A user's split gets its own spec back and stays.
        let namespace = namespace(canary)?;
        if self.split(&namespace, apex_name(canary)).restore(canary).await? == Restored::Original {
            return Ok(());
        }
        let Some(split) = self.get(canary).await? else {
            return Ok(());
        };
        // A split of the same name that this Canary does not control was not
        // created by serin for it (or was taken over since): leave it alone.
        let controlled = controlled_by(canary, &split);
        if !controlled {
            tracing::info!(split = %split.name_any(), "TrafficSplit is not controlled by this Canary; not deleting it");
            return Ok(());
        }
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        // The uid precondition keeps a split recreated meanwhile by someone else.
        let params = delete_exactly(&split);
        match api.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(err) if not_found(&err) == Some(NotFound::Object) => Ok(()),
            Err(err) => Err(api_error::<S>("delete", &namespace, name, err)),
        }
    }
}

fn api_error<S: TrafficSplitVersion>(
    action: &'static str,
    namespace: &str,
    name: &str,
    err: kube::Error,
) -> RouterError {
    classify(err, (KIND, GROUP, S::VERSION), action, namespace, name)
}
