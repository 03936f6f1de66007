//! The load generator against a loopback server: counts, not speeds, are asserted.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::super::load::{LoadReport, LoadRun, LoadSpec};
use super::*;

/// A loopback server that counts requests and remembers when the last one arrived.
struct Target {
    url: String,
    hits: Arc<AtomicU64>,
    last: Arc<Mutex<Option<Instant>>>,
}

async fn target(delay: Duration, status: StatusCode) -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let hits = Arc::new(AtomicU64::new(0));
    let last = Arc::new(Mutex::new(None));
    let (h, l) = (hits.clone(), last.clone());
    let app = Router::new().fallback(move || {
        let (h, l) = (h.clone(), l.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            *l.lock().expect("lock") = Some(Instant::now());
            tokio::time::sleep(delay).await;
            (status, "hello")
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Target {
        url: format!("http://{addr}/load"),
        hits,
        last,
    }
}

fn spec(url: &str, pairs: &[(&str, &str)]) -> LoadSpec {
    let mut meta: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    meta.insert("url".to_string(), url.to_string());
    LoadSpec::from_metadata(&meta, Duration::from_secs(60)).expect("valid spec")
}

async fn run(spec: LoadSpec, metrics: &Arc<Metrics>) -> LoadReport {
    LoadRun {
        spec: Arc::new(spec),
        client: crate::loadtester::load_client().expect("client"),
        metrics: metrics.clone(),
        canary: "podinfo.test".to_string(),
    }
    .run()
    .await
}

fn assert_near(what: &str, got: u64, expected: f64, tolerance: f64) {
    let low = (expected * (1.0 - tolerance)).floor() as u64;
    let high = (expected * (1.0 + tolerance)).ceil() as u64;
    assert!(
        (low..=high).contains(&got),
        "{what}: {got}, expected {expected} ± {}%",
        tolerance * 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_sends_rate_times_duration_and_stops_at_the_duration() {
    let target = target(Duration::ZERO, StatusCode::OK).await;
    let metrics = Arc::new(Metrics::new());
    let started = Instant::now();
    let report = run(spec(&target.url, &[("rate", "50"), ("duration", "2s")]), &metrics).await;

    assert_near("requests", report.requests, 100.0, 0.1);
    // Every request was answered before `run` returned, and none came after.
    assert_eq!(target.hits.load(Ordering::SeqCst), report.requests);
    assert_eq!(report.errors, 0);
    assert_eq!(report.dropped, 0);
    assert!(report.p50.is_some() && report.p99 >= report.p50);
    let last = target.last.lock().expect("lock").expect("a request arrived");
    let latest_allowed = started + Duration::from_secs(2) + Duration::from_millis(250);
    assert!(
        last <= latest_allowed,
        "a request arrived {:?} after the end",
        last - started
    );

    let text = metrics.encode().expect("metrics");
    let line = format!(
        r#"serin_loadtester_load_requests_total{{canary="podinfo.test"}} {}"#,
        report.requests
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains(r#"serin_loadtester_load_latency_seconds_count{canary="podinfo.test"}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_does_not_lower_the_rate() {
    let target = target(Duration::from_millis(400), StatusCode::OK).await;
    let report = run(
        spec(&target.url, &[("rate", "40"), ("duration", "1s")]),
        &Arc::new(Metrics::new()),
    )
    .await;
    // Closed-loop sending would manage 1 request per 400 ms per connection; open loop keeps 40 rps.
    assert_near("requests", report.requests, 40.0, 0.15);
    assert!(report.p50.expect("latency") >= Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_a_closed_loop() {
    let target = target(Duration::from_millis(50), StatusCode::OK).await;
    let report = run(
        spec(&target.url, &[("concurrency", "4"), ("duration", "1s")]),
        &Arc::new(Metrics::new()),
    )
    .await;
    // 4 workers × 1 s / 50 ms is at most 80, plus each worker's last request started before the end.
    assert!((30..=84).contains(&report.requests), "{report:?}");
    assert_eq!(target.hits.load(Ordering::SeqCst), report.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_and_transport_failures_are_errors() {
    let target = target(Duration::ZERO, StatusCode::SERVICE_UNAVAILABLE).await;
    let metrics = Arc::new(Metrics::new());
    let report = run(
        spec(&target.url, &[("rate", "20"), ("duration", "500ms")]),
        &metrics,
    )
    .await;
    assert!(report.requests > 0);
    assert_eq!(report.errors, report.requests);
    assert!(
        report.p50.is_some(),
        "responses with an error status still have a latency"
    );

    // Nothing listens on port 1 of loopback: connection refused.
    let report = run(
        spec("http://127.0.0.1:1/", &[("rate", "20"), ("duration", "300ms")]),
        &metrics,
    )
    .await;
    assert!(report.requests > 0);
    assert_eq!(report.errors, report.requests);
    assert_eq!(report.p50, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_task_is_accepted_deduplicated_and_finishes() {
    let target = target(Duration::ZERO, StatusCode::OK).await;
    let app = app();
    let task = payload(json!({ "type": "load", "url": target.url, "rate": "20", "duration": "1s" }));
    let (status, body) = post(&app, "/", task.clone()).await;
    assert_eq!((status, body.trim()), (StatusCode::ACCEPTED, "load task started"));
    let (status, body) = post(&app, "/", task).await;
    assert_eq!(
        (status, body.trim()),
        (StatusCode::ACCEPTED, "load task already running")
    );
    eventually("the load test to end", Duration::from_secs(10), || {
        app.tasks.running() == 0
    })
    .await;
    assert_near("requests", target.hits.load(Ordering::SeqCst), 20.0, 0.15);
    let metrics = get(&app, "/metrics").await.1;
    assert!(
        metrics.contains(r#"serin_loadtester_tasks_deduplicated_total{type="load"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn measure_rates() {
    let target = target(Duration::ZERO, StatusCode::OK).await;
    for rate in ["20", "200", "1000", "2000", "5000"] {
        let before = target.hits.load(Ordering::SeqCst);
        let report = run(
            spec(&target.url, &[("rate", rate), ("duration", "3s")]),
            &Arc::new(Metrics::new()),
        )
        .await;
        let hits = target.hits.load(Ordering::SeqCst) - before;
        eprintln!("rate {rate}: {report:?} hits {hits}");
    }
}

/// One request as the target saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    load_test: Option<String>,
    other: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// A loopback server that records the method, the two test headers and the body of every request.
async fn recording_target() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let (parts, body) = request.into_parts();
            let header = |name: &str| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let mut entry = Seen {
                method: parts.method.to_string(),
                load_test: header("x-load-test"),
                other: header("x-other"),
                content_type: header("content-type"),
                body: String::new(),
            };
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            entry.body = String::from_utf8_lossy(&bytes).to_string();
            record.lock().expect("lock").push(entry);
            StatusCode::OK
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/ingest"), seen)
}

/// `method`, `headers` and `body` of a `load` task sent through the API reach the target on every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_task_sends_its_method_headers_and_body() {
    let (url, seen) = recording_target().await;
    let app = app();
    let task = payload(json!({
        "type": "load", "url": url, "rate": "20", "duration": "1s",
        "method": "PUT",
        "headers": "X-Load-Test: serin\nX-Other: two words\nContent-Type: application/json",
        "body": r#"{"order": 42}"#
    }));
    let (status, body) = post(&app, "/", task).await;
    assert_eq!((status, body.trim()), (StatusCode::ACCEPTED, "load task started"));
    eventually("the load test to end", Duration::from_secs(10), || {
        app.tasks.running() == 0
    })
    .await;

    let seen = seen.lock().expect("lock").clone();
    assert!(seen.len() >= 10, "only {} requests arrived", seen.len());
    let expected = Seen {
        method: "PUT".to_string(),
        load_test: Some("serin".to_string()),
        other: Some("two words".to_string()),
        content_type: Some("application/json".to_string()),
        body: r#"{"order": 42}"#.to_string(),
    };
    for request in &seen {
        assert_eq!(request, &expected);
    }
}
