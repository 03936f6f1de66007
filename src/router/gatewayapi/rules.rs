//! The HTTPRoute's rules for one set of weights: the weighted rule, and
//! around it the A/B rules or the session-affinity rules.
//!
//! `rules` is atomic upstream, so serin owns the whole list: a mirror or
//! cookie rule it stops sending disappears. Gateway API picks the most
//! specific matching rule whatever the order (a header match beats none),
//! so the A/B and cookie rules win over the default one; the order below is
//! Flagger's all the same.

use super::filters::{gateway_duration, route_filters, route_match, route_matches};
use super::route::{canary_service, primary_service};
use crate::api::{Canary, HttpMatch};
use crate::rollout::Weights;
use crate::router::affinity::Cookies;
use crate::router::gatewayapi_types::*;
use crate::router::{RouterError, apex_name};

const COOKIE: &str = "Cookie";
const SET_COOKIE: &str = "Set-Cookie";

pub(super) fn rules(canary: &Canary, weights: Weights) -> Result<Vec<HTTPRouteRule>, RouterError> {
    let service = &canary.spec.service;
    let matches = route_matches(&service.match_)?;
    let base = HTTPRouteRule {
        name: None,
        filters: route_filters(service, &matches)?,
        matches,
        backend_refs: Vec::new(),
        timeouts: service
            .timeout
            .as_ref()
            .map(|t| gateway_duration(&t.0))
            .transpose()?
            .map(|request| HTTPRouteTimeouts {
                request: Some(request),
                backend_request: None,
            }),
    };
    let mut weighted = HTTPRouteRule {
        backend_refs: backends(canary, weights),
        ..base.clone()
    };
    if weights.mirror {
        weighted.filters.push(mirror_filter(canary));
    }

    let analysis = &canary.spec.analysis;
    if !analysis.match_.is_empty() {
        // A/B: the weights apply to matching requests; everything else
        // stays on the primary.
        let ab = HTTPRouteRule {
            matches: merge(&analysis_matches(&analysis.match_)?, &base.matches),
            ..weighted
        };
        let default = HTTPRouteRule {
            backend_refs: backends(canary, Weights::ALL_PRIMARY)
                .into_iter()
                .take(1)
                .collect(),
            ..base
        };
        return Ok(vec![ab, default]);
    }

    let Some(cookies) = Cookies::of(canary) else {
        return Ok(vec![weighted]);
    };
    let cookie_rule = |cookie: &str, to: Weights| HTTPRouteRule {
        matches: merge(&[cookie_match(cookie)], &base.matches),
        backend_refs: backends(canary, to),
        ..base.clone()
    };
    if weights.canary > 0 {
        // Responses from the canary hand out the cookie; requests that
        // carry it go to the canary only.
        let [primary, canary_backend] = &mut weighted.backend_refs[..] else {
            return Err(RouterError::InvalidSpec(
                "internal: the weighted rule lost its two backends".into(),
            ));
        };
        canary_backend
            .filters
            .push(set_cookie(cookies.set(&cookies.canary)));
        let mut rules = vec![cookie_rule(&cookies.canary, Weights::canary(100))];
        if let Some(primary_cookie) = &cookies.primary {
            primary.filters.push(set_cookie(cookies.set(primary_cookie)));
            rules.push(cookie_rule(primary_cookie, Weights::ALL_PRIMARY));
        }
        rules.push(weighted);
        Ok(rules)
    } else {
        // No run (or it ended): whoever still carries this revision's
        // cookie has it expired, and is served like everyone else.
        let mut expire = cookie_rule(&cookies.canary, weights.mirrored(false));
        expire.filters.push(set_cookie(Cookies::expire(&cookies.canary)));
        Ok(vec![expire, weighted])
    }
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

/// Copies the rule's requests to `<apex>-canary`, `analysis.mirrorWeight`
/// percent of them when set (Flagger treats 0 as unset).
fn mirror_filter(canary: &Canary) -> HTTPRouteFilter {
    HTTPRouteFilter {
        type_: REQUEST_MIRROR.into(),
        request_mirror: Some(HTTPRequestMirrorFilter {
            backend_ref: BackendObjectReference {
                name: canary_service(apex_name(canary)),
                port: Some(canary.spec.service.port),
                ..BackendObjectReference::default()
            },
            percent: canary.spec.analysis.mirror_weight.filter(|w| *w > 0),
        }),
        ..HTTPRouteFilter::default()
    }
}

fn set_cookie(value: String) -> HTTPRouteFilter {
    HTTPRouteFilter {
        type_: RESPONSE_HEADER_MODIFIER.into(),
        response_header_modifier: Some(HTTPHeaderFilter {
            add: vec![HTTPHeader {
                name: SET_COOKIE.into(),
                value,
            }],
            ..HTTPHeaderFilter::default()
        }),
        ..HTTPRouteFilter::default()
    }
}

fn cookie_match(cookie: &str) -> HTTPRouteMatch {
    HTTPRouteMatch {
        headers: vec![HTTPValueMatch {
            type_: Some(REGULAR_EXPRESSION.into()),
            name: COOKIE.into(),
            value: Cookies::header_regex(cookie),
        }],
        ..HTTPRouteMatch::default()
    }
}

/// `analysis.match` as route matches. `sourceLabels` (Istio only) cannot be
/// expressed in Gateway API: it is left out with a warning, but a match
/// left with no condition at all is refused, since it would send every
/// request to the canary.
fn analysis_matches(matches: &[HttpMatch]) -> Result<Vec<HTTPRouteMatch>, RouterError> {
    matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("analysis.match[{i}]");
            let mut m = m.clone();
            if !m.source_labels.is_empty() {
                tracing::warn!(
                    at,
                    "sourceLabels cannot be expressed in a Gateway API HTTPRoute; matching without them"
                );
                m.source_labels.clear();
            }
            let mapped = route_match(&m, &at)?;
            if mapped == HTTPRouteMatch::default() {
                return Err(RouterError::InvalidSpec(format!(
                    "{at} has no condition the gatewayapi provider can express (sourceLabels are Istio only)"
                )));
            }
            Ok(mapped)
        })
        .collect()
}

/// The cross product of `conditions` (A/B or cookie matches) and the rule's
/// own matches: each rule match with the condition's headers and query
/// parameters in place of its own (Flagger's merge), and its path and
/// method when the condition sets them.
fn merge(conditions: &[HTTPRouteMatch], service: &[HTTPRouteMatch]) -> Vec<HTTPRouteMatch> {
    let mut merged = Vec::with_capacity(conditions.len() * service.len());
    for c in conditions {
        for s in service {
            let mut m = s.clone();
            if !c.headers.is_empty() {
                m.headers.clone_from(&c.headers);
            }
            if !c.query_params.is_empty() {
                m.query_params.clone_from(&c.query_params);
            }
            if c.path.is_some() {
                m.path.clone_from(&c.path);
            }
            if c.method.is_some() {
                m.method.clone_from(&c.method);
            }
            merged.push(m);
        }
    }
    merged
}
