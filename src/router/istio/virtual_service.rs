//! The VirtualService serin wants for a Canary, and the weights read back from one.

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
            http: vec![http_route(canary, weights)?],
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

// One weighted route today. A/B testing will put the `analysis.match` route
// first and this one, at primary 100, second; session affinity adds a cookie
// route. `virtual_service_weights` reads whichever route carries the canary.
fn http_route(canary: &Canary, weights: Weights) -> Result<HTTPRoute, RouterError> {
    let service = &canary.spec.service;
    // A Service with several ports (port discovery) needs the port named when
    // the route serves a gateway or a delegating VirtualService, which do
    // not pick it from the caller's target port as sidecars do.
    let behind_gateway = service.gateways.first().is_some_and(|g| g != MESH_GATEWAY);
    let port = if service.port_discovery && (behind_gateway || service.delegation) {
        Some(port_number(service)?)
    } else {
        None
    };
    Ok(HTTPRoute {
        match_: service.match_.clone(),
        route: destinations(apex_name(canary), weights, port),
        rewrite: service.rewrite.as_ref().and_then(rewrite),
        timeout: service
            .timeout
            .as_ref()
            .map(|t| istio_duration(&t.0, "service.timeout"))
            .transpose()?,
        retries: service.retries.as_ref().map(retries).transpose()?,
        cors_policy: service.cors_policy.clone(),
        headers: service.headers.clone(),
    })
}

fn destinations(apex: &str, weights: Weights, port: Option<u32>) -> Vec<RouteDestination> {
    let destination = |host: String, weight: i32| RouteDestination {
        destination: Destination {
            host,
            port: port.map(|number| PortSelector { number }),
        },
        // Always explicit: an absent weight means 0 here but 100 on a lone
        // destination, and users reading the object should not have to know.
        weight: Some(weight),
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

/// The weights on the first route (HTTP, then TCP) that sends traffic to
/// `<apex>-canary`, as found (so not necessarily adding up to 100 if someone
/// edited them); `None` when no route does.
pub fn virtual_service_weights(canary: &Canary, vs: &VirtualService) -> Option<Weights> {
    let apex = apex_name(canary);
    let (primary, canary_name) = (primary_host(apex), canary_host(apex));
    let http = vs.spec.http.iter().map(|r| r.route.as_slice());
    let tcp = vs.spec.tcp.iter().map(|r| r.route.as_slice());
    http.chain(tcp).find_map(|route| {
        let weight_of = |host: &str| {
            let lone = route.len() == 1;
            route
                .iter()
                .find(|d| d.destination.host == host)
                .map(|d| d.weight.unwrap_or(if lone { 100 } else { 0 }))
        };
        Some(Weights {
            canary: weight_of(&canary_name)?,
            mirror: false,
            primary: weight_of(&primary).unwrap_or(0),
        })
    })
}
