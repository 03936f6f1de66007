use serde_json::json;

use super::filters::gateway_duration;
use super::*;
use crate::api::Canary;
use crate::router::fixtures;

fn with_service(patch: serde_json::Value) -> Canary {
    let mut value = serde_json::to_value(fixtures::canary()).expect("serialise");
    let service = &mut value["spec"]["service"];
    for (key, field) in patch.as_object().expect("an object").clone() {
        service[key] = field;
    }
    serde_json::from_value(value).expect("a valid Canary")
}

fn route_json(canary: &Canary, weights: Weights) -> serde_json::Value {
    serde_json::to_value(http_route(canary, weights).expect("a route")).expect("serialise")
}

fn invalid(canary: &Canary) -> String {
    match http_route(canary, Weights::ALL_PRIMARY) {
        Err(err) => {
            assert!(err.is_invalid_spec(), "{err}");
            err.to_string()
        }
        Ok(route) => panic!("expected an invalid spec, got {route:?}"),
    }
}

#[test]
fn default_route_sends_only_what_serin_owns() {
    let route = route_json(&fixtures::canary(), Weights::canary(40));
    assert_eq!(
        route,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
                "name": "podinfo",
                "namespace": "test",
                "ownerReferences": [{
                    "apiVersion": "serin.dev/v1beta1",
                    "kind": "Canary",
                    "name": "podinfo",
                    "uid": "0000-1111",
                    "controller": true
                }]
            },
            "spec": {
                "parentRefs": [{"name": "public", "namespace": "gateways"}],
                "hostnames": ["app.example.com"],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": "podinfo-primary", "port": 9898, "weight": 60},
                        {"name": "podinfo-canary", "port": 9898, "weight": 40}
                    ]
                }]
            }
        })
    );
}

#[test]
fn a_zero_weight_is_sent_explicitly() {
    let route = route_json(&fixtures::canary(), Weights::ALL_PRIMARY);
    let backends = &route["spec"]["rules"][0]["backendRefs"];
    assert_eq!(backends[0]["weight"], 100);
    assert_eq!(backends[1]["weight"], 0);
}

#[test]
fn gateway_refs_are_required() {
    let canary = with_service(json!({"gatewayRefs": []}));
    assert_eq!(
        invalid(&canary),
        "service.gatewayRefs is required for the gatewayapi provider"
    );
}

#[test]
fn a_service_parent_keeps_every_field_for_gamma_meshes() {
    let canary = with_service(json!({"gatewayRefs": [
        {"group": "core", "kind": "Service", "name": "podinfo", "port": 9898},
        {"group": "", "kind": "Service", "name": "other", "namespace": "x", "sectionName": "http"}
    ], "hosts": []}));
    let route = route_json(&canary, Weights::ALL_PRIMARY);
    assert_eq!(
        route["spec"]["parentRefs"],
        json!([
            {"group": "core", "kind": "Service", "name": "podinfo", "port": 9898},
            {"group": "", "kind": "Service", "name": "other", "namespace": "x", "sectionName": "http"}
        ])
    );
    assert!(
        route["spec"].get("hostnames").is_none(),
        "no hosts, no hostnames: {route}"
    );
}

#[test]
fn service_name_and_apex_metadata_name_and_label_the_route() {
    let canary = with_service(json!({
        "name": "frontend",
        "apex": {"labels": {"team": "web"}, "annotations": {"note": "hi"}}
    }));
    let route = http_route(&canary, Weights::canary(10)).expect("a route");
    assert_eq!(route.metadata.name.as_deref(), Some("frontend"));
    assert_eq!(
        route.metadata.labels,
        Some([("team".into(), "web".into())].into())
    );
    assert_eq!(
        route.metadata.annotations,
        Some([("note".into(), "hi".into())].into())
    );
    let names: Vec<_> = route.spec.rules[0]
        .backend_refs
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["frontend-primary", "frontend-canary"]);
}

#[test]
fn matches_map_to_gateway_api_matches() {
    let canary = with_service(json!({"match": [
        {"uri": {"prefix": "/api"}, "method": {"exact": "POST"},
         "headers": {"x-user": {"exact": "beta"}, "x-id": {"regex": "^1.*"}},
         "queryParams": {"debug": {"exact": "1"}}},
        {"uri": {"exact": "/health"}},
        {"uri": {"regex": "/v[0-9]+"}}
    ]}));
    let route = route_json(&canary, Weights::ALL_PRIMARY);
    assert_eq!(
        route["spec"]["rules"][0]["matches"],
        json!([
            {"path": {"type": "PathPrefix", "value": "/api"}, "method": "POST",
             "headers": [
                 {"type": "RegularExpression", "name": "x-id", "value": "^1.*"},
                 {"type": "Exact", "name": "x-user", "value": "beta"}
             ],
             "queryParams": [{"type": "Exact", "name": "debug", "value": "1"}]},
            {"path": {"type": "Exact", "value": "/health"}},
            {"path": {"type": "RegularExpression", "value": "/v[0-9]+"}}
        ])
    );
}

