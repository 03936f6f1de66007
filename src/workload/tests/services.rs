use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::*;
use crate::workload::{service_names, services};

fn selector(svc: &Service) -> BTreeMap<String, String> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

fn ports(svc: &Service) -> Vec<ServicePort> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
}

fn port_names(svc: &Service) -> Vec<String> {
    ports(svc).into_iter().filter_map(|p| p.name).collect()
}

#[test]
fn names_default_to_the_target() {
    let names = service_names(&canary());
    assert_eq!(
        (names.apex.as_str(), names.primary.as_str()),
        ("podinfo", "podinfo-primary")
    );
    assert_eq!(names.canary, "podinfo-canary");
    let named = service_names(&canary_with(json!({"spec": {"service": {"name": "frontend"}}})));
    assert_eq!(named.apex, "frontend");
    assert_eq!(named.canary, "frontend-canary");
}

#[test]
fn selectors_split_primary_and_canary_pods() {
    let [apex, primary, canary_svc] = services(&canary(), &target()).expect("services");
    assert_eq!(apex.metadata.name.as_deref(), Some("podinfo"));
    assert_eq!(primary.metadata.name.as_deref(), Some("podinfo-primary"));
    assert_eq!(canary_svc.metadata.name.as_deref(), Some("podinfo-canary"));
    assert_eq!(selector(&apex), labels(&[("app", "podinfo-primary")]));
    assert_eq!(selector(&primary), labels(&[("app", "podinfo-primary")]));
    assert_eq!(selector(&canary_svc), labels(&[("app", "podinfo")]));
    for svc in [&apex, &primary, &canary_svc] {
        assert_eq!(
            svc.spec.as_ref().and_then(|s| s.type_.as_deref()),
            Some("ClusterIP")
        );
        assert_eq!(svc.metadata.namespace.as_deref(), Some("test"));
        assert_owned(&svc.metadata, true);
    }
}

#[test]
fn default_port() {
    let [apex, ..] = services(&canary(), &target()).expect("services");
    let want = ServicePort {
        name: Some("http".to_string()),
        port: 9898,
        target_port: Some(IntOrString::Int(9898)),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    };
    assert_eq!(ports(&apex), vec![want]);
}

#[test]
fn port_settings_are_honoured() {
    let canary = canary_with(json!({"spec": {"service": {
        "port": 80, "portName": "web", "targetPort": "http", "appProtocol": "kubernetes.io/h2c",
    }}}));
    let [apex, ..] = services(&canary, &target()).expect("services");
    let port = &ports(&apex)[0];
    assert_eq!(port.name.as_deref(), Some("web"));
    assert_eq!(port.port, 80);
    assert_eq!(port.target_port, Some(IntOrString::String("http".to_string())));
    assert_eq!(port.app_protocol.as_deref(), Some("kubernetes.io/h2c"));
}

#[test]
fn custom_metadata_per_service() {
    let canary = canary_with(json!({"spec": {"service": {
        "apex": {"labels": {"tier": "edge"}, "annotations": {"note": "apex"}},
        "canary": {"labels": {"app": "custom"}},
    }}}));
    let [apex, primary, canary_svc] = services(&canary, &target()).expect("services");
    assert_eq!(
        apex.metadata.labels,
        Some(labels(&[("app", "podinfo"), ("tier", "edge")]))
    );
    assert_eq!(apex.metadata.annotations, Some(labels(&[("note", "apex")])));
    assert_eq!(
        primary.metadata.labels,
        Some(labels(&[("app", "podinfo-primary")]))
    );
    assert_eq!(primary.metadata.annotations, None);
    assert_eq!(
        canary_svc.metadata.labels,
        Some(labels(&[("app", "custom")])),
        "user label wins"
    );
}

#[test]
fn port_discovery_adds_container_ports_once() {
    let canary = canary_with(json!({"spec": {"service": {"portDiscovery": true}}}));
    let dep = target_with(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "podinfo", "image": "podinfo", "ports": [
            {"name": "http", "containerPort": 9898},
            {"name": "grpc", "containerPort": 9999},
            {"containerPort": 8125, "protocol": "UDP"},
        ]},
        {"name": "sidecar", "image": "sidecar", "ports": [
            {"name": "grpc", "containerPort": 9999},
            {"name": "metrics", "containerPort": 9797},
        ]},
        {"name": "istio-proxy", "image": "proxy", "ports": [{"name": "http-envoy-prom", "containerPort": 15090}]},
        {"name": "envoy", "image": "envoy", "ports": [{"name": "admin", "containerPort": 15000}]},
    ]}}}}));
    let [apex, primary, canary_svc] = services(&canary, &dep).expect("services");
    assert_eq!(port_names(&apex), ["http", "grpc", "udp-podinfo-2", "metrics"]);
    let udp = &ports(&apex)[2];
    assert_eq!((udp.port, udp.protocol.as_deref()), (8125, Some("UDP")));
    assert_eq!(udp.target_port, Some(IntOrString::Int(8125)));
    assert_eq!(ports(&apex), ports(&primary));
    assert_eq!(ports(&apex), ports(&canary_svc));
}

#[test]
fn services_need_a_selector_label() {
    let dep = target_with(json!({"spec": {"selector": {"matchLabels": {"app": null}}}}));
    assert!(services(&canary(), &dep).is_err());
}
