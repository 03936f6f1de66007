//! Tests of the load tester: the HTTP API driven in process, and the load generator against a loopback
//! server. All traffic stays on 127.0.0.1.

mod api;
mod cli;
mod gates;
mod load;
mod spec;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::access::NamespacePolicy;
use super::metrics::Metrics;
use super::server::{App, router};
use super::state::GateStore;
use super::tasks::Tasks;

/// An app with in-memory gates, the given task timeout and namespace policy.
fn app_with(timeout: Duration, policy: NamespacePolicy, gates: GateStore) -> Arc<App> {
    let metrics = Arc::new(Metrics::new());
    let client = super::load_client().expect("a load client");
    Arc::new(App {
        tasks: Tasks::new(metrics.clone(), timeout, client),
        gates,
        policy,
        metrics,
        timeout,
    })
}

fn app() -> Arc<App> {
    app_with(
        Duration::from_secs(60),
        NamespacePolicy::default(),
        GateStore::in_memory(),
    )
}

/// POSTs `body` (raw text) to `path` and returns the status and body text.
async fn post_raw(app: &Arc<App>, path: &str, body: &str) -> (StatusCode, String) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid request");
    send(router(app.clone()), request).await
}

async fn post(app: &Arc<App>, path: &str, body: Value) -> (StatusCode, String) {
    post_raw(app, path, &body.to_string()).await
}

async fn get(app: &Arc<App>, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).expect("valid request");
    send(router(app.clone()), request).await
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.expect("infallible router");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A Flagger webhook payload for canary `podinfo` in namespace `test`.
fn payload(metadata: Value) -> Value {
    json!({
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "abc",
        "metadata": metadata,
    })
}

/// Polls `check` every 20 ms for up to `timeout`; tests wait on conditions, not on the clock.
async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
