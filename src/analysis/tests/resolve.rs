//! Where a metric's query, server and credentials come from.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use serde_json::json;

use super::{canary, metric};
use crate::analysis::error::MetricError;
use crate::analysis::provider::{Credentials, DEFAULT_TIMEOUT, QueryError};
use crate::analysis::resolve::{
    canary_server, credentials_from, gate_for, provider_config, query_for, template_vars,
};
use crate::api::MetricProviderSpec;

#[test]
fn template_variables_come_from_the_canary_and_the_metric() {
    let mut canary = canary(json!([]));
    let m = metric(json!({"name": "x", "templateVariables": {"k": "v"}}));
    let vars = template_vars(&canary, &m);
    assert_eq!(
        (vars.name.as_str(), vars.namespace.as_str(), vars.target.as_str()),
        ("podinfo", "test", "podinfo-app")
    );
    assert_eq!(vars.service, "podinfo-app", "the apex defaults to the target");
    assert_eq!(
        vars.ingress, "podinfo-app",
        "Flagger's fallback without ingressRef"
    );
    assert_eq!(vars.interval, "1m", "the default interval");
    assert_eq!(vars.variables.get("k").map(String::as_str), Some("v"));

    canary.spec.service.name = Some("podinfo-apex".into());
    let m = metric(json!({"name": "x", "interval": "30s"}));
    let vars = template_vars(&canary, &m);
    assert_eq!(
        (vars.service.as_str(), vars.interval.as_str()),
        ("podinfo-apex", "30s")
    );
}

#[test]
fn builtin_metrics_use_the_canary_server_else_the_default() {
    let mut canary = canary(json!([]));
    assert_eq!(
        canary_server(&canary, "http://prometheus:9090"),
        "http://prometheus:9090"
    );
    canary.spec.metrics_server = Some("http://thanos:9090".into());
    assert_eq!(
        canary_server(&canary, "http://prometheus:9090"),
        "http://thanos:9090"
    );
    canary.spec.metrics_server = Some(" ".into());
    assert_eq!(
        canary_server(&canary, "http://prometheus:9090"),
        "http://prometheus:9090"
    );
}

fn provider_spec(json: serde_json::Value) -> MetricProviderSpec {
    serde_json::from_value(json).expect("a provider spec")
}

#[test]
fn a_template_address_wins_over_the_canary_server() {
    let spec = provider_spec(json!({"type": "prometheus", "address": "http://tenant-prom:9090",
        "headers": {"X-Scope-OrgID": ["team-a"]}, "insecureSkipVerify": true, "timeout": "10s"}));
    let config = provider_config(&spec, "http://thanos:9090", Credentials::None).expect("valid");
    assert_eq!(config.address, "http://tenant-prom:9090");
    assert_eq!(config.timeout, Duration::from_secs(10));
    assert!(config.insecure_skip_verify);
    assert_eq!(
        config.headers.get("X-Scope-OrgID"),
        Some(&vec!["team-a".to_string()])
    );

    let spec = provider_spec(json!({"type": "prometheus"}));
    let config = provider_config(&spec, "http://thanos:9090", Credentials::None).expect("valid");
    assert_eq!(
        (config.address.as_str(), config.timeout),
        ("http://thanos:9090", DEFAULT_TIMEOUT)
    );
}

