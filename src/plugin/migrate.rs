//! `kubectl serin migrate FILE...`: Flagger `flagger.app/v1beta1` Canary,
//! MetricTemplate and AlertProvider manifests to `serin.dev/v1beta1`.
//!
//! serin keeps Flagger's field names, so most of a manifest carries over as
//! it is. What does not (fields serin has no equivalent for, found by walking
//! serin's own CRD schema) is dropped and reported on stderr as
//! `not carried over: <path>: <why>`, so the output always passes `lint`'s
//! schema check. Documents of other kinds pass through unchanged, so a file
//! holding a Deployment and its Canary converts as a whole.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::schema::{self, join};
use super::{PluginError, read_input, yaml_documents};
use crate::api::{GROUP, VERSION};

/// A converted stream: the documents, and what was said about them.
#[derive(Debug, Default)]
pub struct Migration {
    pub documents: Vec<Value>,
    /// Lines for stderr: dropped fields, warnings, skipped documents.
    pub notes: Vec<String>,
    /// How many Flagger documents were converted.
    pub converted: usize,
}

pub(crate) fn run(files: &[String]) -> Result<ExitCode, PluginError> {
    let mut all = Migration::default();
    for file in files {
        let text = read_input(file)?;
        let name = if file == "-" { "<stdin>" } else { file.as_str() };
        let m = migrate_text(&text);
        all.documents.extend(m.documents);
        all.notes
            .extend(m.notes.into_iter().map(|n| format!("{name}: {n}")));
        all.converted += m.converted;
    }
    let mut out = String::new();
    for doc in &all.documents {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(doc).map_err(PluginError::Yaml)?);
    }
    print!("{out}");
    for note in &all.notes {
        eprintln!("{note}");
    }
    if all.converted == 0 {
        eprintln!("nothing to convert: no flagger.app/v1beta1 Canary, MetricTemplate or AlertProvider found");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn migrate_text(text: &str) -> Migration {
    let mut m = Migration::default();
    for doc in yaml_documents(text) {
        match doc {
            Ok((index, value)) => migrate_document(index, value, &mut m),
            Err(message) => m.notes.push(message),
        }
    }
    m
}

fn migrate_document(index: usize, mut doc: Value, m: &mut Migration) {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let what = format!("doc {index} ({kind} {name})");
    if api_version != "flagger.app/v1beta1" || !super::lint::KINDS.contains(&kind.as_str()) {
        m.notes.push(format!("{what}: kept unchanged ({api_version})"));
        m.documents.push(doc);
        return;
    }
    let mut dropped = Vec::new();
    if kind == "Canary" {
        if let Some(reason) = unconvertible(&doc) {
            m.notes.push(format!("{what}: not converted: {reason}"));
            return;
        }
        rename_canary_analysis(&mut doc, &mut dropped);
        warn_provider(&doc, &what, &mut m.notes);
    }
    if kind == "MetricTemplate" {
        let provider = doc
            .pointer("/spec/provider/type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if provider != "prometheus" {
            m.notes.push(format!(
                "{what}: warning: serin queries Prometheus only; a {provider:?} template fails at analysis"
            ));
        }
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("apiVersion".into(), Value::String(format!("{GROUP}/{VERSION}")));
        if obj.remove("status").is_some() {
            dropped.push(("status".to_string(), "serin computes its own status".to_string()));
        }
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            clean_metadata(meta, &mut dropped);
        }
    }
    if let Some(schema) = schema::for_kind(&kind) {
        // Metadata is not in the CRD's schema (the API server owns it): prune the rest.
        if let (Some(spec), Some(spec_schema)) = (doc.get_mut("spec"), schema.pointer("/properties/spec")) {
            prune(spec_schema, spec, "spec", &mut dropped);
        }
    }
    for (path, why) in dropped {
        m.notes.push(format!("{what}: not carried over: {path}: {why}"));
    }
    m.converted += 1;
    m.documents.push(doc);
}

/// A Canary serin cannot run at all, with the reason.
fn unconvertible(doc: &Value) -> Option<String> {
    let kind = doc
        .pointer("/spec/targetRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("Deployment");
    (kind != "Deployment").then(|| format!("targetRef.kind {kind}: serin rolls out Deployments only"))
}

/// Flagger's deprecated `canaryAnalysis` is `analysis`; `analysis` wins when both are set.
fn rename_canary_analysis(doc: &mut Value, dropped: &mut Vec<(String, String)>) {
    let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(old) = spec.remove("canaryAnalysis") {
        if spec.contains_key("analysis") {
            dropped.push((
                "spec.canaryAnalysis".into(),
                "spec.analysis is set and wins, as in Flagger".into(),
            ));
        } else {
            spec.insert("analysis".into(), old);
        }
    }
}

fn warn_provider(doc: &Value, what: &str, notes: &mut Vec<String>) {
    let Some(provider) = doc.pointer("/spec/provider").and_then(Value::as_str) else {
        return;
    };
    let supported = crate::router::supported_providers();
    if !crate::router::is_supported(provider) {
        notes.push(format!(
            "{what}: warning: spec.provider {provider:?} is accepted but serin has no router for it; supported: {supported}"
        ));
    }
}

/// Keeps what a user writes; drops what the API server or Flagger set.
fn clean_metadata(meta: &mut Map<String, Value>, dropped: &mut Vec<(String, String)>) {
    for server_set in [
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "ownerReferences",
    ] {
        meta.remove(server_set);
    }
    if meta.remove("finalizers").is_some() {
        dropped.push((
            "metadata.finalizers".into(),
            "Flagger's finalizer; serin adds its own".into(),
        ));
    }
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
}

/// Removes every field serin's schema does not have, recording why.
fn prune(schema: &Value, value: &mut Value, path: &str, dropped: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true)
            {
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if properties.is_none() && additional.is_none() {
                return;
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child = join(path, &key);
                let sub = properties.and_then(|p| p.get(&key)).or(additional);
                match (sub, map.get_mut(&key)) {
                    (Some(sub), Some(v)) => prune(sub, v, &child, dropped),
                    _ => {
                        map.remove(&key);
                        let why = reason(&child);
                        dropped.push((child, why.to_string()));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item_schema, item, &format!("{path}[{i}]"), dropped);
                }
            }
        }
        _ => {}
    }
}

/// Why a Flagger field has no place in serin.
fn reason(path: &str) -> &'static str {
    let generic = strip_indexes(path);
    match generic.as_str() {
        "spec.ingressRef" => "NGINX/Skipper ingress routing is not supported by serin",
        "spec.routeRef" => "APISIX routing is not supported by serin",
        "spec.upstreamRef" => "Gloo routing is not supported by serin",
        "spec.autoscalerRef.primaryScalerQueries" => "KEDA ScaledObjects are not supported by serin",
        "spec.service.meshName" | "spec.service.backends" => "App Mesh is not supported by serin",
        "spec.service.headless" => "serin generates ClusterIP Services only",
        "spec.service.trafficDistribution" => "serin does not set trafficDistribution on its Services",
        "spec.service.backendTimeout" => {
            "serin has no backend timeout; service.timeout sets the request timeout"
        }
        "spec.service.unmanagedMetadata" => {
            "serin applies its Services server-side and leaves others' labels and annotations alone anyway"
        }
        _ => "serin has no such field",
    }
}

fn strip_indexes(path: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '[' => skipping = true,
            ']' => skipping = false,
            c if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
