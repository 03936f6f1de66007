//! MetricTemplate queries: Flagger's template variables (`{{ name }}`, `{{ namespace }}`, `{{ target }}`,
//! `{{ service }}`, `{{ ingress }}`, `{{ route }}`, `{{ interval }}`, `{{ variables.<key> }}`).
//!
//! Flagger parses queries as Go `text/template`, yet its documented query language is only these
//! names. Substituting them here, in one pass, keeps that surface exact: a value is inserted as text
//! and never parsed again, an unknown name is an error naming it, and anything else inside `{{ }}`
//! is refused instead of half-interpreted.
//!
//! Values cannot change the query's structure (see `docs/` on MetricTemplates): a value placed
//! inside a PromQL string literal may not end that literal (an unescaped quote, a trailing
//! backslash, a line break), and a value placed outside one may not leave a literal open. Such a
//! value is refused with an error naming it, never escaped: `"} or vector(1) or {"` cannot turn a
//! label matcher into a query that always passes. Values and the rendered query are size-bounded.

use std::collections::BTreeMap;

/// The longest value a variable may have, in bytes: label values and regexes fit easily.
pub const MAX_VALUE_BYTES: usize = 4096;
/// The longest rendered query, in bytes; it travels in a URL.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

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

    #[error(
        "metric {metric}: the value of {variable} would {problem}; values are inserted as written and \
         may not change the query's structure"
    )]
    UnsafeValue {
        metric: String,
        variable: String,
        problem: String,
    },

    #[error("metric {metric}: the value of {variable} is {len} bytes, over the limit of {limit}")]
    ValueTooLong {
        metric: String,
        variable: String,
        len: usize,
        limit: usize,
    },

    #[error("metric {metric}: the rendered query is {len} bytes, over the limit of {limit}")]
    QueryTooLong {
        metric: String,
        len: usize,
        limit: usize,
    },
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
    let mut literal = Literal::default();
    while let Some(open) = rest.find("{{") {
        push_text(&mut out, &rest[..open], trim_next, &mut literal);
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
            let value = lookup(metric, action, vars)?;
            // The value may consume an escape the template left open (`"\{{ v }}"`).
            literal = check_value(metric, action, value, literal)?;
            out.push_str(value);
            if out.len() > MAX_QUERY_BYTES {
                return Err(too_long(metric, out.len()));
            }
        }
        rest = &after_open[close + 2..];
    }
    push_text(&mut out, rest, trim_next, &mut literal);
    let query = collapse_whitespace(&out);
    if query.len() > MAX_QUERY_BYTES {
        return Err(too_long(metric, query.len()));
    }
    Ok(query)
}

/// Template text quoted in an error, cut so a long template cannot make a long message.
fn shown(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn too_long(metric: &str, len: usize) -> TemplateError {
    TemplateError::QueryTooLong {
        metric: metric.to_string(),
        len,
        limit: MAX_QUERY_BYTES,
    }
}

fn push_text(out: &mut String, text: &str, trim_start: bool, literal: &mut Literal) {
    let text = if trim_start { text.trim_start() } else { text };
    text.chars().for_each(|c| literal.step(c));
    out.push_str(text);
}

/// Where the template's own text left off: inside a PromQL string literal or not.
/// PromQL strings are `"…"` and `'…'` with backslash escapes, and raw `` `…` ``.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Literal {
    quote: Option<char>,
    /// The previous character was an escaping backslash inside `"…"` or `'…'`.
    escaped: bool,
}

impl Literal {
    fn step(&mut self, c: char) {
        match self.quote {
            None => {
                if matches!(c, '"' | '\'' | '`') {
                    self.quote = Some(c);
                }
            }
            Some(_) if self.escaped => self.escaped = false,
            Some('`') => {
                if c == '`' {
                    self.quote = None;
                }
            }
            Some(q) => {
                if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
            }
        }
    }
}

/// Refuses a value that would change where the template's string literals begin and end;
/// returns where the text stands after it.
fn check_value(metric: &str, variable: &str, value: &str, at: Literal) -> Result<Literal, TemplateError> {
    let unsafe_value = |problem: String| TemplateError::UnsafeValue {
        metric: metric.to_string(),
        variable: shown(variable),
        problem,
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(TemplateError::ValueTooLong {
            metric: metric.to_string(),
            variable: shown(variable),
            len: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    let mut state = at;
    for c in value.chars() {
        if at.quote.is_some_and(|q| q != '`') && matches!(c, '\n' | '\r') {
            return Err(unsafe_value(
                "put a line break inside a quoted string".to_string(),
            ));
        }
        state.step(c);
        match (at.quote, state.quote) {
            (Some(q), None) => {
                return Err(unsafe_value(format!(
                    "end the quoted string it is placed in (it contains an unescaped {q})"
                )));
            }
            (Some(_), Some(_)) | (None, None) => {}
            // Outside a string, a balanced literal in the value is fine; an open one is checked below.
            (None, Some(_)) => {}
        }
    }
    match (at.quote, state.quote) {
        (Some(q), _) if state.escaped && !value.is_empty() => Err(unsafe_value(format!(
            "escape the {q} that closes the quoted string it is placed in (it ends in a backslash)"
        ))),
        // Found by fuzzing: `"\{{ v }}"` with an empty value leaves the template's
        // own backslash escaping its closing quote.
        (Some(_), _) if state.escaped => Err(unsafe_value(
            "be empty after a backslash, which would then escape the text that follows".to_string(),
        )),
        (None, Some(q)) => Err(unsafe_value(format!(
            "open a quoted string that the rest of the query does not close (an unmatched {q})"
        ))),
        _ => Ok(state),
    }
}

fn lookup<'v>(metric: &str, action: &str, vars: &'v TemplateVars) -> Result<&'v str, TemplateError> {
    let unknown = || TemplateError::UnknownVariable {
        metric: metric.to_string(),
        variable: shown(action),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if action.is_empty() || !action.chars().all(plain) {
        return Err(TemplateError::Syntax {
            metric: metric.to_string(),
            detail: format!(
                "{{{{ {} }}}} is not supported: use a variable such as {{{{ namespace }}}} \
                 or {{{{ variables.<key> }}}}",
                shown(action)
            ),
        });
    }
    if let Some(key) = action.strip_prefix("variables.") {
        return vars.variables.get(key).map(String::as_str).ok_or_else(|| {
            TemplateError::MissingTemplateVariable {
                metric: metric.to_string(),
                key: shown(key),
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
