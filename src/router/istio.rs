//! The `istio` provider: a VirtualService named after the apex Service that
//! splits traffic between `<apex>-primary` and `<apex>-canary`, and a
//! DestinationRule for each of the two with `service.trafficPolicy`.

#[cfg(test)]
mod crd_file;
mod destination_rule;
mod http_routes;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod tests;
mod virtual_service;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use destination_rule::destination_rules;
pub use http_routes::{STICKY_PRIMARY_ROUTE, STICKY_ROUTE};
pub use virtual_service::{MESH_GATEWAY, virtual_service, virtual_service_weights};

use super::error::{NotFound, classify, not_found};
use super::istio_types::{DestinationRule, GROUP, VERSION, VirtualService};
use super::original::{Restored, RoutingObject};
use super::{
    FIELD_MANAGER, Router, RouterError, apex_name, controlled_by, delete_exactly, namespace, owner_reference,
};
use crate::api::{Canary, CustomMetadata};
use crate::applied::Applied;
use crate::rollout::Weights;

pub struct IstioRouter {
    client: Client,
    applied: Arc<Applied>,
}

impl IstioRouter {
    pub fn new(client: Client, applied: Arc<Applied>) -> Self {
        Self { client, applied }
    }

    async fn apply<K: IstioObject>(&self, namespace: &str, object: &K) -> Result<(), RouterError> {
        let pending = self.applied.check(namespace, object);
        if pending.is_current() {
            return Ok(());
        }
        let written = apply(&self.api(namespace), namespace, object).await?;
        self.applied.wrote(pending, written);
        Ok(())
    }

    fn api<K: IstioObject>(&self, namespace: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn virtual_service<'a>(&self, namespace: &'a str, name: &'a str) -> RoutingObject<'a> {
        RoutingObject::new::<VirtualService>(
            &self.client,
            (VirtualService::KIND, GROUP, VERSION),
            namespace,
            name,
        )
    }
}

pub(crate) fn router(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(IstioRouter::new(client, applied))
}

#[async_trait]
impl Router for IstioRouter {
    fn name(&self) -> &'static str {
        "istio"
    }

    async fn apply(&self, canary: &Canary, weights: Weights) -> Result<(), RouterError> {
        let rules = destination_rules(canary)?;
        let vs = virtual_service(canary, weights)?;
        let namespace = namespace(canary)?;
        // The rules first, so traffic never reaches a host before its policy does.
        for rule in &rules {
            self.apply(&namespace, rule).await?;
        }
        let pending = self.applied.check(&namespace, &vs);
        if pending.is_current() {
            return Ok(());
        }
        if !pending.is_controlled_by_a_canary() {
            self.virtual_service(&namespace, apex_name(canary))
                .preserve(canary)
                .await?;
        }
        self.apply(&namespace, &vs).await
    }

    async fn weights(&self, canary: &Canary) -> Result<Option<Weights>, RouterError> {
        let namespace = namespace(canary)?;
        let api = self.api::<VirtualService>(&namespace);
        let name = apex_name(canary);
        match api.get(name).await {
            Ok(vs) => Ok(virtual_service_weights(canary, &vs)),
            Err(err) if not_found(&err) == Some(NotFound::Object) => Ok(None),
            Err(err) => Err(api_error::<VirtualService>("read", &namespace, name, err)),
        }
    }

    async fn remove(&self, canary: &Canary) -> Result<(), RouterError> {
        let namespace = namespace(canary)?;
        let apex = apex_name(canary);
        // The route first, so no traffic is routed by a half-removed setup.
        // A user's VirtualService gets its own spec back and stays.
        let vs = self.virtual_service(&namespace, apex);
        if vs.restore(canary).await? == Restored::Nothing {
            remove(&self.api::<VirtualService>(&namespace), &namespace, canary, apex).await?;
        }
        for host in [primary_host(apex), canary_host(apex)] {
            remove(
                &self.api::<DestinationRule>(&namespace),
                &namespace,
                canary,
                &host,
            )
            .await?;
        }
        Ok(())
    }
}

/// What the generic API helpers need of the two Istio kinds.
trait IstioObject:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    const KIND: &'static str;
}

impl IstioObject for VirtualService {
    const KIND: &'static str = "VirtualService";
}

impl IstioObject for DestinationRule {
    const KIND: &'static str = "DestinationRule";
}

/// Server-side applies `object`; the resourceVersion it has now.
async fn apply<K: IstioObject>(
    api: &Api<K>,
    namespace: &str,
    object: &K,
) -> Result<Option<String>, RouterError> {
    let name = object.meta().name.as_deref().unwrap_or_default();
    // Forced: serin is the authority on the fields it sends (the route list
    // above all); everything else on the object stays with its owners.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written = api
        .patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|err| api_error::<K>("apply", namespace, name, err))?;
    Ok(written.meta().resource_version.clone())
}

async fn remove<K: IstioObject>(
    api: &Api<K>,
    namespace: &str,
    canary: &Canary,
    name: &str,
) -> Result<(), RouterError> {
    let object = match api.get(name).await {
        Ok(object) => object,
        // Without the CRD no such object can exist either.
        Err(err) if not_found(&err).is_some() => return Ok(()),
        Err(err) => return Err(api_error::<K>("read", namespace, name, err)),
    };
    // An object of the same name that this Canary does not control was not
    // created by serin for it (or was taken over since): leave it alone.
    let controlled = controlled_by(canary, &object);
    if !controlled {
        tracing::info!(
            kind = K::KIND,
            name,
            "not controlled by this Canary; not deleting it"
        );
        return Ok(());
    }
    // The uid precondition keeps an object recreated meanwhile by someone else.
    let params = delete_exactly(&object);
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(err) if not_found(&err).is_some() => Ok(()),
        Err(err) => Err(api_error::<K>("delete", namespace, name, err)),
    }
}

fn api_error<K: IstioObject>(
    action: &'static str,
    namespace: &str,
    name: &str,
    err: kube::Error,
) -> RouterError {
    classify(err, (K::KIND, GROUP, VERSION), action, namespace, name)
}

fn primary_host(apex: &str) -> String {
    format!("{apex}-primary")
}

fn canary_host(apex: &str) -> String {
    format!("{apex}-canary")
}

/// Metadata of an object serin applies: only what serin owns.
fn object_meta(canary: &Canary, name: &str, custom: CustomMetadata) -> Result<ObjectMeta, RouterError> {
    let non_empty = |map: std::collections::BTreeMap<String, String>| (!map.is_empty()).then_some(map);
    Ok(ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace(canary)?),
        labels: non_empty(custom.labels),
        annotations: non_empty(custom.annotations),
        owner_references: Some(vec![owner_reference(canary)?]),
        ..ObjectMeta::default()
    })
}
