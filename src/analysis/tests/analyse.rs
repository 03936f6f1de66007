//! `analyse` end to end against a fake API server and a fake Prometheus on one local port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::canary;
use crate::analysis::{MetricError, QueryError, analyse, evaluate};
use crate::api::Verdict;

#[derive(Clone, Debug)]
struct Sent {
    query: String,
    authorization: Option<String>,
    org: Vec<String>,
}

/// A Prometheus answer: for queries containing `needle`, after `delay`.
struct Answer {
    needle: &'static str,
    delay: Duration,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct Fake {
    answers: Vec<Answer>,
    /// `(namespace, name)` → object, for MetricTemplates and Secrets alike.
    objects: HashMap<(String, String, &'static str), Value>,
    sent: Mutex<Vec<Sent>>,
}

fn value(v: &str) -> Value {
    json!({"status": "success", "data": {"resultType": "vector",
        "result": [{"metric": {}, "value": [1_800_000_000, v]}]}})
}

fn answer(needle: &'static str, body: Value) -> Answer {
    Answer {
        needle,
        delay: Duration::ZERO,
        status: 200,
        body,
    }
}

async fn prometheus(
    State(fake): State<Arc<Fake>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let query = params.get("query").cloned().unwrap_or_default();
    let text = |v: &axum::http::HeaderValue| v.to_str().unwrap_or("?").to_string();
    fake.sent.lock().expect("not poisoned").push(Sent {
        query: query.clone(),
        authorization: headers.get("authorization").map(text),
        org: headers.get_all("x-scope-orgid").iter().map(text).collect(),
    });
    let Some(answer) = fake.answers.iter().find(|a| query.contains(a.needle)) else {
        let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        return Json(empty).into_response();
    };
    tokio::time::sleep(answer.delay).await;
    let status = StatusCode::from_u16(answer.status).expect("a status");
    (status, Json(answer.body.clone())).into_response()
}

async fn object(fake: &Fake, namespace: String, name: String, kind: &'static str) -> Response {
    match fake.objects.get(&(namespace, name.clone(), kind)) {
        Some(object) => Json(object.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound",
                "details": {"name": name, "kind": kind}, "code": 404}),
            ),
        )
            .into_response(),
    }
}

/// Serves `fake`; returns its base URL.
async fn serve(fake: Fake) -> (String, Arc<Fake>) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route("/api/v1/query", get(prometheus))
        .route(
            "/apis/serin.dev/v1beta1/namespaces/{ns}/metrictemplates/{name}",
            get(
                |State(f): State<Arc<Fake>>, Path((ns, name)): Path<(String, String)>| async move {
                    object(&f, ns, name, "metrictemplates").await
                },
            ),
        )
        .route(
            "/api/v1/namespaces/{ns}/secrets/{name}",
            get(
                |State(f): State<Arc<Fake>>, Path((ns, name)): Path<(String, String)>| async move {
                    object(&f, ns, name, "secrets").await
                },
            ),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fake)
}

fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("a URL"));
    kube::Client::try_from(config).expect("a client")
}

