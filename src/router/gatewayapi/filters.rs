//! `spec.service` fields in Flagger's (Istio-shaped) vocabulary, mapped to
//! Gateway API matches, filters and durations. Whatever Gateway API cannot
//! express is an invalid spec, not silently dropped.

use std::collections::BTreeMap;

use crate::api::{CanaryService, HeaderOperation, HttpMatch, StringMatch};
use crate::router::gatewayapi_types::*;
use crate::router::{RouterError, pattern};

/// `service.match` as route matches; none means every request (`PathPrefix /`).
pub(crate) fn route_matches(matches: &[HttpMatch]) -> Result<Vec<HTTPRouteMatch>, RouterError> {
    if matches.is_empty() {
        return Ok(vec![HTTPRouteMatch {
            path: Some(HTTPPathMatch {
                type_: Some(PATH_PREFIX.into()),
                value: Some("/".into()),
            }),
            ..HTTPRouteMatch::default()
        }]);
    }
    matches
        .iter()
        .enumerate()
        .map(|(i, m)| route_match(m, &format!("service.match[{i}]")))
        .collect()
}

pub(crate) fn route_match(m: &HttpMatch, at: &str) -> Result<HTTPRouteMatch, RouterError> {
    for (field, set) in [
        ("authority", m.authority.is_some()),
        ("scheme", m.scheme.is_some()),
        ("sourceLabels", !m.source_labels.is_empty()),
        ("ignoreUriCase", m.ignore_uri_case == Some(true)),
    ] {
        if set {
            return Err(unsupported(&format!("{at}.{field}")));
        }
    }
    let path = m
        .uri
        .as_ref()
        .map(|uri| {
            let (type_, value) = match uri {
                StringMatch { exact: Some(v), .. } => (PATH_EXACT, v),
                StringMatch { prefix: Some(v), .. } => (PATH_PREFIX, v),
                StringMatch { regex: Some(v), .. } => (REGULAR_EXPRESSION, v),
                _ => return Err(unsupported(&format!("{at}.uri (only exact, prefix and regex)"))),
            };
            Ok(HTTPPathMatch {
                type_: Some(type_.into()),
                value: Some(value.clone()),
            })
        })
        .transpose()?;
    let method = m
        .method
        .as_ref()
        .map(|method| match method {
            StringMatch { exact: Some(v), .. } if HTTP_METHODS.contains(&v.as_str()) => Ok(v.clone()),
            _ => Err(RouterError::InvalidSpec(format!(
                "{at}.method must be an exact match on one of {}",
                HTTP_METHODS.join(", ")
            ))),
        })
        .transpose()?;
    Ok(HTTPRouteMatch {
        path,
        headers: value_matches(&m.headers, &format!("{at}.headers"))?,
        query_params: value_matches(&m.query_params, &format!("{at}.queryParams"))?,
        method,
    })
}

const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn value_matches(
    matches: &BTreeMap<String, StringMatch>,
    at: &str,
) -> Result<Vec<HTTPValueMatch>, RouterError> {
    matches
        .iter()
        .map(|(name, m)| {
            // Gateway API has no prefix or suffix match here; the regex
            // equivalent says the same (RegularExpression is Extended
            // support, which the Envoy-based implementations all have).
            let (type_, value) = match m {
                StringMatch { exact: Some(v), .. } => (EXACT, v.clone()),
                other => match pattern::as_regex(other) {
                    Some(regex) => (REGULAR_EXPRESSION, regex),
                    None => return Err(unsupported(&format!("{at}.{name} (an empty match)"))),
                },
            };
            Ok(HTTPValueMatch {
                type_: Some(type_.into()),
                name: name.clone(),
                value,
            })
        })
        .collect()
}

fn unsupported(what: &str) -> RouterError {
    RouterError::InvalidSpec(format!("{what} is not supported by the gatewayapi provider"))
}

