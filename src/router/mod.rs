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
//! Arc<Applied>) -> Arc<dyn Router>`, and one line in [`PROVIDERS`]. The
//! Canary CRD admits every provider name Flagger knows (so migrated Canaries
//! are stored); those without a router here are refused with
//! [`RouterError::UnsupportedProvider`], naming the supported ones.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Client, Resource, ResourceExt};

use crate::api::{Canary, CanarySpec};
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
/// `smi` names may also carry a mesh (see [`table_name`]).
const PROVIDERS: &[(&str, Constructor)] = &[
    ("gatewayapi", gatewayapi::router),
    ("gatewayapi:v1", gatewayapi::router),
    // Flagger's recommended Linkerd setup. HTTPRoute v1 is the same object
    // served at v1beta1 too; serin writes v1 either way.
    ("gatewayapi:v1beta1", gatewayapi::router),
    ("istio", istio::router),
    ("kubernetes", kubernetes::router),
    ("linkerd", smi::linkerd),
    // As in Flagger, a bare `smi` is the v1alpha1 TrafficSplit.
    ("smi", smi::smi_v1alpha1),
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
    let name = table_name(provider);
    PROVIDERS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, construct)| construct(client, applied))
        .ok_or_else(|| RouterError::UnsupportedProvider {
            provider: provider.to_string(),
            supported: supported_providers(),
        })
}

/// The router of a Canary whose provider is `provider` (its `spec.provider`,
/// else the controller's default); see [`routing_provider`].
pub fn router_for_canary(
    canary: &Canary,
    provider: &str,
    client: Client,
    applied: Arc<Applied>,
) -> Result<Arc<dyn Router>, RouterError> {
    router_with(routing_provider(&canary.spec, provider), client, applied)
}

/// The provider whose router routes `canary`. `linkerd` with
/// `service.gatewayRefs` is Linkerd's recommended setup (GAMMA: an HTTPRoute
/// whose parent is the Service), so it routes with the Gateway API router;
/// the provider name still picks Linkerd's builtin metrics. Without
/// gatewayRefs, `linkerd` keeps writing the SMI TrafficSplit.
pub fn routing_provider<'a>(spec: &CanarySpec, provider: &'a str) -> &'a str {
    if provider == "linkerd" && !spec.service.gateway_refs.is_empty() {
        "gatewayapi:v1"
    } else {
        provider
    }
}

/// The [`PROVIDERS`] entry for a provider name: `smi:<version>:<mesh>` and
/// `smi:<mesh>` (which the CRD admits, as Flagger does) name the mesh for
/// people only, the TrafficSplit is the same, so the mesh is dropped. A
/// second segment that looks like a version (`v` and a digit) is one, known
/// or not.
fn table_name(provider: &str) -> &str {
    let Some(rest) = provider.strip_prefix("smi:") else {
        return provider;
    };
    let is_version = |s: &str| s.starts_with('v') && s[1..].starts_with(|c: char| c.is_ascii_digit());
    match rest.split_once(':') {
        Some((version, mesh)) if !mesh.is_empty() => &provider[.."smi:".len() + version.len()],
        Some(_) => provider,
        None if rest.is_empty() || is_version(rest) => provider,
        None => "smi",
    }
}

/// Whether `spec` is routed with an SMI TrafficSplit, which cannot match
/// requests (so no A/B testing).
pub fn routes_with_traffic_split(spec: &CanarySpec, provider: &str) -> bool {
    let routed = routing_provider(spec, provider);
    routed == "linkerd" || table_name(routed).starts_with("smi")
}

/// Whether [`router_with`] has a router for `provider`.
pub fn is_supported(provider: &str) -> bool {
    let name = table_name(provider);
    PROVIDERS.iter().any(|(known, _)| *known == name)
}

