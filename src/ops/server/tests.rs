use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::Request;
use tower::ServiceExt as _;

use super::*;
use crate::api::Phase;

async fn get_path(app: Router, path: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::get(path).body(Body::empty()).expect("valid request");
    let response = app.oneshot(request).await.expect("infallible router");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, content_type, String::from_utf8_lossy(&body).into_owned())
}

fn app(health: &Health) -> (Arc<Metrics>, Router) {
    let metrics = Arc::new(Metrics::new(""));
    (metrics.clone(), router(metrics, health.clone()))
}

#[tokio::test]
async fn metrics_are_served_as_openmetrics_text() {
    let health = Health::new();
    let (metrics, app) = app(&health);
    metrics.set_phase("test", "podinfo", Phase::Progressing);
    let (status, content_type, body) = get_path(app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
    assert!(
        body.contains(r#"flagger_canary_status{name="podinfo",namespace="test"} 0"#),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"));
}

#[tokio::test]
async fn healthz_answers_while_not_ready() {
    let health = Health::new();
    let (_, app) = app(&health);
    let (status, _, body) = get_path(app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok\n");
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_until_set_ready() {
    let health = Health::new();
    let (_, app) = app(&health);
    let (status, _, body) = get_path(app.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "not ready: starting\n");

    health.set_ready(true);
    let (status, _, body) = get_path(app.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok\n");

    health.set_not_ready("waiting for the Canary cache");
    let (status, _, body) = get_path(app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "not ready: waiting for the Canary cache\n");
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let (_, app) = app(&Health::new());
    let (status, _, _) = get_path(app, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn serves_on_a_socket_and_stops_on_shutdown() {
    let listener = bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
    let addr = listener.local_addr().expect("bound address");
    let health = Health::new();
    health.set_ready(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(
        listener,
        Arc::new(Metrics::new("")),
        health,
        async move {
            let _ = stopped.await;
        },
    ));

    let http = reqwest::Client::new();
    let response = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(CONTENT_TYPE)
    );
    let ready = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .expect("probe");
    assert_eq!(ready.status(), reqwest::StatusCode::OK);

    // The client keeps its connection open, as Prometheus does; shutdown must not wait for it.
    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops within 5s of shutdown")
        .expect("server task did not panic");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_taken_port_is_a_bind_error_naming_the_address() {
    let first = bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
    let addr = first.local_addr().expect("bound address");
    let err = bind(addr).await.expect_err("port is taken");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