/// Rule filters from `service.headers`, `service.rewrite` and `service.mirror`,
/// in that order. `matches` are the rule's, which a prefix rewrite depends on.
pub(crate) fn route_filters(
    service: &CanaryService,
    matches: &[HTTPRouteMatch],
) -> Result<Vec<HTTPRouteFilter>, RouterError> {
    let mut filters = Vec::new();
    let headers = service.headers.as_ref();
    if let Some(request) = headers.and_then(|h| h.request.as_ref()).and_then(header_filter) {
        filters.push(HTTPRouteFilter {
            type_: REQUEST_HEADER_MODIFIER.into(),
            request_header_modifier: Some(request),
            ..HTTPRouteFilter::default()
        });
    }
    if let Some(response) = headers.and_then(|h| h.response.as_ref()).and_then(header_filter) {
        filters.push(HTTPRouteFilter {
            type_: RESPONSE_HEADER_MODIFIER.into(),
            response_header_modifier: Some(response),
            ..HTTPRouteFilter::default()
        });
    }
    if let Some(rewrite) = url_rewrite(service, matches)? {
        filters.push(HTTPRouteFilter {
            type_: URL_REWRITE.into(),
            url_rewrite: Some(rewrite),
            ..HTTPRouteFilter::default()
        });
    }
    for (i, mirror) in service.mirror.iter().enumerate() {
        let backend = &mirror.backend_ref;
        // Upstream's schema rejects a Service reference without a port; say so in Canary terms.
        let port = backend.port.ok_or_else(|| {
            RouterError::InvalidSpec(format!("service.mirror[{i}].backendRef.port is required"))
        })?;
        filters.push(HTTPRouteFilter {
            type_: REQUEST_MIRROR.into(),
            request_mirror: Some(HTTPRequestMirrorFilter {
                backend_ref: BackendObjectReference {
                    name: backend.name.clone(),
                    namespace: backend.namespace.clone(),
                    port: Some(port),
                    ..BackendObjectReference::default()
                },
                percent: mirror.percent,
            }),
            ..HTTPRouteFilter::default()
        });
    }
    Ok(filters)
}

fn header_filter(op: &HeaderOperation) -> Option<HTTPHeaderFilter> {
    let headers = |map: &BTreeMap<String, String>| {
        map.iter()
            .map(|(name, value)| HTTPHeader {
                name: name.clone(),
                value: value.clone(),
            })
            .collect::<Vec<_>>()
    };
    let filter = HTTPHeaderFilter {
        set: headers(&op.set),
        add: headers(&op.add),
        remove: op.remove.clone(),
    };
    let empty = filter.set.is_empty() && filter.add.is_empty() && filter.remove.is_empty();
    (!empty).then_some(filter)
}

fn url_rewrite(
    service: &CanaryService,
    matches: &[HTTPRouteMatch],
) -> Result<Option<HTTPURLRewriteFilter>, RouterError> {
    let Some(rewrite) = &service.rewrite else {
        return Ok(None);
    };
    let path = match (&rewrite.uri, rewrite.type_.as_deref()) {
        (None, _) => None,
        (Some(uri), Some("PrefixMatch")) => {
            // Upstream only accepts a prefix rewrite on a rule with exactly one PathPrefix match.
            let one_prefix = matches.len() == 1
                && matches[0].path.as_ref().and_then(|p| p.type_.as_deref()) == Some(PATH_PREFIX);
            if !one_prefix {
                return Err(RouterError::InvalidSpec(
                    "service.rewrite.type PrefixMatch needs exactly one service.match with a uri prefix"
                        .into(),
                ));
            }
            Some(HTTPPathModifier {
                type_: REPLACE_PREFIX_MATCH.into(),
                replace_prefix_match: Some(uri.clone()),
                ..HTTPPathModifier::default()
            })
        }
        (Some(uri), _) => Some(HTTPPathModifier {
            type_: REPLACE_FULL_PATH.into(),
            replace_full_path: Some(uri.clone()),
            ..HTTPPathModifier::default()
        }),
    };
    if path.is_none() && rewrite.authority.is_none() {
        return Ok(None);
    }
    Ok(Some(HTTPURLRewriteFilter {
        hostname: rewrite.authority.clone(),
        path,
    }))
}

/// A serin duration in Gateway API's narrower syntax (at most four parts of
/// at most five digits). Kept as written when it fits, so users recognise it.
pub(crate) fn gateway_duration(text: &str) -> Result<String, RouterError> {
    let invalid = || RouterError::InvalidSpec(format!("service.timeout {text:?} is not a valid duration"));
    let duration = crate::api::parse_duration(text).map_err(|_| invalid())?;
    if fits_gateway_syntax(text) {
        return Ok(text.to_string());
    }
    let ms = duration.as_millis();
    let parts = [
        (ms / 3_600_000, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1000 % 60, "s"),
        (ms % 1000, "ms"),
    ];
    let out: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    let out = if out.is_empty() { "0s".to_string() } else { out };
    if fits_gateway_syntax(&out) {
        Ok(out)
    } else {
        Err(RouterError::InvalidSpec(format!(
            "service.timeout {text:?} is longer than Gateway API allows (99999h)"
        )))
    }
}

fn fits_gateway_syntax(text: &str) -> bool {
    let mut parts = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 || digits > 5 {
            return false;
        }
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        if !["h", "m", "s", "ms"].contains(&&rest[digits..digits + unit_len]) {
            return false;
        }
        parts += 1;
        rest = &rest[digits + unit_len..];
    }
    (1..=4).contains(&parts)
}