/// The provider names [`router_for`] accepts, comma-separated.
pub fn supported_providers() -> String {
    let names = PROVIDERS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    format!("{names} (smi ones may name the mesh: smi:v1alpha3:<mesh>)")
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
            ("gatewayapi:v1beta1", "gatewayapi"),
            ("kubernetes", "kubernetes"),
            ("smi", "smi:v1alpha1"),
            ("smi:linkerd", "smi:v1alpha1"),
            ("smi:v1alpha2:osm", "smi:v1alpha2"),
            ("smi:v1alpha3:my-mesh", "smi:v1alpha3"),
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
            "unsupported provider \"nginx\": supported providers are gatewayapi, gatewayapi:v1, \
             gatewayapi:v1beta1, istio, kubernetes, linkerd, smi, smi:v1alpha1, smi:v1alpha2, \
             smi:v1alpha3 (smi ones may name the mesh: smi:v1alpha3:<mesh>)"
        );
        for unknown in ["smi:v1alpha4", "smi:", "smi:v1alpha1:", "gatewayapi:v2"] {
            assert!(router_for(unknown, client()).is_err(), "{unknown}");
        }
    }

    /// The provider regex of the Canary CRD's CEL rule on `spec.provider`.
    fn crd_provider_regex() -> regex::Regex {
        let crd = serde_json::to_value(<Canary as kube::CustomResourceExt>::crd()).expect("the CRD as JSON");
        let rule = crd
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/provider/x-kubernetes-validations/0/rule")
            .and_then(serde_json::Value::as_str)
            .expect("a CEL rule on spec.provider");
        let pattern = rule
            .strip_prefix("self.matches('")
            .and_then(|r| r.strip_suffix("')"))
            .expect("the rule is self.matches('<regex>')");
        regex::Regex::new(pattern).expect("the CRD's regex compiles")
    }

    /// Every provider name the CRD admits either routes or is refused as
    /// unsupported, saying which are; every name that routes is admitted.
    #[tokio::test]
    async fn the_crd_and_the_router_table_agree() {
        let admitted = crd_provider_regex();
        for (name, _) in PROVIDERS {
            assert!(
                admitted.is_match(name),
                "the CRD refuses the routed provider {name}"
            );
        }
        // One or more names for each alternative of the CRD's regex.
        let candidates = [
            "gatewayapi",
            "gatewayapi:v1",
            "gatewayapi:v1beta1",
            "kubernetes",
            "linkerd",
            "istio",
            "smi",
            "smi:v1alpha1",
            "smi:v1alpha2",
            "smi:v1alpha3",
            "smi:linkerd",
            "smi:v1alpha4",
            "smi:v1alpha1:linkerd",
            "smi:v1alpha2:osm",
            "smi:v1alpha3:my-mesh",
            "nginx",
            "contour",
            "gloo",
            "traefik",
            "skipper",
            "apisix",
            "kuma",
            "osm",
            "appmesh",
            "appmesh:v1beta2",
            "knative",
        ];
        let pattern = admitted.as_str();
        let body = pattern
            .strip_prefix("^(")
            .and_then(|p| p.strip_suffix(")$"))
            .expect("^(a|b|...)$");
        // The alternatives at the top level (not inside a group).
        let mut alternatives = vec![String::new()];
        let mut depth = 0;
        for c in body.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '|' if depth == 0 => {
                    alternatives.push(String::new());
                    continue;
                }
                _ => {}
            }
            alternatives.last_mut().expect("one at least").push(c);
        }
        for alternative in &alternatives {
            let alone = regex::Regex::new(&format!("^({alternative})$")).expect("an alternative compiles");
            assert!(
                candidates.iter().any(|c| alone.is_match(c)),
                "no candidate for the CRD's provider alternative {alternative}: add one"
            );
        }
        for provider in candidates {
            assert!(admitted.is_match(provider), "the CRD refuses {provider}");
            match router_for(provider, client()) {
                Ok(_) => assert!(is_supported(provider), "{provider}"),
                Err(err) => {
                    assert!(!is_supported(provider), "{provider}");
                    assert_eq!(err.reason(), "UnsupportedProvider", "{provider}");
                    let message = err.to_string();
                    assert!(
                        message.contains(&format!("{provider:?}")) && message.contains("gatewayapi, "),
                        "{provider}: {message}"
                    );
                }
            }
        }
    }

    #[test]
    fn linkerd_with_gateway_refs_routes_with_an_http_route() {
        let mut canary = fixtures::canary();
        canary.spec.service.gateway_refs.clear();
        assert_eq!(
            routing_provider(&canary.spec, "linkerd"),
            "linkerd",
            "a TrafficSplit"
        );
        canary.spec.service.gateway_refs = vec![
            serde_json::from_value(
                serde_json::json!({ "name": "podinfo", "kind": "Service", "group": "core", "port": 9898 }),
            )
            .expect("a Service parent"),
        ];
        assert_eq!(routing_provider(&canary.spec, "linkerd"), "gatewayapi:v1");
        for other in ["istio", "gatewayapi:v1", "smi:v1alpha2", "kubernetes"] {
            assert_eq!(routing_provider(&canary.spec, other), other);
        }
    }

    #[tokio::test]
    async fn linkerd_with_gateway_refs_gets_the_gateway_api_router() {
        let mut canary = fixtures::canary();
        canary.spec.service.gateway_refs = vec![
            serde_json::from_value(serde_json::json!({ "name": "podinfo", "kind": "Service" }))
                .expect("a parent"),
        ];
        let router = router_for_canary(&canary, "linkerd", client(), Arc::default()).expect("a router");
        assert_eq!(router.name(), "gatewayapi");
        canary.spec.service.gateway_refs.clear();
        let router = router_for_canary(&canary, "linkerd", client(), Arc::default()).expect("a router");
        assert_eq!(router.name(), "linkerd");
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