fn template(
    namespace: &str,
    name: &str,
    provider: Value,
    query: &str,
) -> ((String, String, &'static str), Value) {
    (
        (namespace.into(), name.into(), "metrictemplates"),
        json!({"apiVersion": "serin.dev/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"provider": provider, "query": query}}),
    )
}

fn secret(namespace: &str, name: &str, data: Value) -> ((String, String, &'static str), Value) {
    (
        (namespace.into(), name.into(), "secrets"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": data}),
    )
}

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("valid")
}

#[tokio::test]
async fn every_metric_is_judged_and_one_failure_stops_none_of_the_others() {
    let mut fake = Fake {
        answers: vec![
            answer("status!~\"5.*\"", value("99.5")),
            answer("histogram_quantile", value("0.912")),
            answer("basic_metric", value("1")),
            answer("increase(", value("2.97")),
            Answer {
                delay: Duration::from_secs(3),
                ..answer("slow_metric", value("1"))
            },
            Answer {
                status: 400,
                ..answer(
                    "bad_query",
                    json!({"status": "error", "errorType": "bad_data", "error": "parse error"}),
                )
            },
        ],
        ..Default::default()
    };
    // The error-rate template names its own Prometheus.
    let (tenant_url, tenant) = serve(Fake {
        answers: vec![answer("errors_total", value("1.5"))],
        ..Default::default()
    })
    .await;
    fake.objects.extend([
        template(
            "monitoring",
            "errors",
            json!({"type": "prometheus", "address": tenant_url, "secretRef": {"name": "prom-token"},
                "headers": {"X-Scope-OrgID": ["team-a", "team-b"]}}),
            "sum(rate(errors_total{namespace=\"{{ namespace }}\", code=~\"{{ variables.code }}\"}[{{ interval }}]))",
        ),
        secret("monitoring", "prom-token", json!({"token": "dG9rM24K"})),
        template(
            "test",
            "basic-auth",
            json!({"type": "prometheus", "secretRef": {"name": "prom-basic"}}),
            "basic_metric{pod=~\"{{ target }}-.*\"}",
        ),
        secret("test", "prom-basic", json!({"username": "YWRtaW4=", "password": "czNjcmV0"})),
        template(
            "test",
            "needs-secret",
            json!({"type": "prometheus", "secretRef": {"name": "absent"}}),
            "vector(1)",
        ),
        template("test", "slow", json!({"type": "prometheus", "timeout": "300ms"}), "slow_metric"),
        template("test", "datadog", json!({"type": "datadog"}), "avg:trace.errors{*}"),
    ]);
    let (url, fake) = serve(fake).await;
    let mut canary = canary(json!([
        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "30s"},
        {"name": "error-rate", "templateRef": {"name": "errors", "namespace": "monitoring"},
         "templateVariables": {"code": "5.."}, "thresholdRange": {"max": 5}},
        {"name": "basic", "templateRef": {"name": "basic-auth"}, "thresholdRange": {"min": 1}},
        {"name": "missing", "templateRef": {"name": "nope"}},
        {"name": "no-secret", "templateRef": {"name": "needs-secret"}},
        {"name": "gated", "query": "sum(rate(gated_total[1m]))", "minRequests": 50},
        {"name": "quiet", "query": "sum(rate(quiet_total[1m]))", "noData": "hold"},
        {"name": "slow", "templateRef": {"name": "slow"}},
        {"name": "rejected", "query": "bad_query("},
        {"name": "dd", "templateRef": {"name": "datadog"}},
    ]));
    canary.spec.metrics_server = Some(url.clone());

    let started = Instant::now();
    let outcomes = evaluate(&client(&url), &canary, "istio", "http://127.0.0.1:1", now()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    let verdicts: Vec<_> = outcomes
        .iter()
        .map(|o| (o.check.name.as_str(), o.check.verdict))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("request-success-rate", Verdict::Pass),
            ("request-duration", Verdict::Fail),
            ("error-rate", Verdict::Pass),
            ("basic", Verdict::Pass),
            ("missing", Verdict::Fail),
            ("no-secret", Verdict::Fail),
            ("gated", Verdict::Hold),
            ("quiet", Verdict::Hold),
            ("slow", Verdict::Fail),
            ("rejected", Verdict::Fail),
            ("dd", Verdict::Fail),
        ]
    );
    let message = |name: &str| {
        outcomes
            .iter()
            .find(|o| o.check.name == name)
            .map(|o| o.check.message.clone())
            .expect("checked")
    };
    assert_eq!(
        message("request-duration"),
        "request-duration 912ms is above the maximum 500"
    );
    assert_eq!(
        message("missing"),
        "MetricTemplate test/nope (templateRef of metric missing) does not exist"
    );
    assert_eq!(
        message("no-secret"),
        "no-secret: Secret test/absent (secretRef of MetricTemplate test/needs-secret) does not exist"
    );
    assert_eq!(
        message("gated"),
        "gated: 3 of 50 requests in 1m; waiting for more traffic before judging"
    );
    assert!(
        message("slow").contains("is unreachable: no answer within 300ms"),
        "{}",
        message("slow")
    );
    assert!(
        message("slow").contains(&url),
        "names the address: {}",
        message("slow")
    );
    assert_eq!(
        message("rejected"),
        "rejected: the metrics server rejected the query (HTTP 400, bad_data): parse error"
    );
    assert_eq!(
        message("dd"),
        "dd: unsupported metric provider \"datadog\": supported providers are prometheus"
    );
    let error = |name: &str| {
        outcomes
            .iter()
            .find(|o| o.check.name == name)
            .and_then(|o| o.error.clone())
    };
    assert!(matches!(
        error("missing"),
        Some(MetricError::TemplateNotFound { .. })
    ));
    assert!(matches!(
        error("quiet"),
        Some(MetricError::Query(QueryError::NoData))
    ));
    assert_eq!(error("basic"), None);

    let sent = fake.sent.lock().expect("not poisoned").clone();
    let sent_for = |needle: &str| sent.iter().find(|s| s.query.contains(needle)).cloned();
    let builtin = sent_for("histogram_quantile").expect("sent");
    assert_eq!(
        builtin.query,
        "histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ \
         kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-app-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" \
         }[30s] ) ) by (le) )",
        "the Canary's provider (kubernetes) decides, not the default (istio)"
    );
    assert_eq!(builtin.authorization, None);
    assert!(sent_for("errors_total").is_none(), "the template's address wins");
    let templated = tenant.sent.lock().expect("not poisoned")[0].clone();
    assert_eq!(
        templated.query,
        "sum(rate(errors_total{namespace=\"test\", code=~\"5..\"}[1m]))"
    );
    assert_eq!(templated.authorization.as_deref(), Some("Bearer tok3n"));
    assert_eq!(templated.org, vec!["team-a", "team-b"]);
    let basic = sent_for("basic_metric").expect("sent");
    assert_eq!(basic.authorization.as_deref(), Some("Basic YWRtaW46czNjcmV0"));
    assert!(sent_for("gated_total").is_none(), "a gated metric is not queried");
    assert_eq!(
        outcomes
            .iter()
            .find(|o| o.check.name == "gated")
            .and_then(|o| o.query.as_deref()),
        Some("sum(rate(gated_total[1m]))")
    );

    let result = analyse(&client(&url), &canary, "istio", "http://127.0.0.1:1", now()).await;
    assert_eq!(result.failures.len(), 6, "{:#?}", result.failures);
    assert_eq!(result.held.len(), 2, "{:#?}", result.held);
    assert_eq!(result.checks.len(), 11);
}