#[test]
fn matches_gateway_api_cannot_express_are_invalid() {
    for (service_match, expected) in [
        (
            json!({"uri": {"suffix": ".js"}}),
            "service.match[0].uri (only exact, prefix and regex)",
        ),
        (
            json!({"authority": {"exact": "a.example"}}),
            "service.match[0].authority",
        ),
        (
            json!({"sourceLabels": {"app": "x"}}),
            "service.match[0].sourceLabels",
        ),
        (
            json!({"method": {"prefix": "P"}}),
            "service.match[0].method must be an exact match",
        ),
        (
            json!({"method": {"exact": "FETCH"}}),
            "service.match[0].method must be an exact match",
        ),
    ] {
        let message = invalid(&with_service(json!({"match": [service_match]})));
        assert!(
            message.contains(expected),
            "{message:?} should mention {expected:?}"
        );
    }
}

#[test]
fn headers_rewrite_and_mirrors_become_filters_in_order() {
    let canary = with_service(json!({
        "headers": {
            "request": {"set": {"x-env": "prod"}, "add": {"x-a": "1"}, "remove": ["x-b"]},
            "response": {"remove": ["server"]}
        },
        "rewrite": {"uri": "/", "authority": "internal.example"},
        "mirror": [{"backendRef": {"name": "shadow", "port": 80}, "percent": 10}]
    }));
    let route = route_json(&canary, Weights::ALL_PRIMARY);
    assert_eq!(
        route["spec"]["rules"][0]["filters"],
        json!([
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                "set": [{"name": "x-env", "value": "prod"}],
                "add": [{"name": "x-a", "value": "1"}],
                "remove": ["x-b"]}},
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["server"]}},
            {"type": "URLRewrite", "urlRewrite": {
                "hostname": "internal.example",
                "path": {"type": "ReplaceFullPath", "replaceFullPath": "/"}}},
            {"type": "RequestMirror", "requestMirror": {
                "backendRef": {"name": "shadow", "port": 80}, "percent": 10}}
        ])
    );
}

#[test]
fn a_prefix_rewrite_needs_exactly_one_prefix_match() {
    let rewrite = json!({"uri": "/v2", "type": "PrefixMatch"});
    let ok = with_service(json!({"rewrite": rewrite, "match": [{"uri": {"prefix": "/v1"}}]}));
    let route = route_json(&ok, Weights::ALL_PRIMARY);
    assert_eq!(
        route["spec"]["rules"][0]["filters"][0]["urlRewrite"]["path"],
        json!({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"})
    );
    // The default match is `PathPrefix /`, which also qualifies.
    route_json(&with_service(json!({"rewrite": rewrite})), Weights::ALL_PRIMARY);

    let exact = with_service(json!({"rewrite": rewrite, "match": [{"uri": {"exact": "/v1"}}]}));
    assert!(invalid(&exact).contains("PrefixMatch needs exactly one"));
}

#[test]
fn a_mirror_without_a_port_is_invalid() {
    let canary = with_service(json!({"mirror": [{"backendRef": {"name": "shadow"}}]}));
    assert_eq!(invalid(&canary), "service.mirror[0].backendRef.port is required");
}

#[test]
fn the_timeout_becomes_the_request_timeout() {
    let canary = with_service(json!({"timeout": "30s"}));
    let route = route_json(&canary, Weights::ALL_PRIMARY);
    assert_eq!(route["spec"]["rules"][0]["timeouts"], json!({"request": "30s"}));
}

#[test]
fn durations_are_kept_when_gateway_api_accepts_them_and_rewritten_otherwise() {
    for (input, expected) in [
        ("30s", "30s"),
        ("1m30s", "1m30s"),
        ("500ms", "500ms"),
        ("100000s", "27h46m40s"),
        ("1h1m1s1ms1s", "1h1m2s1ms"),
        ("0s", "0s"),
    ] {
        assert_eq!(gateway_duration(input).ok().as_deref(), Some(expected), "{input}");
    }
    assert!(gateway_duration("100000h").is_err_and(|e| e.is_invalid_spec()));
    assert!(gateway_duration("soon").is_err());
}

#[test]
fn weights_are_read_from_the_rule_with_the_canary_backend() {
    let canary = fixtures::canary();
    let route = http_route(&canary, Weights::canary(25)).expect("a route");
    assert_eq!(route_weights(&canary, &route), Some(Weights::canary(25)));

    let mut edited = route.clone();
    edited.spec.rules[0].backend_refs[1].weight = None;
    edited.spec.rules[0].backend_refs.remove(0);
    assert_eq!(
        route_weights(&canary, &edited),
        Some(Weights {
            primary: 0,
            canary: 1,
            mirror: false,
        }),
        "absent primary counts 0, absent weight counts 1"
    );

    let mut foreign = route;
    foreign.spec.rules[0]
        .backend_refs
        .retain(|b| b.name == "podinfo-primary");
    assert_eq!(route_weights(&canary, &foreign), None);
}

#[test]
fn routes_others_extended_still_deserialise() {
    let route: HTTPRoute = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [{
                "filters": [{"type": "ExtensionRef", "extensionRef": {"group": "x", "kind": "Y", "name": "z"}}],
                "backendRefs": [{"name": "podinfo-canary", "port": 9898, "weight": 5}],
                "retry": {"attempts": 2},
                "sessionPersistence": {"type": "Cookie"}
            }]
        },
        "status": {"parents": [{
            "parentRef": {"name": "public"},
            "controllerName": "example.com/gateway",
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
        }]}
    }))
    .expect("unknown fields and filter types are tolerated");
    assert_eq!(
        route_weights(&fixtures::canary(), &route),
        Some(Weights {
            primary: 0,
            canary: 5,
            mirror: false,
        })
    );
}
