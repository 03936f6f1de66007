use serde_json::json;

use super::*;
use crate::router::fixtures;
use crate::router::smi_types::Weight;

fn split_json<S: TrafficSplitVersion>(canary: &Canary, weights: Weights) -> serde_json::Value {
    let split: S = traffic_split(canary, weights).expect("a split");
    serde_json::to_value(split).expect("serialise")
}

fn without_hosts() -> Canary {
    let mut canary = fixtures::canary();
    canary.spec.service.hosts.clear();
    canary
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
fn v1alpha1_sends_weights_as_quantity_strings() {
    let split = split_json::<v1alpha1::TrafficSplit>(&without_hosts(), Weights::canary(40));
    assert_eq!(
        split,
        json!({
            "apiVersion": "split.smi-spec.io/v1alpha1",
            "kind": "TrafficSplit",
            "metadata": {"name": "podinfo", "namespace": "test", "ownerReferences": owner()},
            "spec": {
                "service": "podinfo",
                "backends": [
                    {"service": "podinfo-canary", "weight": "40"},
                    {"service": "podinfo-primary", "weight": "60"}
                ]
            }
        })
    );
}

#[test]
fn v1alpha2_and_v1alpha3_send_integer_weights() {
    for (split, version) in [
        (
            split_json::<v1alpha2::TrafficSplit>(&without_hosts(), Weights::ALL_PRIMARY),
            "v1alpha2",
        ),
        (
            split_json::<v1alpha3::TrafficSplit>(&without_hosts(), Weights::ALL_PRIMARY),
            "v1alpha3",
        ),
    ] {
        assert_eq!(
            split,
            json!({
                "apiVersion": format!("split.smi-spec.io/{version}"),
                "kind": "TrafficSplit",
                "metadata": {"name": "podinfo", "namespace": "test", "ownerReferences": owner()},
                "spec": {
                    "service": "podinfo",
                    "backends": [
                        {"service": "podinfo-canary", "weight": 0},
                        {"service": "podinfo-primary", "weight": 100}
                    ]
                }
            })
        );
    }
}

#[test]
fn the_root_service_is_the_first_host_and_names_follow_the_apex() {
    let mut canary = fixtures::canary();
    canary.spec.service.name = Some("web".into());
    let split = split_json::<v1alpha2::TrafficSplit>(&canary, Weights::canary(10));
    assert_eq!(split["metadata"]["name"], "web");
    assert_eq!(split["spec"]["service"], "app.example.com");
    assert_eq!(split["spec"]["backends"][0]["service"], "web-canary");
    assert_eq!(split["spec"]["backends"][1]["service"], "web-primary");
}

#[test]
fn a_canary_without_uid_is_refused() {
    let mut canary = fixtures::canary();
    canary.metadata.uid = None;
    let result: Result<v1alpha1::TrafficSplit, _> = traffic_split(&canary, Weights::ALL_PRIMARY);
    assert!(result.is_err_and(|e| e.is_invalid_spec()));
}

fn read<S: TrafficSplitVersion>(spec: serde_json::Value) -> Option<Weights> {
    let split: S = serde_json::from_value(json!({
        "apiVersion": format!("split.smi-spec.io/{}", S::VERSION),
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": spec
    }))
    .expect("a TrafficSplit");
    split_weights(&fixtures::canary(), &split)
}

#[test]
fn weights_round_trip_in_every_version() {
    let canary = fixtures::canary();
    let weights = Weights::canary(30);
    let v1: v1alpha1::TrafficSplit = traffic_split(&canary, weights).expect("a split");
    let v2: v1alpha2::TrafficSplit = traffic_split(&canary, weights).expect("a split");
    let v3: v1alpha3::TrafficSplit = traffic_split(&canary, weights).expect("a split");
    assert_eq!(split_weights(&canary, &v1), Some(weights));
    assert_eq!(split_weights(&canary, &v2), Some(weights));
    assert_eq!(split_weights(&canary, &v3), Some(weights));
}

#[test]
fn either_spelling_reads_in_any_version() {
    // Without conversion the server returns what was written, whatever the version read.
    let spec = json!({"service": "podinfo", "backends": [
        {"service": "podinfo-primary", "weight": "75"},
        {"service": "podinfo-canary", "weight": 25}
    ]});
    let expected = Some(Weights {
        primary: 75,
        canary: 25,
        mirror: false,
    });
    assert_eq!(read::<v1alpha1::TrafficSplit>(spec.clone()), expected);
    assert_eq!(read::<v1alpha2::TrafficSplit>(spec.clone()), expected);
    assert_eq!(read::<v1alpha3::TrafficSplit>(spec), expected);
}

#[test]
fn weights_are_read_as_found() {
    let spec = |backends: serde_json::Value| json!({"service": "podinfo", "backends": backends});
    assert_eq!(
        read::<v1alpha1::TrafficSplit>(spec(json!([{"service": "podinfo-canary", "weight": "10"}]))),
        Some(Weights {
            primary: 0,
            canary: 10,
            mirror: false,
        }),
        "no primary backend"
    );
    assert_eq!(
        read::<v1alpha1::TrafficSplit>(spec(json!([
            {"service": "podinfo-canary"},
            {"service": "podinfo-primary", "weight": "900m"}
        ]))),
        Some(Weights {
            primary: 1,
            canary: 0,
            mirror: false,
        }),
        "absent is 0; fractions round up"
    );
    assert_eq!(
        read::<v1alpha2::TrafficSplit>(spec(json!([{"service": "podinfo-primary", "weight": 100}]))),
        None,
        "no canary backend"
    );
    assert_eq!(
        read::<v1alpha1::TrafficSplit>(spec(json!([{"service": "podinfo-canary", "weight": "lots"}]))),
        None,
        "an unreadable weight"
    );
}

#[test]
fn quantities_are_valued_like_kubernetes_does() {
    let value = |q: &str| Weight::Quantity(q.into()).value();
    assert_eq!(value("40"), Some(40));
    assert_eq!(value("+7"), Some(7));
    assert_eq!(value("1500m"), Some(2));
    assert_eq!(value("0.5"), Some(1));
    assert_eq!(value("1k"), Some(1000));
    assert_eq!(value("1Ki"), Some(1024));
    assert_eq!(value("10Gi"), None, "does not fit an i32");
    assert_eq!(value("40%"), None);
    assert_eq!(value(""), None);
    assert_eq!(Weight::Integer(i64::MAX).value(), None);
}

fn client() -> Client {
    // Routers only keep the client; nothing here talks to a server.
    let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a valid URL"));
    Client::try_from(config).expect("a client for a dummy URL")
}

#[tokio::test]
async fn every_smi_provider_name_gets_a_router_reporting_it() {
    for provider in ["linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3"] {
        let router = crate::router::router_for(provider, client()).expect("a router");
        assert_eq!(router.name(), provider);
    }
}

#[test]
fn a_missing_crd_names_the_version_the_router_writes() {
    let status =
        kube::core::Status::failure("404 page not found", "Failed to parse error data").with_code(404);
    let err =
        api_error::<v1alpha3::TrafficSplit>("apply", "test", "podinfo", kube::Error::Api(status.boxed()));
    assert!(
        err.to_string().starts_with(
            "the TrafficSplit CRD (split.smi-spec.io/v1alpha3) is not installed: install the SMI"
        ),
        "{err}"
    );
}
