//! `kubectl serin lint FILE...`: the checks the API server and the
//! controller would make, offline. Each problem is printed as
//! `file:doc: path: message`; exit 1 if there is any.
//!
//! Checked: the generated CRD schema (see [`super::schema`], strict about
//! unknown fields), its CEL rules (see [`super::cel`]), metadata.name, that
//! serin's types accept the document, `Settings::from_spec` (interval,
//! steps) and that the provider has a router in this serin. Documents of
//! other kinds are skipped; Flagger ones are pointed at `migrate`.

use std::process::ExitCode;

use serde_json::Value;

use super::schema::{self, Problem};
use super::{PluginError, read_input, yaml_documents};
use crate::api::{Canary, VERSION};
use crate::rollout::Settings;

pub const KINDS: [&str; 3] = ["Canary", "MetricTemplate", "AlertProvider"];

pub(crate) fn run(files: &[String]) -> Result<ExitCode, PluginError> {
    let mut count = 0;
    for file in files {
        let text = read_input(file)?;
        let name = if file == "-" { "<stdin>" } else { file.as_str() };
        for (doc, problem) in lint_text(&text) {
            println!("{name}:{doc}: {}: {}", problem.path, problem.message);
            count += 1;
        }
    }
    if count > 0 {
        eprintln!("{count} problem(s) found");
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Problems of every document in a YAML stream, with the document's number (from 1).
pub fn lint_text(text: &str) -> Vec<(usize, Problem)> {
    let mut out = Vec::new();
    for doc in yaml_documents(text) {
        match doc {
            Ok((index, value)) => out.extend(lint_document(&value).into_iter().map(|p| (index, p))),
            Err(message) => out.push((0, Problem::new("", message))),
        }
    }
    out
}

/// Problems of one document; none for kinds serin does not own.
pub fn lint_document(doc: &Value) -> Vec<Problem> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let serin_api = format!("{}/{VERSION}", crate::api::GROUP);
    if api_version.starts_with("flagger.app/") && KINDS.contains(&kind) {
        return vec![Problem::new(
            "apiVersion",
            format!("{api_version} is Flagger's: convert with `kubectl serin migrate`"),
        )];
    }
    if !api_version.starts_with("serin.dev/") {
        return Vec::new();
    }
    if api_version != serin_api {
        return vec![Problem::new("apiVersion", format!("use {serin_api}"))];
    }
    let Some(schema) = schema::for_kind(kind) else {
        return vec![Problem::new(
            "kind",
            format!("{kind:?} is not one of {}", KINDS.join(", ")),
        )];
    };
    let mut problems = Vec::new();
    check_metadata(doc, &mut problems);
    // The CRD's root schema describes spec and status only; the API server
    // checks apiVersion, kind and metadata itself (metadata is done above).
    let mut body = doc.clone();
    if let Some(obj) = body.as_object_mut() {
        for key in ["apiVersion", "kind", "metadata"] {
            obj.remove(key);
        }
    }
    schema::validate(&schema, &body, "", &mut problems);
    if kind == "Canary" && problems.is_empty() {
        check_canary(doc, &mut problems);
    }
    if kind == "MetricTemplate" && problems.is_empty() {
        check_metric_template(doc, &mut problems);
    }
    problems
}

fn check_metadata(doc: &Value, out: &mut Vec<Problem>) {
    let metadata = doc.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
    let generate = metadata
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str);
    match (name, generate) {
        (None, None) => out.push(Problem::new("metadata.name", "required field is missing")),
        (Some(name), _) if !is_dns_label(name) => out.push(Problem::new(
            "metadata.name",
            format!("{name:?} must be a DNS label (lower case letters, digits and '-', at most 63)"),
        )),
        _ => {}
    }
}

/// Canary names become Service names, which must be DNS labels.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// What the controller would refuse although the schema accepts it.
fn check_canary(doc: &Value, out: &mut Vec<Problem>) {
    let canary: Canary = match serde_json::from_value(doc.clone()) {
        Ok(canary) => canary,
        Err(err) => {
            out.push(Problem::new("spec", format!("not a valid Canary: {err}")));
            return;
        }
    };
    if let Err(err) = Settings::from_spec(&canary.spec) {
        // InvalidSpec messages start with their path when they have one.
        let text = err.to_string();
        match text.split_once(": ") {
            Some((path, message)) if path.starts_with("spec.") => out.push(Problem::new(path, message)),
            _ => {
                let message = text.strip_prefix("spec.analysis ").unwrap_or(&text);
                out.push(Problem::new("spec.analysis", message))
            }
        }
    }
    if let Some(provider) = &canary.spec.provider {
        let supported = crate::router::supported_providers();
        if !crate::router::is_supported(provider) {
            out.push(Problem::new(
                "spec.provider",
                format!("serin has no router for {provider:?}; supported: {supported}"),
            ));
        }
    }
    for (i, metric) in canary.spec.analysis.metrics.iter().enumerate() {
        if let Some(Err(err)) = metric.interval.as_ref().map(|d| d.parse()) {
            out.push(Problem::new(
                &format!("spec.analysis.metrics[{i}].interval"),
                err.to_string(),
            ));
        }
    }
}

/// What the controller would find rendering the query: syntax and unknown
/// variables. `variables.<key>` depends on the Canary, so a missing key is not
/// a problem of the template alone.
fn check_metric_template(doc: &Value, out: &mut Vec<Problem>) {
    use crate::analysis::template::{TemplateError, TemplateVars, render};
    let Some(query) = doc.pointer("/spec/query").and_then(Value::as_str) else {
        return;
    };
    let vars = TemplateVars {
        name: "name".into(),
        namespace: "namespace".into(),
        target: "target".into(),
        service: "service".into(),
        ingress: "ingress".into(),
        route: "route".into(),
        interval: "1m".into(),
        variables: Default::default(),
    };
    match render("", query, &vars) {
        Ok(_) | Err(TemplateError::MissingTemplateVariable { .. }) => {}
        Err(err) => {
            // Without the `metric : ` prefix: no metric is involved yet.
            let text = err.to_string();
            let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m);
            out.push(Problem::new("spec.query", message));
        }
    }
    // The provider as the controller would build it (type, address, headers); without an
    // address the controller's --metrics-server is used, which lint cannot know.
    let Ok(template) = serde_json::from_value::<crate::api::MetricTemplate>(doc.clone()) else {
        return;
    };
    let fallback = "http://metrics-server.invalid";
    let config = crate::analysis::resolve::provider_config(
        &template.spec.provider,
        fallback,
        crate::analysis::Credentials::None,
    );
    if let Err(err) = config.and_then(|c| crate::analysis::provider_for(&c).map(|_| ())) {
        out.push(Problem::new("spec.provider", err.to_string()));
    }
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