#[test]
fn a_bad_timeout_is_a_configuration_error() {
    let spec = provider_spec(json!({"type": "prometheus", "timeout": "5 seconds"}));
    let err = provider_config(&spec, "http://p:9090", Credentials::None).expect_err("bad timeout");
    assert!(
        matches!(err, QueryError::InvalidConfig(ref m) if m.starts_with("provider timeout")),
        "{err}"
    );
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

#[test]
fn credentials_are_a_token_or_a_username_and_password() {
    assert_eq!(
        credentials_from(&data(&[("token", "abc\n")])),
        Ok(Credentials::Bearer("abc".into()))
    );
    assert_eq!(
        credentials_from(&data(&[("username", "admin"), ("password", "s3cret")])),
        Ok(Credentials::Basic {
            username: "admin".into(),
            password: "s3cret".into()
        })
    );
    // A token wins; an empty one does not count.
    assert_eq!(
        credentials_from(&data(&[("token", "t"), ("username", "u"), ("password", "p")])),
        Ok(Credentials::Bearer("t".into()))
    );
    assert!(credentials_from(&data(&[("token", ""), ("username", "u"), ("password", "p")])).is_ok());

    for (pairs, problem) in [
        (&[("username", "u")][..], "has a username key but no password key"),
        (&[("password", "p")][..], "has a password key but no username key"),
        (
            &[("apiKey", "k")][..],
            "has neither a token key nor username and password keys",
        ),
        (&[][..], "has neither a token key nor username and password keys"),
    ] {
        assert_eq!(credentials_from(&data(pairs)), Err(problem.to_string()));
    }
    let binary = BTreeMap::from([("token".to_string(), ByteString(vec![0xff, 0xfe]))]);
    assert_eq!(
        credentials_from(&binary),
        Err("key token is not UTF-8 text".to_string())
    );
}

#[test]
fn credentials_never_show_in_debug_output() {
    let text = format!(
        "{:?} {:?}",
        Credentials::Bearer("tok3n".into()),
        Credentials::Basic {
            username: "admin".into(),
            password: "s3cret".into()
        }
    );
    assert!(!text.contains("tok3n") && !text.contains("s3cret"), "{text}");
}

#[test]
fn queries_come_from_the_template_then_inline_then_the_builtins() {
    let canary = canary(json!([]));
    let templated = metric(json!({"name": "request-success-rate", "templateRef": {"name": "t"}}));
    assert_eq!(query_for(&canary, &templated, "kubernetes"), Ok(None));

    let inline = metric(json!({"name": "request-success-rate", "query": "  sum(up)\n  * 100 "}));
    assert_eq!(
        query_for(&canary, &inline, "kubernetes"),
        Ok(Some(("sum(up) * 100".into(), None)))
    );

    let builtin = metric(json!({"name": "request-duration", "interval": "2m"}));
    let (query, how) = query_for(&canary, &builtin, "istio")
        .expect("known")
        .expect("a builtin");
    assert!(
        query.starts_with("histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ \
             kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-app-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[2m]"),
        "the Canary's provider (kubernetes) wins over the default: {query}"
    );
    assert_eq!(how.map(|b| b.scale), Some(1000.0));

    let unknown = metric(json!({"name": "error-rate"}));
    assert_eq!(
        query_for(&canary, &unknown, "kubernetes"),
        Err(MetricError::NoQuery {
            metric: "error-rate".into()
        })
    );
}

#[test]
fn the_default_provider_applies_when_the_canary_names_none() {
    let mut canary = canary(json!([]));
    canary.spec.provider = None;
    let m = metric(json!({"name": "request-success-rate"}));
    let (query, _) = query_for(&canary, &m, "linkerd")
        .expect("known")
        .expect("builtin");
    assert!(
        query.starts_with("sum( rate( response_total{ namespace=\"test\""),
        "{query}"
    );
}

#[test]
fn the_gate_counts_requests_over_the_metric_interval() {
    let canary = canary(json!([]));
    assert_eq!(
        gate_for(&canary, &metric(json!({"name": "x"})), "kubernetes"),
        Ok(None)
    );
    assert_eq!(
        gate_for(
            &canary,
            &metric(json!({"name": "x", "minRequests": 0})),
            "kubernetes"
        ),
        Ok(None)
    );
    let gate = gate_for(
        &canary,
        &metric(json!({"name": "x", "minRequests": 50, "interval": "5m"})),
        "kubernetes",
    )
    .expect("known")
    .expect("a gate");
    assert_eq!(gate.required, 50);
    assert_eq!(gate.interval, "5m");
    assert_eq!(
        gate.query,
        "sum( increase( http_request_duration_seconds_count{ kubernetes_namespace=\"test\", \
         kubernetes_pod_name=~\"podinfo-app-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[5m] ) )"
    );
    let mut contour = canary.clone();
    contour.spec.provider = Some("contour".into());
    assert!(matches!(
        gate_for(
            &contour,
            &metric(json!({"name": "x", "minRequests": 5})),
            "kubernetes"
        ),
        Err(MetricError::NoRequestCounter { .. })
    ));
}
