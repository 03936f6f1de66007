//! Traffic routers: the objects that split requests between a Canary's
//! `<apex>-primary` and `<apex>-canary` Services.
//!
//! The reconciler picks a router by provider name with [`router_for`] and
//! drives it through [`Router`]: `apply` on every reconcile with the weights
//! it wants (an unchanged apply writes nothing, and a changed Canary spec
//! reaches the route this way), `weights` to see where traffic is, `remove`
//! when the Canary goes. The apex, primary and canary Services themselves
//! are not a router's business.
//!
//! Routers write with server-side apply as field manager [`FIELD_MANAGER`],
//! sending only the fields they own, so annotations, labels and fields that
//! users or other controllers set on the same object survive.
//!
//! What `apply` writes besides the split (Istio and Gateway API; SMI has
//! only the split):
//! - **A/B** (`analysis.match` non-empty): first a route with the weighted
//!   backends for requests matching `analysis.match` (crossed with
//!   `service.match`), then a default route sending the rest to the primary
//!   alone. The decision passes canary 100 during the analysis.
//! - **Mirroring** (`Weights::mirror`): the weighted route also copies
//!   requests to `<apex>-canary` (`analysis.mirrorWeight` percent when set);
//!   `weights` reports whether a mirror is on the object.
//! - **Session affinity** (`analysis.sessionAffinity`, not with A/B): see
//!   the `affinity` module; cookie routes come first and `weights` reads past them.
//!
//! A VirtualService, HTTPRoute or TrafficSplit that a user made before the
//! Canary is taken over, but its spec is saved first and put back on
//! `remove` (see [`original`]).
//!
//! Adding a provider: a new module with a constructor `fn(Client,
//! Arc<Applied>) -> Arc<dyn Router>`, and one line in [`PROVIDERS`].

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Client, Resource, ResourceExt};

use crate::api::Canary;
use crate::applied::Applied;
use crate::rollout::Weights;

mod affinity;
mod error;
pub mod gatewayapi;
pub mod gatewayapi_types;
pub mod istio;
pub mod istio_types;
pub mod kubernetes;
pub mod original;
mod pattern;
pub mod smi;
pub mod smi_types;

#[cfg(test)]
mod crd_file;
#[cfg(test)]
mod fixtures;

pub use error::RouterError;

/// Field manager of every server-side apply serin's routers make.
pub const FIELD_MANAGER: &str = "serin";

/// A traffic provider. Every method is idempotent: after a crash the
/// reconciler simply calls it again.
#[async_trait]
pub trait Router: Send + Sync {
    /// The provider name this router was registered under, for logs and events.
    fn name(&self) -> &'static str;

    /// Creates or updates the routing objects so traffic is split by `weights`.
    async fn apply(&self, canary: &Canary, weights: Weights) -> Result<(), RouterError>;

    /// The split currently on the routing objects, as found there; `None` when
    /// they do not exist yet or the provider routes nothing itself.
    async fn weights(&self, canary: &Canary) -> Result<Option<Weights>, RouterError>;

    /// Deletes what `apply` created; nothing to delete is success.
    async fn remove(&self, canary: &Canary) -> Result<(), RouterError>;
}

type Constructor = fn(Client, Arc<Applied>) -> Arc<dyn Router>;

/// Provider names and their routers, in the order error messages list them.
const PROVIDERS: &[(&str, Constructor)] = &[
    ("gatewayapi", gatewayapi::router),
    ("gatewayapi:v1", gatewayapi::router),
    ("istio", istio::router),
    ("kubernetes", kubernetes::router),
    ("linkerd", smi::linkerd),
    ("smi:v1alpha1", smi::smi_v1alpha1),
    ("smi:v1alpha2", smi::smi_v1alpha2),
    ("smi:v1alpha3", smi::smi_v1alpha3),
];

/// The router for a provider name (`spec.provider`, else the controller's
/// default), writing every apply (it remembers nothing between calls).
pub fn router_for(provider: &str, client: Client) -> Result<Arc<dyn Router>, RouterError> {
    router_with(provider, client, Arc::default())
}

