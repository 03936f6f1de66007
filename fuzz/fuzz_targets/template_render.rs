//! `render` with any template and variables: never panics, keeps its size
//! limits and short errors, and a value never changes where the template's
//! string literals end (it is inserted as written or refused).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serin::analysis::template::{MAX_QUERY_BYTES, TemplateVars, render};

/// The input is text split at NUL bytes: the template, the target's name,
/// then `key=value` template variables (so seeds are readable).
struct Input {
    template: String,
    target: String,
    variables: Vec<(String, String)>,
}

impl Input {
    fn parse(data: &[u8]) -> Self {
        let text = String::from_utf8_lossy(data);
        let mut parts = text.split('\0');
        let template = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let variables = parts
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        Input {
            template,
            target,
            variables,
        }
    }
}

/// Whether `text` ends inside a PromQL string literal: a scanner written
/// apart from serin's, so the two check each other.
fn ends_in_literal(text: &str) -> bool {
    let mut quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None => {}
            Some('`') if c == '`' => quote = None,
            Some('`') => {}
            Some(_) if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
        }
    }
    quote.is_some()
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let vars = TemplateVars {
        name: "podinfo".into(),
        namespace: "test".into(),
        target: input.target,
        service: "podinfo".into(),
        ingress: "podinfo".into(),
        route: "podinfo".into(),
        interval: "1m".into(),
        variables: input.variables.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let first = render("m", &input.template, &vars);
    assert_eq!(first, render("m", &input.template, &vars), "deterministic");
    match first {
        Ok(query) => {
            assert!(query.len() <= MAX_QUERY_BYTES);
            // The same template with harmless values: string literals must end alike.
            let mut plain = vars.clone();
            plain.target = "x".into();
            plain.variables.values_mut().for_each(|v| *v = "x".into());
            if let Ok(reference) = render("m", &input.template, &plain) {
                assert_eq!(
                    ends_in_literal(&query),
                    ends_in_literal(&reference),
                    "a value changed the query's string literals: {query:.300}"
                );
            }
        }
        Err(err) => assert!(err.to_string().len() <= 2048, "{err}"),
    }
});
