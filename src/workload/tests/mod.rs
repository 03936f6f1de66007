//! Unit tests of the workload builders, with shared fixtures.

mod configs;
mod hpa;
mod primary;
mod readiness;
mod revision;
mod services;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};

use crate::api::Canary;

/// Merges `patch` into `base` (objects recursively, anything else replaced; `null` removes).
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    merge(base.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

fn canary_with(patch: Value) -> Canary {
    let mut doc = json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "canary-uid"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {},
        },
    });
    merge(&mut doc, patch);
    serde_json::from_value(doc).expect("valid Canary fixture")
}

fn canary() -> Canary {
    canary_with(json!({}))
}

/// A target that references configs in every place serin looks.
fn target_with(patch: Value) -> Deployment {
    let mut doc = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "generation": 3,
            "labels": {"app": "podinfo", "team": "web"},
            "annotations": {"owner": "team-web"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "podinfo", "tier": "frontend"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo", "tier": "frontend"}},
                "spec": {
                    "containers": [{
                        "name": "podinfo",
                        "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                        "ports": [
                            {"name": "http", "containerPort": 9898},
                            {"name": "grpc", "containerPort": 9999},
                        ],
                        "env": [
                            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "a"}}},
                            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "b"}}},
                            {"name": "C", "value": "plain"},
                        ],
                        "envFrom": [{"configMapRef": {"name": "cm-from"}}, {"secretRef": {"name": "s-from"}}],
                    }],
                    "initContainers": [{
                        "name": "init",
                        "image": "busybox",
                        "envFrom": [{"configMapRef": {"name": "cm-init"}}],
                        "env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "s-init", "key": "d"}}}],
                    }],
                    "volumes": [
                        {"name": "v1", "configMap": {"name": "cm-vol"}},
                        {"name": "v2", "secret": {"secretName": "s-vol"}},
                        {"name": "v3", "projected": {"sources": [
                            {"configMap": {"name": "cm-proj"}},
                            {"secret": {"name": "s-proj"}},
                            {"serviceAccountToken": {"path": "token"}},
                        ]}},
                    ],
                },
            },
        },
    });
    merge(&mut doc, patch);
    serde_json::from_value(doc).expect("valid Deployment fixture")
}

fn target() -> Deployment {
    target_with(json!({}))
}

const CONFIG_MAPS: [&str; 5] = ["cm-env", "cm-from", "cm-init", "cm-vol", "cm-proj"];
const SECRETS: [&str; 5] = ["s-env", "s-from", "s-init", "s-vol", "s-proj"];

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.metadata.namespace = Some("test".to_string());
    cm.data = Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    cm
}

fn secret(name: &str, type_: Option<&str>, data: &[(&str, &str)]) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.to_string());
    s.metadata.namespace = Some("test".to_string());
    s.type_ = type_.map(str::to_string);
    s.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect(),
    );
    s
}

fn all_config_maps() -> Vec<ConfigMap> {
    CONFIG_MAPS.iter().map(|n| config_map(n, &[("k", n)])).collect()
}

fn all_secrets() -> Vec<Secret> {
    SECRETS
        .iter()
        .map(|n| secret(n, Some("Opaque"), &[("k", n)]))
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Asserts the object is owned by the fixture Canary, as its controller or not.
fn assert_owned(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, controller: bool) {
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    let owner = &owners[0];
    assert_eq!(owner.api_version, "serin.dev/v1beta1");
    assert_eq!(owner.kind, "Canary");
    assert_eq!(owner.name, "podinfo");
    assert_eq!(owner.uid, "canary-uid");
    assert_eq!(owner.controller.unwrap_or(false), controller);
    assert_eq!(owner.block_owner_deletion, Some(true));
}
