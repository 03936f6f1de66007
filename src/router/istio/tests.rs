use serde_json::json;

use super::virtual_service::istio_duration;
use super::*;
use crate::api::Canary;
use crate::router::fixtures;
use crate::router::istio_types::*;

fn with_service(patch: serde_json::Value) -> Canary {
    let mut value = serde_json::to_value(fixtures::canary()).expect("serialise");
    value["spec"]["provider"] = json!("istio");
    let service = &mut value["spec"]["service"];
    for (key, field) in patch.as_object().expect("an object").clone() {
        service[key] = field;
    }
    serde_json::from_value(value).expect("a valid Canary")
}

/// The fixture without its Gateway API fields: what an Istio user writes.
fn minimal() -> Canary {
    let mut canary = with_service(json!({}));
    canary.spec.service.gateway_refs.clear();
    canary.spec.service.hosts.clear();
    canary
}

fn vs_json(canary: &Canary, weights: Weights) -> serde_json::Value {
    serde_json::to_value(virtual_service(canary, weights).expect("a VirtualService")).expect("serialise")
}

fn owner() -> serde_json::Value {
    json!([{
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "uid": "0000-1111",
        "controller": true
    }])
}

#[test]
fn the_default_virtual_service_sends_only_what_serin_owns() {
    assert_eq!(
        vs_json(&minimal(), Weights::canary(30)),
        json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": "test", "ownerReferences": owner()},
            "spec": {
                "hosts": ["podinfo"],
                "gateways": ["mesh"],
                "http": [{
                    "route": [
                        {"destination": {"host": "podinfo-primary"}, "weight": 70},
                        {"destination": {"host": "podinfo-canary"}, "weight": 30}
                    ]
                }]
            }
        })
    );
}

#[test]
fn a_zero_weight_is_sent_explicitly() {
    let vs = vs_json(&minimal(), Weights::ALL_PRIMARY);
    let route = &vs["spec"]["http"][0]["route"];
    assert_eq!(route[0]["weight"], 100);
    assert_eq!(route[1]["weight"], 0);
}

#[test]
fn hosts_get_the_apex_unless_listed_or_wildcarded() {
    for (hosts, expected) in [
        (json!(["app.example.com"]), json!(["app.example.com", "podinfo"])),
        (
            json!(["podinfo", "app.example.com"]),
            json!(["podinfo", "app.example.com"]),
        ),
        (json!(["*"]), json!(["*"])),
    ] {
        let vs = vs_json(&with_service(json!({"hosts": hosts})), Weights::ALL_PRIMARY);
        assert_eq!(vs["spec"]["hosts"], expected, "hosts {hosts}");
    }
}

#[test]
fn gateways_default_to_the_mesh_and_are_kept_as_given() {
    let vs = vs_json(&minimal(), Weights::ALL_PRIMARY);
    assert_eq!(vs["spec"]["gateways"], json!(["mesh"]));
    let gateways = json!(["istio-system/public", "mesh"]);
    let vs = vs_json(&with_service(json!({"gateways": gateways})), Weights::ALL_PRIMARY);
    assert_eq!(vs["spec"]["gateways"], gateways);
}

#[test]
fn delegation_sends_neither_hosts_nor_gateways() {
    let canary = with_service(json!({"delegation": true, "gateways": ["public"], "hosts": ["a.example"]}));
    let vs = vs_json(&canary, Weights::canary(10));
    assert!(vs["spec"].get("hosts").is_none(), "{vs}");
    assert!(vs["spec"].get("gateways").is_none(), "{vs}");
    assert_eq!(vs["spec"]["http"][0]["route"][1]["weight"], 10);
}

#[test]
fn the_destination_port_is_named_only_for_discovered_ports_behind_a_gateway_or_delegation() {
    let port_of = |service: serde_json::Value| {
        vs_json(&with_service(service), Weights::ALL_PRIMARY)["spec"]["http"][0]["route"][0]["destination"]
            .get("port")
            .cloned()
    };
    let expected = Some(json!({"number": 9898}));
    assert_eq!(
        port_of(json!({"portDiscovery": true, "gateways": ["public"]})),
        expected
    );
    assert_eq!(
        port_of(json!({"portDiscovery": true, "delegation": true})),
        expected
    );
    assert_eq!(port_of(json!({"portDiscovery": true})), None, "the mesh default");
    assert_eq!(
        port_of(json!({"portDiscovery": true, "gateways": ["mesh", "public"]})),
        None
    );
    assert_eq!(port_of(json!({"gateways": ["public"]})), None);
}

