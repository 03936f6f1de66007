//! The VirtualService serin wants for a Canary, and the weights read back from one.

use super::http_routes::{STICKY_PRIMARY_ROUTE, STICKY_ROUTE, http_routes, istio_matches};
use super::{canary_host, object_meta, primary_host};
use crate::api::{Canary, CanaryService, HttpRetry, HttpRewrite, parse_duration};
use crate::rollout::Weights;
use crate::router::istio_types::*;
use crate::router::{RouterError, apex_name};

/// The gateway name Istio gives the sidecars of the mesh.
pub const MESH_GATEWAY: &str = "mesh";

/// The complete VirtualService serin applies for `canary` at `weights`: only
/// the fields serin owns, ready for server-side apply.
pub fn virtual_service(canary: &Canary, weights: Weights) -> Result<VirtualService, RouterError> {
    let service = &canary.spec.service;
    let apex = apex_name(canary);
    // A delegate VirtualService is only reachable through the one that
    // delegates to it, and Istio refuses hosts or gateways on it.
    let (hosts, gateways) = if service.delegation {
        (Vec::new(), Vec::new())
    } else {
        (hosts(service, apex), gateways(service))
    };
    let spec = if service
        .app_protocol
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("tcp"))
    {
        let port = port_number(service)?;
        VirtualServiceSpec {
            hosts,
            gateways,
            tcp: vec![TCPRoute {
                match_: vec![L4MatchAttributes { port: Some(port) }],
                route: destinations(apex, weights, Some(port)),
            }],
            ..VirtualServiceSpec::default()
        }
    } else {
        VirtualServiceSpec {
            hosts,
            gateways,
            http: http_routes(canary, weights)?,
            ..VirtualServiceSpec::default()
        }
    };
    let mut vs = VirtualService::new(apex, spec);
    vs.metadata = object_meta(canary, apex, service.apex.clone().unwrap_or_default())?;
    Ok(vs)
}

/// `service.hosts` and the apex Service, which the mesh routes by; `*`
/// already covers it.
fn hosts(service: &CanaryService, apex: &str) -> Vec<String> {
    let mut hosts = service.hosts.clone();
    if !hosts.iter().any(|h| h == apex || h == "*") {
        hosts.push(apex.to_string());
    }
    hosts
}

fn gateways(service: &CanaryService) -> Vec<String> {
    if service.gateways.is_empty() {
        vec![MESH_GATEWAY.to_string()]
    } else {
        service.gateways.clone()
    }
}

/// The fields every HTTP route serin writes shares: `service.match` and the
/// `service` passthroughs (rewrite, timeout, retries, CORS, headers), no
/// destinations yet.
pub(super) fn base_route(canary: &Canary) -> Result<HTTPRoute, RouterError> {
    let service = &canary.spec.service;
    Ok(HTTPRoute {
        match_: istio_matches(&service.match_),
        rewrite: service.rewrite.as_ref().and_then(rewrite),
        timeout: service
            .timeout
            .as_ref()
            .map(|t| istio_duration(&t.0, "service.timeout"))
            .transpose()?,
        retries: service.retries.as_ref().map(retries).transpose()?,
        cors_policy: service.cors_policy.clone(),
        headers: service.headers.clone(),
        ..HTTPRoute::default()
    })
}

/// The port destinations name, if any. A Service with several ports (port
/// discovery) needs it when the route serves a gateway or a delegating
/// VirtualService, which do not pick it from the caller's target port as
/// sidecars do.
pub(super) fn destination_port(canary: &Canary) -> Result<Option<u32>, RouterError> {
    let service = &canary.spec.service;
    let behind_gateway = service.gateways.first().is_some_and(|g| g != MESH_GATEWAY);
    if service.port_discovery && (behind_gateway || service.delegation) {
        Ok(Some(port_number(service)?))
    } else {
        Ok(None)
    }
}

