//! String matches turned into regular expressions, for match kinds a
//! provider cannot express natively (Istio has no `suffix`, Gateway API has
//! neither `prefix` nor `suffix` for headers and query parameters).
//!
//! Both Envoy-based data planes evaluate these as RE2 against the whole
//! value, so `.*` has to be spelled out where the match is open.

use crate::api::StringMatch;

/// `text` with every RE2 metacharacter escaped, so it matches itself.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A regex equivalent to `m`, whichever kind it is; `None` when nothing is set.
pub(crate) fn as_regex(m: &StringMatch) -> Option<String> {
    match m {
        StringMatch { exact: Some(v), .. } => Some(escape(v)),
        StringMatch { prefix: Some(v), .. } => Some(format!("{}.*", escape(v))),
        StringMatch { suffix: Some(v), .. } => Some(format!(".*{}", escape(v))),
        StringMatch { regex: Some(v), .. } => Some(v.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(json: serde_json::Value) -> StringMatch {
        serde_json::from_value(json).expect("a StringMatch")
    }

    #[test]
    fn every_kind_becomes_an_anchored_equivalent() {
        use serde_json::json;
        assert_eq!(as_regex(&m(json!({"exact": "a.b"}))).as_deref(), Some(r"a\.b"));
        assert_eq!(as_regex(&m(json!({"prefix": "v1+"}))).as_deref(), Some(r"v1\+.*"));
        assert_eq!(
            as_regex(&m(json!({"suffix": ".example"}))).as_deref(),
            Some(r".*\.example")
        );
        assert_eq!(as_regex(&m(json!({"regex": "^x$"}))).as_deref(), Some("^x$"));
        assert_eq!(as_regex(&m(json!({}))), None);
    }
}
