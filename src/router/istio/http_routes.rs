//! The VirtualService's `http` list for one set of weights: the weighted
//! route, and around it the A/B routes or the session-affinity routes.
//!
//! serin owns the whole list (Istio's lists are atomic under server-side
//! apply), so a mirror or cookie route it stops sending disappears.

use std::collections::BTreeMap;

use super::canary_host;
use super::virtual_service::{base_route, destination_port, destinations};
use crate::api::{Canary, HeaderOperation, HeaderOperations, HttpMatch, StringMatch};
use crate::rollout::Weights;
use crate::router::affinity::Cookies;
use crate::router::istio_types::*;
use crate::router::{RouterError, apex_name, pattern};

/// Flagger's name for the route that keeps cookie holders on the canary;
/// kept so users and tools that know Flagger's objects recognise it.
pub const STICKY_ROUTE: &str = "sticky-route";
/// The route that keeps holders of `primaryCookieName` on the primary.
pub const STICKY_PRIMARY_ROUTE: &str = "sticky-primary-route";

/// Istio matches request headers by lower-case name.
const COOKIE: &str = "cookie";
const SET_COOKIE: &str = "Set-Cookie";

pub(super) fn http_routes(canary: &Canary, weights: Weights) -> Result<Vec<HTTPRoute>, RouterError> {
    let base = base_route(canary)?;
    let apex = apex_name(canary);
    let port = destination_port(canary)?;
    let mut weighted = HTTPRoute {
        route: destinations(apex, weights, port),
        ..base.clone()
    };
    if weights.mirror {
        weighted.mirror = Some(Destination {
            host: canary_host(apex),
            port: port.map(|number| PortSelector { number }),
        });
        // Flagger treats 0 as unset (mirror everything); so does serin.
        weighted.mirror_percentage = canary
            .spec
            .analysis
            .mirror_weight
            .filter(|w| *w > 0)
            .map(|w| Percent { value: f64::from(w) });
    }

    let analysis = &canary.spec.analysis;
    if !analysis.match_.is_empty() {
        // A/B: the weights apply to matching requests; everything else
        // stays on the primary.
        let ab = HTTPRoute {
            match_: merge(&istio_matches(&analysis.match_), &base.match_),
            ..weighted
        };
        let default = HTTPRoute {
            route: destinations(apex, Weights::ALL_PRIMARY, port)
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
    let cookie_route = |name: &str, cookie: &str, to: Weights| HTTPRoute {
        name: Some(name.to_string()),
        match_: merge(&[cookie_match(cookie)], &base.match_),
        route: destinations(apex, to, port),
        ..base.clone()
    };
    if weights.canary > 0 {
        // Responses from the canary hand out the cookie; requests that
        // carry it go to the canary only.
        let [primary, canary_destination] = &mut weighted.route[..] else {
            return Err(RouterError::InvalidSpec(
                "internal: the weighted route lost its two destinations".into(),
            ));
        };
        canary_destination.headers = Some(set_cookie(None, cookies.set(&cookies.canary)));
        let mut routes = vec![cookie_route(STICKY_ROUTE, &cookies.canary, Weights::canary(100))];
        if let Some(primary_cookie) = &cookies.primary {
            primary.headers = Some(set_cookie(None, cookies.set(primary_cookie)));
            routes.push(cookie_route(
                STICKY_PRIMARY_ROUTE,
                primary_cookie,
                Weights::ALL_PRIMARY,
            ));
        }
        routes.push(weighted);
        Ok(routes)
    } else {
        // No run (or it ended): whoever still carries this revision's
        // cookie has it expired, and is served like everyone else.
        let mut expire = cookie_route(STICKY_ROUTE, &cookies.canary, weights.mirrored(false));
        expire.headers = Some(set_cookie(base.headers.clone(), Cookies::expire(&cookies.canary)));
        Ok(vec![expire, weighted])
    }
}

/// `operations` with a `Set-Cookie` response header added.
fn set_cookie(operations: Option<HeaderOperations>, cookie: String) -> HeaderOperations {
    let mut operations = operations.unwrap_or_default();
    let response = operations.response.get_or_insert_with(HeaderOperation::default);
    response.add.insert(SET_COOKIE.to_string(), cookie);
    operations
}

fn cookie_match(cookie: &str) -> HttpMatch {
    HttpMatch {
        headers: BTreeMap::from([(
            COOKIE.to_string(),
            StringMatch {
                regex: Some(Cookies::header_regex(cookie)),
                ..StringMatch::default()
            },
        )]),
        ..HttpMatch::default()
    }
}

/// Matches as Istio takes them: it has no `suffix`, so a suffix becomes the
/// equivalent regex. Everything else passes through.
pub(super) fn istio_matches(matches: &[HttpMatch]) -> Vec<HttpMatch> {
    let fix = |m: &StringMatch| {
        if m.suffix.is_some() {
            StringMatch {
                regex: pattern::as_regex(m),
                ..StringMatch::default()
            }
        } else {
            m.clone()
        }
    };
    let fix_map = |map: &BTreeMap<String, StringMatch>| {
        map.iter()
            .map(|(k, v)| (k.clone(), fix(v)))
            .collect::<BTreeMap<_, _>>()
    };
    matches
        .iter()
        .map(|m| HttpMatch {
            uri: m.uri.as_ref().map(fix),
            method: m.method.as_ref().map(fix),
            authority: m.authority.as_ref().map(fix),
            scheme: m.scheme.as_ref().map(fix),
            headers: fix_map(&m.headers),
            query_params: fix_map(&m.query_params),
            ..m.clone()
        })
        .collect()
}

/// The cross product of `conditions` (A/B or cookie matches) and the
/// route's own `service.match`: each service match, with what the condition
/// sets taking its place. As Flagger does for headers and sourceLabels;
/// serin also carries queryParams, uri, method, authority and scheme, which
/// Flagger silently dropped when `service.match` was set.
pub(super) fn merge(conditions: &[HttpMatch], service: &[HttpMatch]) -> Vec<HttpMatch> {
    if service.is_empty() {
        return conditions.to_vec();
    }
    let mut merged = Vec::with_capacity(conditions.len() * service.len());
    for c in conditions {
        for s in service {
            let mut m = s.clone();
            if !c.headers.is_empty() {
                m.headers = c.headers.clone();
            }
            if !c.query_params.is_empty() {
                m.query_params = c.query_params.clone();
            }
            if !c.source_labels.is_empty() {
                m.source_labels = c.source_labels.clone();
            }
            for (to, from) in [
                (&mut m.uri, &c.uri),
                (&mut m.method, &c.method),
                (&mut m.authority, &c.authority),
                (&mut m.scheme, &c.scheme),
            ] {
                if from.is_some() {
                    to.clone_from(from);
                }
            }
            if c.name.is_some() {
                m.name.clone_from(&c.name);
            }
            merged.push(m);
        }
    }
    merged
}
