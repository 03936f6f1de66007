//! A/B rules, mirroring and session affinity on the HTTPRoute.

use serde_json::json;

use super::*;
use crate::api::Canary;
use crate::router::fixtures;

fn canary(service: serde_json::Value, analysis: serde_json::Value, status: serde_json::Value) -> Canary {
    let mut value = serde_json::to_value(fixtures::canary()).expect("serialise");
    for (key, field) in service.as_object().expect("an object").clone() {
        value["spec"]["service"][key] = field;
    }
    for (key, field) in analysis.as_object().expect("an object").clone() {
        value["spec"]["analysis"][key] = field;
    }
    if !status.is_null() {
        value["status"] = status;
    }
    serde_json::from_value(value).expect("a valid Canary")
}

fn rules(canary: &Canary, weights: Weights) -> serde_json::Value {
    let route = http_route(canary, weights).expect("a route");
    serde_json::to_value(&route.spec.rules).expect("serialise")
}

fn backend(name: &str, weight: i32) -> serde_json::Value {
    json!({"name": name, "port": 9898, "weight": weight})
}

const ROOT: &str = "/";

fn root() -> serde_json::Value {
    json!({"type": "PathPrefix", "value": ROOT})
}

#[test]
fn ab_matches_become_a_weighted_rule_before_a_primary_only_rule() {
    let canary = canary(
        json!({"timeout": "5s"}),
        json!({"iterations": 10, "match": [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"x-build": {"prefix": "rc-"}, "x-team": {"suffix": ".qa"}}},
            {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
            {"queryParams": {"beta": {"exact": "1"}}}
        ]}),
        serde_json::Value::Null,
    );
    assert_eq!(
        rules(&canary, Weights::canary(100)),
        json!([
            {
                "matches": [
                    {"path": root(), "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]},
                    {"path": root(), "headers": [
                        {"type": "RegularExpression", "name": "x-build", "value": "rc-.*"},
                        {"type": "RegularExpression", "name": "x-team", "value": ".*\\.qa"}
                    ]},
                    {"path": root(), "headers": [
                        {"type": "RegularExpression", "name": "cookie", "value": "^(.*?;)?(canary=always)(;.*)?$"}
                    ]},
                    {"path": root(), "queryParams": [{"type": "Exact", "name": "beta", "value": "1"}]}
                ],
                "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)],
                "timeouts": {"request": "5s"}
            },
            {
                "matches": [{"path": root()}],
                "backendRefs": [backend("podinfo-primary", 100)],
                "timeouts": {"request": "5s"}
            }
        ])
    );
    let route = http_route(&canary, Weights::canary(100)).expect("a route");
    assert_eq!(route_weights(&canary, &route), Some(Weights::canary(100)));
    let idle = http_route(&canary, Weights::ALL_PRIMARY).expect("a route");
    assert_eq!(route_weights(&canary, &idle), Some(Weights::ALL_PRIMARY));
}

