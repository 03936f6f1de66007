//! Reading a load spec from webhook metadata.

use std::collections::BTreeMap;

use super::super::load::{LoadSpec, LoadSpecError, Pacing};
use super::*;

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> Result<LoadSpec, LoadSpecError> {
    LoadSpec::from_metadata(&meta(pairs), Duration::from_secs(3600))
}

const URL: (&str, &str) = ("url", "http://podinfo-canary.test:9898/");

#[test]
fn a_minimal_spec_gets_defaults() {
    let spec = parse(&[URL, ("rate", "20"), ("duration", "1m")]).expect("valid");
    assert_eq!(spec.pacing, Pacing::Rate(20.0));
    assert_eq!(spec.duration, Duration::from_secs(60));
    assert_eq!(spec.method, reqwest::Method::GET);
    assert!(spec.headers.is_empty());
    assert_eq!(spec.body, None);
    assert_eq!(spec.request_timeout, Duration::from_secs(10));
}

#[test]
fn headers_split_on_lines_else_on_commas() {
    let spec = parse(&[
        URL,
        ("concurrency", "4"),
        ("duration", "30s"),
        ("method", "post"),
        ("headers", "Content-Type: application/json\nAccept: a, b\n"),
        ("body", "{\"x\": 1}"),
    ])
    .expect("valid");
    assert_eq!(spec.pacing, Pacing::Concurrency(4));
    assert_eq!(spec.method, reqwest::Method::POST);
    let headers: Vec<(String, String)> = spec
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().expect("ascii").to_string()))
        .collect();
    assert_eq!(
        headers,
        [
            ("content-type".to_string(), "application/json".to_string()),
            ("accept".to_string(), "a, b".to_string())
        ]
    );
    let spec = parse(&[
        URL,
        ("rate", "1"),
        ("duration", "1s"),
        ("headers", "X-A: 1, X-B: 2"),
    ])
    .expect("valid");
    assert_eq!(spec.headers.len(), 2);
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[URL, ("duration", "1m")], "exactly one of metadata.rate"),
        (
            &[URL, ("duration", "1m"), ("rate", "1"), ("concurrency", "1")],
            "exactly one of",
        ),
        (&[URL, ("duration", "1m"), ("rate", "0")], "metadata.rate"),
        (
            &[URL, ("duration", "1m"), ("concurrency", "many")],
            "metadata.concurrency",
        ),
        (&[URL, ("duration", "ten"), ("rate", "1")], "metadata.duration"),
        (&[URL, ("duration", "2h"), ("rate", "1")], "--timeout"),
        (
            &[("url", "ftp://x/"), ("duration", "1m"), ("rate", "1")],
            "not an http(s) URL",
        ),
        (
            &[URL, ("duration", "1m"), ("rate", "1"), ("headers", "no colon")],
            "metadata.headers",
        ),
        (
            &[URL, ("duration", "1m"), ("rate", "1"), ("method", "GE T")],
            "metadata.method",
        ),
    ];
    for (pairs, needle) in cases {
        let err = parse(pairs).expect_err("invalid spec").to_string();
        assert!(err.contains(needle), "{pairs:?}: {err}");
    }
}

#[test]
fn identity_changes_with_the_traffic_shape_only() {
    let a = parse(&[URL, ("rate", "20"), ("duration", "1m")]).expect("valid");
    let b = parse(&[URL, ("rate", " 20 "), ("duration", "1m")]).expect("valid");
    let c = parse(&[URL, ("rate", "21"), ("duration", "1m")]).expect("valid");
    assert_eq!(a.identity(), b.identity());
    assert_ne!(a.identity(), c.identity());
}