/// `[primary, canary]` at `weights`.
pub(super) fn destinations(apex: &str, weights: Weights, port: Option<u32>) -> Vec<RouteDestination> {
    let destination = |host: String, weight: i32| RouteDestination {
        destination: Destination {
            host,
            port: port.map(|number| PortSelector { number }),
        },
        // Always explicit: an absent weight means 0 here but 100 on a lone
        // destination, and users reading the object should not have to know.
        weight: Some(weight),
        headers: None,
    };
    vec![
        destination(primary_host(apex), weights.primary),
        destination(canary_host(apex), weights.canary),
    ]
}

fn port_number(service: &CanaryService) -> Result<u32, RouterError> {
    u32::try_from(service.port)
        .map_err(|_| RouterError::InvalidSpec(format!("service.port {} is not a port", service.port)))
}

/// Istio rewrites the matched prefix when the match was a prefix and the
/// whole path otherwise, so Gateway API's `type` has nothing to add here.
fn rewrite(rewrite: &HttpRewrite) -> Option<HTTPRewrite> {
    let HttpRewrite { uri, authority, .. } = rewrite;
    (uri.is_some() || authority.is_some()).then(|| HTTPRewrite {
        uri: uri.clone(),
        authority: authority.clone(),
    })
}

fn retries(retry: &HttpRetry) -> Result<HTTPRetry, RouterError> {
    Ok(HTTPRetry {
        attempts: retry.attempts,
        per_try_timeout: retry
            .per_try_timeout
            .as_ref()
            .map(|t| istio_duration(&t.0, "service.retries.perTryTimeout"))
            .transpose()?,
        retry_on: retry.retry_on.clone(),
    })
}

/// A serin duration as Istio documents its durations: protobuf's JSON form,
/// seconds with an optional fraction (`90s`, `0.500s`). `1m30s` is not in it,
/// and whether Istio's parser accepts it anyway depends on its version.
pub(crate) fn istio_duration(text: &str, field: &str) -> Result<String, RouterError> {
    let duration = parse_duration(text)
        .map_err(|_| RouterError::InvalidSpec(format!("{field} {text:?} is not a valid duration")))?;
    let (secs, millis) = (duration.as_secs(), duration.subsec_millis());
    Ok(if millis == 0 {
        format!("{secs}s")
    } else {
        format!("{secs}.{millis:03}s")
    })
}

/// The weights on the route that splits traffic, as found (so not
/// necessarily adding up to 100 if someone edited them): the first route
/// (HTTP, then TCP) with both the primary and canary hosts that is not a
/// session-affinity route, else the first with the canary host; `None`
/// when no route sends traffic to `<apex>-canary`. `mirror` is whether
/// any HTTP route mirrors to the canary.
pub fn virtual_service_weights(canary: &Canary, vs: &VirtualService) -> Option<Weights> {
    let apex = apex_name(canary);
    let (primary, canary_name) = (primary_host(apex), canary_host(apex));
    let sticky = |r: &HTTPRoute| matches!(r.name.as_deref(), Some(STICKY_ROUTE) | Some(STICKY_PRIMARY_ROUTE));
    let tcp = vs.spec.tcp.iter().map(|r| r.route.as_slice());
    let routes = || vs.spec.http.iter().map(|r| (sticky(r), r.route.as_slice()));
    let routes = || routes().chain(tcp.clone().map(|route| (false, route)));
    let has = |route: &[RouteDestination], host: &str| route.iter().any(|d| d.destination.host == host);
    let (_, route) = routes()
        .find(|(sticky, route)| !sticky && has(route, &primary) && has(route, &canary_name))
        .or_else(|| routes().find(|(_, route)| has(route, &canary_name)))?;
    let weight_of = |host: &str| {
        let lone = route.len() == 1;
        route
            .iter()
            .find(|d| d.destination.host == host)
            .map(|d| d.weight.unwrap_or(if lone { 100 } else { 0 }))
    };
    let mirror = vs
        .spec
        .http
        .iter()
        .any(|r| r.mirror.as_ref().is_some_and(|m| m.host == canary_name));
    Some(Weights {
        canary: weight_of(&canary_name)?,
        mirror,
        primary: weight_of(&primary).unwrap_or(0),
    })
}
