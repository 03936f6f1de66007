use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::json;

use super::*;
use crate::workload::revision;

fn template_of(dep: Deployment) -> PodTemplateSpec {
    dep.spec.map(|s| s.template).expect("template")
}

fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels(pairs)
}

#[test]
fn revision_is_stable() {
    let template = template_of(target());
    let tracked = configs(&[("configmap/a", "0011223344556677")]);
    let first = revision(&template, &tracked);
    assert_eq!(first, revision(&template.clone(), &tracked.clone()));
    assert_eq!(first.len(), 16);
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn revision_is_the_same_across_processes_and_releases() {
    // Pinned: a change here means every running Canary sees a "new revision" after
    // an upgrade of serin and starts a rollout. Change it only on purpose. The values
    // equal sha256("template\0" + JSON with sorted keys + "\0configs\0" + "key=sum\n"...),
    // so they can be reproduced outside serin.
    let template: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "podinfo"}, "annotations": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "podinfo", "image": "podinfo:6.0.0", "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "a", "key": "k"}}},
        ]}]},
    }))
    .expect("template");
    let tracked = configs(&[
        ("configmap/a", "0011223344556677"),
        ("secret/b", "8899aabbccddeeff"),
    ]);
    assert_eq!(revision(&template, &tracked), "002dc8a336b2e9e7");
    assert_eq!(
        revision(&PodTemplateSpec::default(), &BTreeMap::new()),
        "9ffe823d4be673b3"
    );
}

#[test]
fn revision_changes_with_the_template() {
    let base = revision(&template_of(target()), &BTreeMap::new());
    let image = target_with(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.0.1"}
    ]}}}}));
    assert_ne!(base, revision(&template_of(image), &BTreeMap::new()));
    let annotated = target_with(json!({"spec": {"template": {"metadata": {"annotations": {"retry": "1"}}}}}));
    assert_ne!(base, revision(&template_of(annotated), &BTreeMap::new()));
}

#[test]
fn revision_ignores_replicas_and_deployment_metadata() {
    let base = revision(&template_of(target()), &BTreeMap::new());
    let scaled = target_with(json!({"spec": {"replicas": 7}, "metadata": {"labels": {"x": "y"}}}));
    assert_eq!(base, revision(&template_of(scaled), &BTreeMap::new()));
}

#[test]
fn revision_changes_with_tracked_configs() {
    let template = template_of(target());
    let one = configs(&[("configmap/a", "0011223344556677")]);
    let changed = configs(&[("configmap/a", "0011223344556678")]);
    let more = configs(&[("configmap/a", "0011223344556677"), ("secret/b", "00")]);
    let base = revision(&template, &one);
    assert_ne!(base, revision(&template, &changed));
    assert_ne!(base, revision(&template, &more));
    assert_ne!(base, revision(&template, &BTreeMap::new()));
}
