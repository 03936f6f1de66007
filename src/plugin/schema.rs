//! Validation of a manifest against a CRD's OpenAPI v3 schema, the subset
//! serin's generated CRDs use: types, `nullable`, `required`, `enum`,
//! `pattern`, `minimum`/`maximum`, `minLength`/`maxLength`,
//! `minItems`/`maxItems`, `minProperties`, `additionalProperties`,
//! `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, and
//! the `x-kubernetes-validations` rules through [`super::cel`].
//!
//! Unlike the API server, which prunes unknown fields silently (or warns),
//! this is strict: an unknown field is a problem, because it is almost
//! always a typo or a field serin does not support.

use serde_json::{Map, Value};

use super::cel;

/// One thing wrong with a document, at a path like `spec.analysis.stepWeight`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        Problem {
            path: if path.is_empty() {
                "<root>".to_string()
            } else {
                path.to_string()
            },
            message: message.into(),
        }
    }
}

/// The OpenAPI schema of a serin kind, from the generated CRD.
pub fn for_kind(kind: &str) -> Option<Value> {
    crate::api::crds()
        .into_iter()
        .find(|crd| crd.spec.names.kind == kind)
        .and_then(|crd| crd.spec.versions.into_iter().next())
        .and_then(|version| version.schema)
        .and_then(|validation| validation.open_api_v3_schema)
        .and_then(|schema| serde_json::to_value(schema).ok())
}

pub fn validate(schema: &Value, value: &Value, path: &str, out: &mut Vec<Problem>) {
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) {
            out.push(Problem::new(path, "must not be null"));
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            out.push(Problem::new(path, "must be an integer or a string"));
        }
        return;
    }
    let before = out.len();
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !has_type(value, expected)
    {
        out.push(Problem::new(
            path,
            format!("must be {}, not {}", article(expected), describe(value)),
        ));
        return;
    }
    check_enum(schema, value, path, out);
    match value {
        Value::String(s) => check_string(schema, s, path, out),
        Value::Number(n) => check_number(schema, n.as_f64().unwrap_or(0.0), path, out),
        Value::Array(items) => check_array(schema, items, path, out),
        Value::Object(map) => check_object(schema, map, path, out),
        _ => {}
    }
    // As the API server does, CEL rules run only on a value whose schema checks passed.
    if out.len() == before {
        for rule in schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
            let message = rule.get("message").and_then(Value::as_str).unwrap_or(text);
            match cel::evaluate(text, value) {
                Some(true) => {}
                Some(false) => out.push(Problem::new(path, message)),
                None => out.push(Problem::new(path, format!("rule not checked offline: {text}"))),
            }
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn article(ty: &str) -> String {
    match ty {
        "integer" | "array" | "object" => format!("an {ty}"),
        _ => format!("a {ty}"),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn check_enum(schema: &Value, value: &Value, path: &str, out: &mut Vec<Problem>) {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(Problem::new(
            path,
            format!("{value} is not one of {}", names.join(", ")),
        ));
    }
}

fn check_string(schema: &Value, s: &str, path: &str, out: &mut Vec<Problem>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema
        .get("minLength")
        .and_then(Value::as_u64)
        .filter(|m| len < *m)
    {
        out.push(Problem::new(path, format!("must have at least {min} characters")));
    }
    if let Some(max) = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .filter(|m| len > *m)
    {
        out.push(Problem::new(path, format!("must have at most {max} characters")));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => {
                out.push(Problem::new(path, format!("{s:?} does not match {pattern}")))
            }
            Ok(_) => {}
            Err(err) => out.push(Problem::new(
                path,
                format!("schema pattern {pattern} unusable: {err}"),
            )),
        }
    }
}

fn check_number(schema: &Value, n: f64, path: &str, out: &mut Vec<Problem>) {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64).filter(|m| n < *m) {
        out.push(Problem::new(path, format!("must be at least {min}")));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64).filter(|m| n > *m) {
        out.push(Problem::new(path, format!("must be at most {max}")));
    }
    // The generated schemas mark i32 fields `format: int32`; a bigger value would not fit serin's types.
    if schema.get("format").and_then(Value::as_str) == Some("int32") && i32::try_from(n as i64).is_err() {
        out.push(Problem::new(path, "does not fit a 32-bit integer"));
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<Problem>) {
    let len = items.len() as u64;
    if let Some(min) = schema
        .get("minItems")
        .and_then(Value::as_u64)
        .filter(|m| len < *m)
    {
        out.push(Problem::new(path, format!("must have at least {min} items")));
    }
    if let Some(max) = schema
        .get("maxItems")
        .and_then(Value::as_u64)
        .filter(|m| len > *m)
    {
        out.push(Problem::new(path, format!("must have at most {max} items")));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{i}]"), out);
        }
    }
}

fn check_object(schema: &Value, map: &Map<String, Value>, path: &str, out: &mut Vec<Problem>) {
    if let Some(min) = schema
        .get("minProperties")
        .and_then(Value::as_u64)
        .filter(|m| (map.len() as u64) < *m)
    {
        out.push(Problem::new(path, format!("must have at least {min} fields")));
    }
    for field in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(field) = field.as_str().filter(|f| !map.contains_key(*f)) {
            out.push(Problem::new(&join(path, field), "required field is missing"));
        }
    }
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (key, value) in map {
        let child = join(path, key);
        if let Some(sub) = properties.and_then(|p| p.get(key)) {
            validate(sub, value, &child, out);
        } else if let Some(sub) = additional.filter(|a| a.is_object()) {
            validate(sub, value, &child, out);
        } else if !preserve && additional.and_then(Value::as_bool) != Some(true) {
            out.push(Problem::new(&child, unknown_field(key, properties)));
        }
    }
}

fn unknown_field(key: &str, properties: Option<&Map<String, Value>>) -> String {
    let known = properties
        .map(|p| p.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let closest = known
        .iter()
        .map(|k| (distance(&k.to_lowercase(), &key.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match closest {
        Some((_, k)) => format!("unknown field {key:?} (did you mean {k:?}?)"),
        None if known.is_empty() => format!("unknown field {key:?}"),
        None => format!("unknown field {key:?}; known fields: {}", known.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
