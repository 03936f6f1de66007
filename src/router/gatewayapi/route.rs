//! The HTTPRoute serin wants for a Canary, and the weights read back from one.

use kube::api::ObjectMeta;

use super::rules::rules;
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

/// The weights on the rule that splits traffic, as found (so not
/// necessarily adding up to 100 if someone edited them); `None` when no rule
/// sends traffic to `<apex>-canary`. With session affinity that is the rule
/// whose backends carry filters (the `Set-Cookie` ones, as Flagger reads
/// it); otherwise the first with both backends, else the first with the
/// canary's. `mirror` is whether a rule mirrors to `<apex>-canary`.
pub fn route_weights(canary: &Canary, route: &HTTPRoute) -> Option<Weights> {
    let apex = apex_name(canary);
    let (primary, canary_name) = (primary_service(apex), canary_service(apex));
    let weight_of = |rule: &HTTPRouteRule, name: &str| {
        rule.backend_refs
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.weight.unwrap_or(1))
    };
    let rules = &route.spec.rules;
    let has = |rule: &&HTTPRouteRule, name: &str| weight_of(rule, name).is_some();
    let rule = rules
        .iter()
        .find(|r| has(r, &canary_name) && r.backend_refs.iter().any(|b| !b.filters.is_empty()))
        .or_else(|| rules.iter().find(|r| has(r, &canary_name) && has(r, &primary)))
        .or_else(|| rules.iter().find(|r| has(r, &canary_name)))?;
    let mirror = rules.iter().flat_map(|r| &r.filters).any(|f| {
        f.request_mirror
            .as_ref()
            .is_some_and(|m| m.backend_ref.name == canary_name)
    });
    Some(Weights {
        primary: weight_of(rule, &primary).unwrap_or(0),
        canary: weight_of(rule, &canary_name)?,
        mirror,
    })
}
