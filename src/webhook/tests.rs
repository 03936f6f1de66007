//! Webhook calls against loopback servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::Mutex;

use super::*;
use crate::api::DurationString;

fn hook(url: String) -> CanaryWebhook {
    CanaryWebhook {
        name: "gate".into(),
        url,
        ..CanaryWebhook::default()
    }
}

fn payload() -> Payload {
    Payload {
        name: "podinfo".into(),
        namespace: "test".into(),
        phase: "Progressing".into(),
        checksum: "abc".into(),
        metadata: BTreeMap::from([("cmd".to_string(), "hey".to_string())]),
    }
}

/// Serves `app` on a loopback port and returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

/// Answers every call with `status` and counts the calls.
async fn answering(status: u16, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::from_u16(status).expect("status"), body)
            }
        }),
    );
    (serve(app).await, calls)
}

#[tokio::test]
async fn posts_flaggers_payload() {
    let seen = Arc::new(Mutex::new(None));
    let store = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |body: String| {
            let store = store.clone();
            async move {
                *store.lock().await = Some(body);
                StatusCode::OK
            }
        }),
    );
    let url = serve(app).await;
    let result = Caller::new().call(&hook(url), &payload()).await;
    assert!(result.passed, "{result:?}");
    let body = seen.lock().await.clone().expect("a call");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"name": "podinfo", "namespace": "test", "phase": "Progressing",
                           "checksum": "abc", "metadata": {"cmd": "hey"}})
    );
}

#[tokio::test]
async fn status_202_passes_and_203_fails() {
    let (url, _) = answering(202, "").await;
    assert!(Caller::new().call(&hook(url), &payload()).await.passed);
    let (url, _) = answering(203, "partial").await;
    let result = Caller::new().call(&hook(url), &payload()).await;
    assert!(!result.passed);
    assert_eq!(result.message, "HTTP 203: partial");
}

#[tokio::test]
async fn a_closed_gate_is_reported_with_its_answer() {
    let (url, calls) = answering(403, "Forbidden\n gate closed").await;
    let mut gate = hook(url);
    gate.retries = Some(3);
    let result = Caller::new().call(&gate, &payload()).await;
    assert!(!result.passed);
    assert_eq!(result.message, "HTTP 403: Forbidden gate closed");
    // A 4xx is an answer, not an outage: no retry.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (url, calls) = answering(500, "boom").await;
    let mut flaky = hook(url);
    flaky.retries = Some(2);
    let result = Caller::with_backoff(Duration::from_millis(1))
        .call(&flaky, &payload())
        .await;
    assert!(!result.passed);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(result.message, "HTTP 500 after 3 attempts: boom");
}

#[tokio::test]
async fn a_hanging_webhook_times_out() {
    let app = Router::new().route(
        "/",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK
        }),
    );
    let url = serve(app).await;
    let mut slow = hook(url);
    slow.timeout = Some(DurationString::new("300ms"));
    let result = Caller::new().call(&slow, &payload()).await;
    assert!(!result.passed);
    assert_eq!(result.message, "no answer within 0.3s");
}

/// Flagger's default: a webhook without `timeout` (or with `0s`) gets 10 s per call.
#[test]
fn the_default_timeout_is_ten_seconds() {
    let mut plain = hook("http://127.0.0.1:1/".into());
    assert_eq!(plain.timeout, None);
    assert_eq!(client::timeout_of(&plain), Duration::from_secs(10));
    plain.timeout = Some(DurationString::new("0s"));
    assert_eq!(client::timeout_of(&plain), Duration::from_secs(10));
    plain.timeout = Some(DurationString::new("1m30s"));
    assert_eq!(client::timeout_of(&plain), Duration::from_secs(90));
}

#[tokio::test]
async fn an_unreachable_webhook_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let result = Caller::new()
        .call(&hook(format!("http://{addr}/")), &payload())
        .await;
    assert!(!result.passed);
    assert!(result.message.starts_with("cannot connect"), "{}", result.message);
}

#[tokio::test]
async fn long_bodies_are_cut_in_messages() {
    let (url, _) = answering(500, include_str!("../../README.md")).await;
    let result = Caller::new().call(&hook(url), &payload()).await;
    assert!(result.message.chars().count() < 400, "{}", result.message);
    assert!(result.message.ends_with('…'));
}

#[test]
fn the_checksum_changes_with_revision_and_configs() {
    let mut status = CanaryStatus {
        last_applied_spec: "r1".into(),
        ..CanaryStatus::default()
    };
    let first = checksum(&status);
    assert_eq!(first.len(), 16);
    status.tracked_configs.insert("configmap/app".into(), "x".into());
    let second = checksum(&status);
    assert_ne!(first, second);
    status.last_applied_spec = "r2".into();
    assert_ne!(second, checksum(&status));
}