#[test]
fn ab_matches_are_crossed_with_the_service_matches() {
    let canary = canary(
        json!({"match": [{"uri": {"prefix": "/api"}}, {"uri": {"exact": "/v2"}, "method": {"exact": "GET"}}]}),
        json!({"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "1"}}}]}),
        serde_json::Value::Null,
    );
    let header = json!([{"type": "Exact", "name": "x-canary", "value": "1"}]);
    let rules = rules(&canary, Weights::canary(100));
    assert_eq!(
        rules[0]["matches"],
        json!([
            {"path": {"type": "PathPrefix", "value": "/api"}, "headers": header},
            {"path": {"type": "Exact", "value": "/v2"}, "headers": header, "method": "GET"}
        ])
    );
}

#[test]
fn source_labels_are_left_out_but_not_when_nothing_else_is_left() {
    let partly = canary(
        json!({}),
        json!({"iterations": 3, "match": [{"headers": {"x": {"exact": "1"}}, "sourceLabels": {"app": "web"}}]}),
        serde_json::Value::Null,
    );
    let r = rules(&partly, Weights::canary(100));
    assert_eq!(
        r[0]["matches"],
        json!([{"path": root(), "headers": [{"type": "Exact", "name": "x", "value": "1"}]}])
    );

    let only = canary(
        json!({}),
        json!({"iterations": 3, "match": [{"sourceLabels": {"app": "web"}}]}),
        serde_json::Value::Null,
    );
    let err = http_route(&only, Weights::canary(100)).expect_err("nothing left to match on");
    assert!(err.is_invalid_spec());
    assert!(err.to_string().contains("analysis.match[0]"), "{err}");
}

#[test]
fn mirroring_adds_a_request_mirror_to_the_canary_only_while_asked_for() {
    let canary = canary(
        json!({}),
        json!({"iterations": 5, "mirror": true, "mirrorWeight": 30}),
        serde_json::Value::Null,
    );
    let on = rules(&canary, Weights::ALL_PRIMARY.mirrored(true));
    assert_eq!(
        on[0]["filters"],
        json!([{"type": "RequestMirror", "requestMirror": {
            "backendRef": {"name": "podinfo-canary", "port": 9898}, "percent": 30
        }}])
    );
    let route = http_route(&canary, Weights::ALL_PRIMARY.mirrored(true)).expect("a route");
    assert_eq!(
        route_weights(&canary, &route),
        Some(Weights::ALL_PRIMARY.mirrored(true))
    );

    let off = rules(&canary, Weights::ALL_PRIMARY);
    assert!(off[0].get("filters").is_none(), "{off}");
    let route = http_route(&canary, Weights::ALL_PRIMARY).expect("a route");
    assert_eq!(route_weights(&canary, &route), Some(Weights::ALL_PRIMARY));
}

fn sticky_canary(affinity: serde_json::Value) -> Canary {
    canary(
        json!({}),
        json!({"sessionAffinity": affinity}),
        json!({"phase": "Progressing", "lastAppliedSpec": "abc123"}),
    )
}

fn cookie_value(canary: &Canary) -> String {
    let cookies = crate::router::affinity::Cookies::of(canary).expect("cookies");
    cookies
        .canary
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn set_cookie(value: String) -> serde_json::Value {
    json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]}})
}

#[test]
fn session_affinity_keeps_cookie_holders_on_the_canary_during_a_run() {
    let canary = sticky_canary(json!({"cookieName": "flagger-cookie", "maxAge": 60, "secure": true}));
    let value = cookie_value(&canary);
    assert_eq!(
        rules(&canary, Weights::canary(20)),
        json!([
            {
                "matches": [{"path": root(), "headers": [
                    {"type": "RegularExpression", "name": "Cookie", "value": format!(".*flagger-cookie.*{value}.*")}
                ]}],
                "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)]
            },
            {
                "matches": [{"path": root()}],
                "backendRefs": [
                    backend("podinfo-primary", 80),
                    {"name": "podinfo-canary", "port": 9898, "weight": 20,
                     "filters": [set_cookie(format!("flagger-cookie={value}; Max-Age=60; Secure"))]}
                ]
            }
        ])
    );
    let route = http_route(&canary, Weights::canary(20)).expect("a route");
    assert_eq!(route_weights(&canary, &route), Some(Weights::canary(20)));
}

#[test]
fn after_the_run_the_cookie_is_expired_for_those_who_still_send_it() {
    let canary = sticky_canary(json!({"cookieName": "c", "primaryCookieName": "p"}));
    let value = cookie_value(&canary);
    let r = rules(&canary, Weights::ALL_PRIMARY);
    assert_eq!(
        r[0]["filters"],
        json!([set_cookie(format!("c={value}; Max-Age=-1"))])
    );
    assert_eq!(
        r[0]["backendRefs"],
        json!([backend("podinfo-primary", 100), backend("podinfo-canary", 0)])
    );
    assert_eq!(r.as_array().map(Vec::len), Some(2));
    let route = http_route(&canary, Weights::ALL_PRIMARY).expect("a route");
    assert_eq!(route_weights(&canary, &route), Some(Weights::ALL_PRIMARY));

    // During a run the primary cookie has its own rule and is handed out by the primary.
    let r = rules(&canary, Weights::canary(10));
    assert_eq!(r.as_array().map(Vec::len), Some(3));
    assert_eq!(
        r[1]["backendRefs"],
        json!([backend("podinfo-primary", 100), backend("podinfo-canary", 0)])
    );
    assert_eq!(
        r[2]["backendRefs"][0]["filters"],
        json!([set_cookie(format!("p={value}; Max-Age=86400"))])
    );
}