/// The router for a provider name that skips applies `applied` knows to
/// change nothing (see [`crate::applied`]).
pub fn router_with(
    provider: &str,
    client: Client,
    applied: Arc<Applied>,
) -> Result<Arc<dyn Router>, RouterError> {
    PROVIDERS
        .iter()
        .find(|(name, _)| *name == provider)
        .map(|(_, construct)| construct(client, applied))
        .ok_or_else(|| RouterError::UnsupportedProvider {
            provider: provider.to_string(),
            supported: supported_providers(),
        })
}

/// The provider names [`router_for`] accepts, comma-separated.
pub fn supported_providers() -> String {
    PROVIDERS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Name of the apex Service, which routers also give their objects.
pub fn apex_name(canary: &Canary) -> &str {
    canary
        .spec
        .service
        .name
        .as_deref()
        .unwrap_or(&canary.spec.target_ref.name)
}

/// The Canary's namespace; a Canary read from the API server always has one.
pub(crate) fn namespace(canary: &Canary) -> Result<String, RouterError> {
    canary
        .namespace()
        .ok_or_else(|| RouterError::InvalidSpec(format!("Canary {} has no namespace", canary.name_any())))
}

/// Controller reference to the Canary, so routing objects are garbage
/// collected with it. Needs the uid, so the Canary must come from the API server.
/// Whether `object` names this Canary as its controller. Routers delete only
/// such objects: one of the same name that another owner controls (or that
/// was taken over since) is left alone.
pub(crate) fn controlled_by(canary: &Canary, object: &impl Resource) -> bool {
    canary.uid().is_some_and(|uid| {
        object
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.uid == uid)
    })
}

/// Delete parameters with a uid precondition, so an object recreated
/// meanwhile by someone else survives.
pub(crate) fn delete_exactly(object: &impl Resource) -> kube::api::DeleteParams {
    kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: object.uid(),
            resource_version: None,
        }),
        ..kube::api::DeleteParams::default()
    }
}

pub(crate) fn owner_reference(canary: &Canary) -> Result<OwnerReference, RouterError> {
    canary.controller_owner_ref(&()).ok_or_else(|| {
        RouterError::InvalidSpec(format!(
            "Canary {} has no uid: routers need the object as stored by the API server",
            canary.name_any()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        // Routers only keep the client; nothing here talks to a server.
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a valid URL"));
        Client::try_from(config).expect("a client for a dummy URL")
    }

    #[tokio::test]
    async fn known_providers_get_their_router() {
        for (provider, expected) in [
            ("gatewayapi", "gatewayapi"),
            ("gatewayapi:v1", "gatewayapi"),
            ("kubernetes", "kubernetes"),
        ] {
            let router = router_for(provider, client()).expect("a router");
            assert_eq!(router.name(), expected, "provider {provider}");
        }
    }

    #[tokio::test]
    async fn unknown_providers_are_refused_naming_the_supported_ones() {
        let Err(err) = router_for("nginx", client()) else {
            panic!("nginx is not supported yet");
        };
        assert!(err.is_invalid_spec());
        assert_eq!(err.reason(), "UnsupportedProvider");
        assert_eq!(
            err.to_string(),
            "unsupported provider \"nginx\": supported providers are gatewayapi, gatewayapi:v1, istio, kubernetes, linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3"
        );
    }

    #[test]
    fn the_owner_reference_is_a_controller_reference_to_the_canary() {
        let mut canary = fixtures::canary();
        let owner = owner_reference(&canary).expect("the test Canary has a uid");
        assert_eq!(owner.api_version, "serin.dev/v1beta1");
        assert_eq!(owner.kind, "Canary");
        assert_eq!(owner.name, "podinfo");
        assert_eq!(owner.uid, "0000-1111");
        assert_eq!(owner.controller, Some(true));

        canary.metadata.uid = None;
        assert!(owner_reference(&canary).is_err_and(|e| e.is_invalid_spec()));
    }
}