#[test]
fn event_metadata_is_flaggers() {
    let at = jiff::Timestamp::from_second(1_800_000_000).expect("ts");
    let meta = event_metadata("Advance canary weight to 20", false, "Advanced", at);
    assert_eq!(meta["eventMessage"], "Advance canary weight to 20");
    assert_eq!(meta["eventType"], "Normal");
    assert_eq!(meta["timestamp"], "1800000000000");
}

// === Answers that are huge, endless or not text ===

#[test]
fn the_judgement_is_flaggers_rule_whatever_the_body() {
    assert_eq!(
        judge_answer(200, b"\x00\x01binary junk\xff"),
        Answer {
            passed: true,
            message: "HTTP 200: <14 bytes of binary data>".into()
        }
    );
    assert!(judge_answer(202, b"").passed);
    assert_eq!(judge_answer(202, b"").message, "HTTP 202");
    assert!(!judge_answer(203, b"ok").passed);
    assert!(!judge_answer(500, b"").passed);
}

#[test]
fn a_junk_error_body_is_described_not_quoted() {
    let junk: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let answer = judge_answer(500, &junk);
    assert!(!answer.passed);
    assert_eq!(answer.message, "HTTP 500: <10000 bytes of binary data>");
}

#[test]
fn terminal_escapes_and_control_characters_do_not_reach_the_message() {
    let answer = judge_answer(403, b"\x1b[31mdenied\x1b[0m\r\n\tby\x07policy");
    assert_eq!(
        answer.message,
        "HTTP 403: \u{fffd}[31mdenied\u{fffd}[0m by\u{fffd}policy"
    );
}

#[test]
fn a_character_cut_by_the_read_limit_is_still_text() {
    let mut body = "é".repeat(10).into_bytes();
    body.push(0xc3);
    let answer = judge_answer(500, &body);
    assert_eq!(answer.message, format!("HTTP 500: {}", "é".repeat(10)));
}

#[test]
fn a_long_text_body_is_cut_to_the_quote_limit() {
    let answer = judge_answer(500, "€".repeat(BODY_LIMIT).as_bytes());
    assert!(
        answer.message.len() <= MAX_ANSWER_MESSAGE,
        "{}",
        answer.message.len()
    );
    assert!(answer.message.ends_with('…'));
}

/// Answers `status` with a streamed body of `chunks` chunks, pausing between them.
async fn streaming(status: u16, chunk: &'static [u8], chunks: usize, pause: Duration) -> String {
    let app = Router::new().route(
        "/",
        post(move || async move {
            let stream = futures::stream::unfold(0, move |sent| async move {
                if sent == chunks {
                    return None;
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(chunk)),
                    sent + 1,
                ))
            });
            (
                StatusCode::from_u16(status).expect("status"),
                axum::body::Body::from_stream(stream),
            )
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn a_huge_body_is_read_only_up_to_the_limit() {
    // 1 GiB if read whole; the call stops at BODY_LIMIT.
    let url = streaming(200, &[b'a'; 64 * 1024], 16 * 1024, Duration::ZERO).await;
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        Caller::new().call(&hook(url), &payload()),
    )
    .await
    .expect("bounded");
    assert!(result.passed, "{result:?}");
    assert!(
        result.message.len() <= MAX_ANSWER_MESSAGE,
        "{}",
        result.message.len()
    );
}

#[tokio::test]
async fn a_body_that_trickles_forever_times_out() {
    let url = streaming(200, b".", usize::MAX, Duration::from_millis(50)).await;
    let mut slow = hook(url);
    slow.timeout = Some(DurationString::new("500ms"));
    let result = tokio::time::timeout(Duration::from_secs(10), Caller::new().call(&slow, &payload()))
        .await
        .expect("bounded by the hook's timeout");
    assert!(!result.passed);
    assert_eq!(result.message, "no answer within 0.5s");
}

#[tokio::test]
async fn a_500_with_binary_junk_fails_with_a_readable_message() {
    let url = streaming(500, b"\x00\xde\xad\xbe\xef", 4, Duration::ZERO).await;
    let result = Caller::new().call(&hook(url), &payload()).await;
    assert!(!result.passed);
    assert_eq!(result.message, "HTTP 500: <20 bytes of binary data>");
}

#[tokio::test]
async fn retried_answers_keep_the_attempt_count_before_the_quote() {
    let (url, calls) = answering(503, "busy").await;
    let mut retried = hook(url);
    retried.retries = Some(1);
    let result = Caller::with_backoff(Duration::from_millis(1))
        .call(&retried, &payload())
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(result.message, "HTTP 503 after 2 attempts: busy");
}