#[test]
fn route_fields_pass_through_in_istio_shape() {
    let cors = json!({
        "allowOrigins": [{"exact": "https://example.com"}],
        "allowMethods": ["GET", "POST"],
        "maxAge": "24h",
        "allowCredentials": true,
        "futureField": {"kept": 1}
    });
    let canary = with_service(json!({
        "match": [
            {"uri": {"prefix": "/api"}, "headers": {"x-user": {"exact": "beta"}}},
            {"sourceLabels": {"app": "frontend"}, "ignoreUriCase": true, "authority": {"suffix": ".example"}}
        ],
        "rewrite": {"uri": "/", "authority": "internal.example", "type": "PrefixMatch"},
        "timeout": "30s",
        "retries": {"attempts": 3, "perTryTimeout": "1m30s", "retryOn": "5xx,gateway-error"},
        "headers": {"request": {"set": {"x-env": "prod"}}, "response": {"remove": ["server"]}},
        "corsPolicy": cors
    }));
    let vs = vs_json(&canary, Weights::ALL_PRIMARY);
    let http = &vs["spec"]["http"][0];
    assert_eq!(
        http["match"],
        json!([
            {"uri": {"prefix": "/api"}, "headers": {"x-user": {"exact": "beta"}}},
            // Istio has no suffix match: the regex equivalent.
            {"authority": {"regex": ".*\\.example"}, "sourceLabels": {"app": "frontend"}, "ignoreUriCase": true}
        ])
    );
    assert_eq!(
        http["rewrite"],
        json!({"uri": "/", "authority": "internal.example"})
    );
    assert_eq!(http["timeout"], "30s");
    assert_eq!(
        http["retries"],
        json!({"attempts": 3, "perTryTimeout": "90s", "retryOn": "5xx,gateway-error"})
    );
    assert_eq!(
        http["headers"],
        json!({"request": {"set": {"x-env": "prod"}}, "response": {"remove": ["server"]}})
    );
    assert_eq!(http["corsPolicy"], cors);
}

#[test]
fn a_rewrite_with_only_a_type_is_no_rewrite() {
    let canary = with_service(json!({"rewrite": {"type": "FullPath"}}));
    let vs = vs_json(&canary, Weights::ALL_PRIMARY);
    assert!(vs["spec"]["http"][0].get("rewrite").is_none(), "{vs}");
}

#[test]
fn durations_are_written_in_seconds_as_istio_documents_them() {
    for (input, expected) in [
        ("30s", "30s"),
        ("1m30s", "90s"),
        ("2h", "7200s"),
        ("500ms", "0.500s"),
        ("1s5ms", "1.005s"),
    ] {
        assert_eq!(
            istio_duration(input, "t").ok().as_deref(),
            Some(expected),
            "{input}"
        );
    }
    let err = istio_duration("soon", "service.timeout").expect_err("not a duration");
    assert!(err.is_invalid_spec());
    assert_eq!(
        err.to_string(),
        "service.timeout \"soon\" is not a valid duration"
    );
}

#[test]
fn tcp_services_get_a_tcp_route_on_the_service_port() {
    let canary = with_service(json!({"appProtocol": "tcp", "hosts": []}));
    let vs = vs_json(&canary, Weights::canary(20));
    assert!(vs["spec"].get("http").is_none(), "{vs}");
    assert_eq!(
        vs["spec"]["tcp"],
        json!([{
            "match": [{"port": 9898}],
            "route": [
                {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 80},
                {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 20}
            ]
        }])
    );
    let vs = virtual_service(&canary, Weights::canary(20)).expect("a VirtualService");
    assert_eq!(virtual_service_weights(&canary, &vs), Some(Weights::canary(20)));
}

#[test]
fn service_name_and_apex_metadata_name_and_label_the_virtual_service() {
    let canary = with_service(json!({
        "name": "frontend",
        "apex": {"labels": {"team": "web"}, "annotations": {"note": "hi"}}
    }));
    let vs = virtual_service(&canary, Weights::canary(10)).expect("a VirtualService");
    assert_eq!(vs.metadata.name.as_deref(), Some("frontend"));
    assert_eq!(vs.metadata.labels, Some([("team".into(), "web".into())].into()));
    assert_eq!(
        vs.metadata.annotations,
        Some([("note".into(), "hi".into())].into())
    );
    let hosts: Vec<_> = vs.spec.http[0]
        .route
        .iter()
        .map(|d| d.destination.host.as_str())
        .collect();
    assert_eq!(hosts, ["frontend-primary", "frontend-canary"]);
    assert_eq!(vs.spec.hosts, ["app.example.com", "frontend"]);
}