#[tokio::test]
async fn an_unreachable_server_fails_the_metric_naming_the_address() {
    let canary = canary(json!([{"name": "request-success-rate", "thresholdRange": {"min": 99}}]));
    // Nothing listens on port 1; the API server is never asked for builtins.
    let result = analyse(
        &client("http://127.0.0.1:1"),
        &canary,
        "kubernetes",
        "http://127.0.0.1:1",
        now(),
    )
    .await;
    assert_eq!(result.failures.len(), 1);
    assert!(
        result.failures[0]
            .starts_with("request-success-rate: metrics server http://127.0.0.1:1/ is unreachable: ")
            && result.failures[0].contains("Connection refused"),
        "{}",
        result.failures[0]
    );
}

#[tokio::test]
async fn no_metrics_is_an_empty_passing_result() {
    let canary = canary(json!([]));
    let result = analyse(&client("http://127.0.0.1:1"), &canary, "kubernetes", "", now()).await;
    assert_eq!(result, Default::default());
}

#[tokio::test]
async fn a_huge_answer_is_refused_not_buffered() {
    let series: Vec<Value> = (0..40_000)
        .map(|i| json!({"metric": {"pod": format!("podinfo-{i}")}, "value": [1_800_000_000, "1"]}))
        .collect();
    let huge = json!({"status": "success", "data": {"resultType": "vector", "result": series}});
    let (url, _) = serve(Fake {
        answers: vec![answer("up", huge)],
        ..Default::default()
    })
    .await;
    let canary = canary(json!([{"name": "everything", "query": "up"}]));
    let result = analyse(&client(&url), &canary, "kubernetes", &url, now()).await;
    assert_eq!(
        result.failures,
        vec![
            "everything: the response is larger than 1048576 bytes; the query must return a single value"
                .to_string()
        ]
    );
}
