//! The HTTPRoute serin wants for a Canary, and the weights read back from one.

use kube::api::ObjectMeta;

use super::filters::{gateway_duration, route_filters, route_matches};
use crate::api::{Canary, ParentRef};
use crate::rollout::Weights;
use crate::router::gatewayapi_types::*;
use crate::router::{RouterError, apex_name, namespace, owner_reference};

/// The complete HTTPRoute serin applies for `canary` at `weights`: only the
/// fields serin owns, ready for server-side apply.
pub fn http_route(canary: &Canary, weights: Weights) -> Result<HTTPRoute, RouterError> {
    let service = &canary.spec.service;
    if service.gateway_refs.is_empty() {
        return Err(RouterError::InvalidSpec(
            "service.gatewayRefs is required for the gatewayapi provider".into(),
        ));
    }
    let apex = apex_name(canary);
    let metadata = service.apex.clone().unwrap_or_default();
    let non_empty = |map: std::collections::BTreeMap<String, String>| (!map.is_empty()).then_some(map);

    let mut route = HTTPRoute::new(
        apex,
        HTTPRouteSpec {
            parent_refs: service.gateway_refs.iter().map(parent_reference).collect(),
            hostnames: service.hosts.clone(),
            rules: rules(canary, weights)?,
        },
    );
    route.metadata = ObjectMeta {
        name: Some(apex.to_string()),
        namespace: Some(namespace(canary)?),
        labels: non_empty(metadata.labels),
        annotations: non_empty(metadata.annotations),
        owner_references: Some(vec![owner_reference(canary)?]),
        ..ObjectMeta::default()
    };
    Ok(route)
}

// One weighted rule today. A/B testing will put the `analysis.match` rule
// (both backends) first and this one, at primary 100, second; session
// affinity adds a cookie rule. `route_weights` already reads whichever rule
// carries the canary backend, so neither changes how weights are read.
fn rules(canary: &Canary, weights: Weights) -> Result<Vec<HTTPRouteRule>, RouterError> {
    let service = &canary.spec.service;
    let matches = route_matches(&service.match_)?;
    let filters = route_filters(service, &matches)?;
    let timeouts = service
        .timeout
        .as_ref()
        .map(|t| gateway_duration(&t.0))
        .transpose()?
        .map(|request| HTTPRouteTimeouts {
            request: Some(request),
            backend_request: None,
        });
    Ok(vec![HTTPRouteRule {
        name: None,
        matches,
        filters,
        backend_refs: backends(canary, weights),
        timeouts,
    }])
}

fn backends(canary: &Canary, weights: Weights) -> Vec<HTTPBackendRef> {
    let apex = apex_name(canary);
    let backend = |name: String, weight: i32| HTTPBackendRef {
        name,
        port: Some(canary.spec.service.port),
        // Always explicit: an absent weight means 1, not 0.
        weight: Some(weight),
        ..HTTPBackendRef::default()
    };
    vec![
        backend(primary_service(apex), weights.primary),
        backend(canary_service(apex), weights.canary),
    ]
}

fn parent_reference(parent: &ParentRef) -> ParentReference {
    ParentReference {
        group: parent.group.clone(),
        kind: parent.kind.clone(),
        namespace: parent.namespace.clone(),
        name: parent.name.clone(),
        section_name: parent.section_name.clone(),
        port: parent.port,
    }
}

pub(crate) fn primary_service(apex: &str) -> String {
    format!("{apex}-primary")
}

pub(crate) fn canary_service(apex: &str) -> String {
    format!("{apex}-canary")
}

/// The weights on the first rule that sends traffic to `<apex>-canary`,
/// as found (so not necessarily adding up to 100 if someone edited them);
/// `None` when no rule does.
pub fn route_weights(canary: &Canary, route: &HTTPRoute) -> Option<Weights> {
    let apex = apex_name(canary);
    let (primary, canary_name) = (primary_service(apex), canary_service(apex));
    let weight_of = |rule: &HTTPRouteRule, name: &str| {
        rule.backend_refs
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.weight.unwrap_or(1))
    };
    route.spec.rules.iter().find_map(|rule| {
        let canary = weight_of(rule, &canary_name)?;
        Some(Weights {
            primary: weight_of(rule, &primary).unwrap_or(0),
            canary,
            mirror: false,
        })
    })
}
