//! A/B routes, mirroring and session affinity on the VirtualService.

use serde_json::json;

use super::*;
use crate::api::Canary;
use crate::router::fixtures;

/// An Istio Canary with `analysis` fields and a status merged in.
fn canary(service: serde_json::Value, analysis: serde_json::Value, status: serde_json::Value) -> Canary {
    let mut value = serde_json::to_value(fixtures::canary()).expect("serialise");
    value["spec"]["provider"] = json!("istio");
    value["spec"]["service"] = json!({"port": 9898});
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

fn http(canary: &Canary, weights: Weights) -> serde_json::Value {
    let vs = virtual_service(canary, weights).expect("a VirtualService");
    serde_json::to_value(&vs.spec.http).expect("serialise")
}

fn dest(host: &str, weight: i32) -> serde_json::Value {
    json!({"destination": {"host": host}, "weight": weight})
}

#[test]
fn ab_matches_route_matching_requests_by_the_weights_and_the_rest_to_the_primary() {
    let canary = canary(
        json!({"timeout": "5s"}),
        json!({"iterations": 10, "match": [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"x-build": {"prefix": "rc-"}, "x-team": {"suffix": ".qa"}}},
            {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
            {"queryParams": {"beta": {"exact": "1"}}},
            {"sourceLabels": {"app": "frontend"}}
        ]}),
        serde_json::Value::Null,
    );
    assert_eq!(
        http(&canary, Weights::canary(100)),
        json!([
            {
                "match": [
                    {"headers": {"x-canary": {"exact": "insider"}}},
                    {"headers": {"x-build": {"prefix": "rc-"}, "x-team": {"regex": ".*\\.qa"}}},
                    {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
                    {"queryParams": {"beta": {"exact": "1"}}},
                    {"sourceLabels": {"app": "frontend"}}
                ],
                "timeout": "5s",
                "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)]
            },
            {"timeout": "5s", "route": [dest("podinfo-primary", 100)]}
        ])
    );
    let vs = virtual_service(&canary, Weights::canary(100)).expect("a VirtualService");
    assert_eq!(virtual_service_weights(&canary, &vs), Some(Weights::canary(100)));
    // Outside an analysis both routes point at the primary.
    let idle = http(&canary, Weights::ALL_PRIMARY);
    assert_eq!(
        idle[0]["route"],
        json!([dest("podinfo-primary", 100), dest("podinfo-canary", 0)])
    );
    assert_eq!(idle[1]["route"], json!([dest("podinfo-primary", 100)]));
}

#[test]
fn ab_matches_are_crossed_with_the_service_matches() {
    let canary = canary(
        json!({"match": [{"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/v2"}, "headers": {"x-b": {"exact": "2"}}}]}),
        json!({"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "1"}}}, {"queryParams": {"q": {"regex": "a+"}}}]}),
        serde_json::Value::Null,
    );
    let routes = http(&canary, Weights::canary(100));
    assert_eq!(
        routes[0]["match"],
        json!([
            {"uri": {"prefix": "/api"}, "headers": {"x-canary": {"exact": "1"}}},
            {"uri": {"prefix": "/v2"}, "headers": {"x-canary": {"exact": "1"}}},
            {"uri": {"prefix": "/api"}, "queryParams": {"q": {"regex": "a+"}}},
            {"uri": {"prefix": "/v2"}, "headers": {"x-b": {"exact": "2"}}, "queryParams": {"q": {"regex": "a+"}}}
        ])
    );
    assert_eq!(
        routes[1]["match"],
        json!([{"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/v2"}, "headers": {"x-b": {"exact": "2"}}}])
    );
}

#[test]
fn mirroring_is_on_the_weighted_route_only_while_asked_for() {
    let plain = canary(
        json!({}),
        json!({"iterations": 5, "mirror": true}),
        serde_json::Value::Null,
    );
    let on = http(&plain, Weights::ALL_PRIMARY.mirrored(true));
    assert_eq!(on[0]["mirror"], json!({"host": "podinfo-canary"}));
    assert!(on[0].get("mirrorPercentage").is_none(), "{on}");
    let vs = virtual_service(&plain, Weights::ALL_PRIMARY.mirrored(true)).expect("a VirtualService");
    assert_eq!(
        virtual_service_weights(&plain, &vs),
        Some(Weights::ALL_PRIMARY.mirrored(true))
    );

    let weighted = canary(
        json!({}),
        json!({"iterations": 5, "mirror": true, "mirrorWeight": 25}),
        serde_json::Value::Null,
    );
    let on = http(&weighted, Weights::ALL_PRIMARY.mirrored(true));
    assert_eq!(on[0]["mirrorPercentage"], json!({"value": 25.0}));

    let off = http(&weighted, Weights::ALL_PRIMARY);
    assert!(
        off[0].get("mirror").is_none() && off[0].get("mirrorPercentage").is_none(),
        "{off}"
    );
    let vs = virtual_service(&weighted, Weights::ALL_PRIMARY).expect("a VirtualService");
    assert_eq!(
        virtual_service_weights(&weighted, &vs),
        Some(Weights::ALL_PRIMARY)
    );
}

fn sticky_canary(affinity: serde_json::Value) -> Canary {
    canary(
        json!({"match": [{"uri": {"prefix": "/"}}]}),
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

#[test]
fn session_affinity_keeps_cookie_holders_on_the_canary_during_a_run() {
    let canary = sticky_canary(json!({"cookieName": "flagger-cookie", "maxAge": 120}));
    let value = cookie_value(&canary);
    let routes = http(&canary, Weights::canary(20));
    assert_eq!(
        routes,
        json!([
            {
                "name": "sticky-route",
                "match": [{"uri": {"prefix": "/"}, "headers": {"cookie": {"regex": format!(".*flagger-cookie.*{value}.*")}}}],
                "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)]
            },
            {
                "match": [{"uri": {"prefix": "/"}}],
                "route": [
                    dest("podinfo-primary", 80),
                    {"destination": {"host": "podinfo-canary"}, "weight": 20,
                     "headers": {"response": {"add": {"Set-Cookie": format!("flagger-cookie={value}; Max-Age=120")}}}}
                ]
            }
        ])
    );
    let vs = virtual_service(&canary, Weights::canary(20)).expect("a VirtualService");
    assert_eq!(
        virtual_service_weights(&canary, &vs),
        Some(Weights::canary(20)),
        "the sticky route is not the split"
    );
}

#[test]
fn a_primary_cookie_keeps_primary_users_on_the_primary() {
    let canary = sticky_canary(json!({"cookieName": "c", "primaryCookieName": "p"}));
    let value = cookie_value(&canary);
    let routes = http(&canary, Weights::canary(10));
    let names: Vec<_> = routes
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("weighted"))
        .collect();
    assert_eq!(names, ["sticky-route", "sticky-primary-route", "weighted"]);
    assert_eq!(
        routes[1]["route"],
        json!([dest("podinfo-primary", 100), dest("podinfo-canary", 0)])
    );
    assert_eq!(
        routes[2]["route"][0]["headers"],
        json!({"response": {"add": {"Set-Cookie": format!("p={value}; Max-Age=86400")}}})
    );
}

#[test]
fn after_the_run_the_cookie_is_expired_for_those_who_still_send_it() {
    let canary = sticky_canary(json!({"cookieName": "flagger-cookie"}));
    let value = cookie_value(&canary);
    let routes = http(&canary, Weights::ALL_PRIMARY);
    assert_eq!(routes[0]["name"], "sticky-route");
    assert_eq!(
        routes[0]["headers"],
        json!({"response": {"add": {"Set-Cookie": format!("flagger-cookie={value}; Max-Age=-1")}}})
    );
    assert_eq!(
        routes[0]["route"],
        json!([dest("podinfo-primary", 100), dest("podinfo-canary", 0)])
    );
    assert!(routes[1].get("headers").is_none(), "{routes}");
    assert!(
        routes[1]["route"][1].get("headers").is_none(),
        "no cookie handed out"
    );
}

#[test]
fn ab_testing_takes_precedence_over_session_affinity() {
    let canary = canary(
        json!({}),
        json!({"iterations": 3, "match": [{"headers": {"x": {"exact": "1"}}}], "sessionAffinity": {"cookieName": "c"}}),
        serde_json::Value::Null,
    );
    let routes = http(&canary, Weights::canary(100));
    assert_eq!(routes.as_array().map(Vec::len), Some(2));
    assert!(routes[0].get("name").is_none(), "{routes}");
}
