//! MetricTemplate queries: Flagger's template variables (`{{ name }}`, `{{ namespace }}`, `{{ target }}`,
//! `{{ service }}`, `{{ ingress }}`, `{{ route }}`, `{{ interval }}`, `{{ variables.<key> }}`).
//!
//! Flagger parses queries as Go `text/template`, yet its documented query language is only these
//! names. Substituting them here, in one pass, keeps that surface exact: a value is inserted as text
//! and never parsed again, an unknown name is an error naming it, and anything else inside `{{ }}`
//! is refused instead of half-interpreted.

use std::collections::BTreeMap;

/// The values a query may refer to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// The Canary's name.
    pub name: String,
    pub namespace: String,
    /// `targetRef.name`.
    pub target: String,
    /// The apex Service: `service.name`, else `targetRef.name`.
    pub service: String,
    pub ingress: String,
    pub route: String,
    /// The metric's interval, e.g. `1m`.
    pub interval: String,
    /// `templateVariables`.
    pub variables: BTreeMap<String, String>,
}

/// Why a metric's query could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "metric {metric}: the query refers to unknown variable {variable:?}; known are name, namespace, \
         target, service, ingress, route, interval and variables.<key>"
    )]
    UnknownVariable { metric: String, variable: String },

    #[error("metric {metric}: the query refers to variables.{key}, but templateVariables has no key {key:?}")]
    MissingTemplateVariable { metric: String, key: String },

    #[error("metric {metric}: query template syntax error: {detail}")]
    Syntax { metric: String, detail: String },
}

/// Renders `template` for `metric` (named in errors), then collapses whitespace as Flagger does.
pub fn render(metric: &str, template: &str, vars: &TemplateVars) -> Result<String, TemplateError> {
    let syntax = |detail: String| TemplateError::Syntax {
        metric: metric.to_string(),
        detail,
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        push_text(&mut out, &rest[..open], trim_next);
        let after_open = &rest[open + 2..];
        let close = after_open.find("}}").ok_or_else(|| {
            syntax(format!(
                "unclosed {{{{ at {:?}",
                after_open.chars().take(30).collect::<String>()
            ))
        })?;
        let mut action = &after_open[..close];
        // Go's trim markers: `{{- ` and ` -}}` eat the whitespace beside the action.
        if let Some(inner) = action.strip_prefix("- ") {
            let kept = out.trim_end().len();
            out.truncate(kept);
            action = inner;
        }
        trim_next = false;
        if let Some(inner) = action.strip_suffix(" -") {
            trim_next = true;
            action = inner;
        }
        let action = action.trim();
        if !(action.starts_with("/*") && action.ends_with("*/") && action.len() >= 4) {
            out.push_str(lookup(metric, action, vars)?);
        }
        rest = &after_open[close + 2..];
    }
    push_text(&mut out, rest, trim_next);
    Ok(collapse_whitespace(&out))
}

fn push_text(out: &mut String, text: &str, trim_start: bool) {
    out.push_str(if trim_start { text.trim_start() } else { text });
}

fn lookup<'v>(metric: &str, action: &str, vars: &'v TemplateVars) -> Result<&'v str, TemplateError> {
    let unknown = || TemplateError::UnknownVariable {
        metric: metric.to_string(),
        variable: action.to_string(),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if action.is_empty() || !action.chars().all(plain) {
        return Err(TemplateError::Syntax {
            metric: metric.to_string(),
            detail: format!(
                "{{{{ {action} }}}} is not supported: use a variable such as {{{{ namespace }}}} \
                 or {{{{ variables.<key> }}}}"
            ),
        });
    }
    if let Some(key) = action.strip_prefix("variables.") {
        return vars.variables.get(key).map(String::as_str).ok_or_else(|| {
            TemplateError::MissingTemplateVariable {
                metric: metric.to_string(),
                key: key.to_string(),
            }
        });
    }
    Ok(match action {
        "name" => &vars.name,
        "namespace" => &vars.namespace,
        "target" => &vars.target,
        "service" => &vars.service,
        "ingress" => &vars.ingress,
        "route" => &vars.route,
        "interval" => &vars.interval,
        _ => return Err(unknown()),
    })
}

/// Every whitespace run becomes one space, and the ends are trimmed: what Flagger sends
/// (less the leading space its multi-line builtins leave).
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