#[test]
fn destination_rules_carry_the_traffic_policy_for_both_hosts() {
    let policy = json!({
        "tls": {"mode": "ISTIO_MUTUAL"},
        "connectionPool": {"http": {"http2MaxRequests": 100}},
        "loadBalancer": {"simple": "LEAST_REQUEST"}
    });
    let rules = destination_rules(&with_service(json!({"trafficPolicy": policy}))).expect("rules");
    let rules = serde_json::to_value(rules).expect("serialise");
    let rule = |host: &str| {
        json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": {"name": host, "namespace": "test", "ownerReferences": owner()},
            "spec": {"host": host, "trafficPolicy": policy}
        })
    };
    assert_eq!(rules, json!([rule("podinfo-primary"), rule("podinfo-canary")]));
}

#[test]
fn without_a_traffic_policy_the_rules_send_only_their_host() {
    let rules = destination_rules(&minimal()).expect("rules");
    let specs: Vec<_> = rules
        .iter()
        .map(|r| serde_json::to_value(&r.spec).expect("serialise"))
        .collect();
    assert_eq!(
        specs,
        [
            json!({"host": "podinfo-primary"}),
            json!({"host": "podinfo-canary"})
        ]
    );
    assert!(
        rules
            .iter()
            .all(|r| r.metadata.labels.is_none() && r.metadata.annotations.is_none())
    );
}

#[test]
fn objects_need_a_canary_from_the_api_server() {
    let mut canary = minimal();
    canary.metadata.uid = None;
    assert!(virtual_service(&canary, Weights::ALL_PRIMARY).is_err_and(|e| e.is_invalid_spec()));
    assert!(destination_rules(&canary).is_err_and(|e| e.is_invalid_spec()));
}

fn read(vs: serde_json::Value) -> Option<Weights> {
    let vs: VirtualService = serde_json::from_value(vs).expect("a VirtualService");
    virtual_service_weights(&minimal(), &vs)
}

fn with_http(http: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "http": http}
    })
}

#[test]
fn weights_are_read_from_the_first_route_with_the_canary_host() {
    let canary = minimal();
    let vs = virtual_service(&canary, Weights::canary(25)).expect("a VirtualService");
    assert_eq!(virtual_service_weights(&canary, &vs), Some(Weights::canary(25)));

    // A/B and cookie routes come first; foreign fields are tolerated.
    let weights = read(with_http(json!([
        {"match": [{"headers": {"cookie": {"regex": ".*canary.*"}}}],
         "route": [{"destination": {"host": "podinfo-primary"}, "weight": 100}]},
        {"fault": {"delay": {"fixedDelay": "1s"}},
         "mirror": {"host": "podinfo-canary"},
         "route": [
             {"destination": {"host": "podinfo-primary", "subset": "v1"}, "weight": 55, "headers": {}},
             {"destination": {"host": "podinfo-canary"}, "weight": 45}
         ]}
    ])));
    assert_eq!(weights, Some(Weights::canary(45).mirrored(true)));
}

#[test]
fn absent_weights_count_as_istio_counts_them() {
    let lone = read(with_http(json!([
        {"route": [{"destination": {"host": "podinfo-canary"}}]}
    ])));
    assert_eq!(
        lone,
        Some(Weights {
            primary: 0,
            canary: 100,
            mirror: false,
        }),
        "a lone destination takes all"
    );
    let pair = read(with_http(json!([
        {"route": [
            {"destination": {"host": "podinfo-primary"}, "weight": 100},
            {"destination": {"host": "podinfo-canary"}}
        ]}
    ])));
    assert_eq!(pair, Some(Weights::ALL_PRIMARY), "absent beside another is 0");
}

#[test]
fn no_route_to_the_canary_means_no_weights() {
    let primary_only = read(with_http(json!([
        {"route": [{"destination": {"host": "podinfo-primary"}}]}
    ])));
    assert_eq!(primary_only, None);
    let handmade = read(json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "tls": [{"match": [{"sniHosts": ["podinfo"]}]}]}
    }));
    assert_eq!(handmade, None);
}

#[tokio::test]
async fn istio_is_a_registered_provider() {
    let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a valid URL"));
    let client = Client::try_from(config).expect("a client for a dummy URL");
    let router = crate::router::router_for("istio", client).expect("a router");
    assert_eq!(router.name(), "istio");
}
