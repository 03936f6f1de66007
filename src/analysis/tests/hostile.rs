//! Prometheus servers that misbehave: huge, endless, slow, malformed or odd
//! answers from a loopback server. Each gives a clear error in bounded time.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::analysis::prometheus::{MAX_ERROR_MESSAGE_BYTES, MAX_RESPONSE_BYTES, Prometheus};
use crate::analysis::provider::{MetricProvider, ProviderConfig, QueryError};

const TIMEOUT: Duration = Duration::from_millis(800);
/// Far beyond TIMEOUT: a query still running then is a stall.
const STALL: Duration = Duration::from_secs(10);

/// Serves `answer` for `/api/v1/query` on loopback; returns the address.
async fn serve(answer: impl Fn() -> Response + Clone + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route("/api/v1/query", get(move || async move { answer() }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Queries the server at `address`; fails the test if the answer takes longer than [`STALL`].
async fn query(address: &str) -> (Result<f64, QueryError>, Duration) {
    let mut config = ProviderConfig::prometheus(address);
    config.timeout = TIMEOUT;
    let prometheus = Prometheus::new(&config).expect("a valid config");
    let started = Instant::now();
    let result = tokio::time::timeout(STALL, prometheus.query("up"))
        .await
        .expect("the query ends on its own, well before the stall limit");
    (result, started.elapsed())
}

fn json_body(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A body of `chunks` chunks of `size` bytes, streamed without a Content-Length.
fn streamed(chunk: Bytes, chunks: usize, pause: Duration) -> Response {
    let stream = futures::stream::unfold(0, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent == chunks {
                return None;
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Some((Ok::<_, std::io::Error>(chunk), sent + 1))
        }
    });
    Response::new(Body::from_stream(stream))
}

#[tokio::test]
async fn a_multi_megabyte_streamed_body_is_refused_at_the_limit() {
    // 8 MiB of a vector that never ends, without Content-Length.
    let address = serve(|| streamed(Bytes::from(vec![b' '; 64 * 1024]), 128, Duration::ZERO)).await;
    let (result, _) = query(&address).await;
    assert_eq!(
        result,
        Err(QueryError::TooLarge {
            limit: MAX_RESPONSE_BYTES
        })
    );
}

#[tokio::test]
async fn a_multi_megabyte_body_with_its_length_is_refused_before_reading() {
    let address = serve(|| (StatusCode::OK, vec![b'x'; 3 * MAX_RESPONSE_BYTES]).into_response()).await;
    let (result, _) = query(&address).await;
    let err = result.expect_err("too large");
    assert_eq!(
        err.to_string(),
        "the response is larger than 1048576 bytes; the query must return a single value"
    );
    assert_eq!(err.reason(), "MetricResponseInvalid");
}

#[tokio::test]
async fn a_body_that_trickles_forever_times_out() {
    // Headers at once, then one byte every 50 ms, forever.
    let address = serve(|| streamed(Bytes::from_static(b" "), usize::MAX, Duration::from_millis(50))).await;
    let (result, took) = query(&address).await;
    match result {
        Err(QueryError::Unreachable { reason, .. }) => {
            assert!(reason.contains("no answer within"), "{reason}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took < TIMEOUT * 4, "bounded by the provider's timeout: {took:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    // Accepts connections and never writes a byte.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (result, took) = query(&address).await;
    let err = result.expect_err("no answer");
    assert_eq!(err.reason(), "MetricsServerUnreachable");
    assert!(err.to_string().contains("no answer within 800ms"), "{err}");
    assert!(took < TIMEOUT * 4, "{took:?}");
}

#[tokio::test]
async fn invalid_json_is_malformed_and_quoted_briefly() {
    let address = serve(|| {
        (
            StatusCode::OK,
            "{\"status\": \"success\", \"data\": [1, 2,".repeat(100),
        )
            .into_response()
    })
    .await;
    let (result, _) = query(&address).await;
    let err = result.expect_err("invalid JSON");
    assert_eq!(err.reason(), "MetricResponseInvalid");
    let message = err.to_string();
    assert!(
        message.starts_with("unreadable response from the metrics server: not a Prometheus API response ("),
        "{message}"
    );
    assert!(message.ends_with('…') && message.len() < 700, "{message}");
}

#[tokio::test]
async fn json_of_the_wrong_types_is_malformed() {
    let address = serve(|| {
        json_body(
            StatusCode::OK,
            json!({"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, 97.5]}]}}),
        )
    })
    .await;
    let (result, _) = query(&address).await;
    let err = result.expect_err("a number where Prometheus writes a string");
    assert!(
        err.to_string()
            .starts_with("unreadable response from the metrics server: unexpected data: "),
        "{err}"
    );
}

#[tokio::test]
async fn ten_thousand_series_are_not_a_scalar() {
    let result: Vec<_> = (0..10_000)
        .map(|i| json!({"metric": {"pod": format!("p{i}")}, "value": [1, "1"]}))
        .collect();
    let body = json!({"status": "success", "data": {"resultType": "vector", "result": result}});
    let address = serve(move || json_body(StatusCode::OK, body.clone())).await;
    let (result, _) = query(&address).await;
    assert_eq!(result, Err(QueryError::NotAScalar("10000 series".into())));
}

#[tokio::test]
async fn nan_is_no_data_and_infinity_is_a_value() {
    for (text, expected) in [
        ("NaN", Err(QueryError::NaN)),
        ("+Inf", Ok(f64::INFINITY)),
        ("-Inf", Ok(f64::NEG_INFINITY)),
    ] {
        let body = json!({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, text]}]}});
        let address = serve(move || json_body(StatusCode::OK, body.clone())).await;
        assert_eq!(query(&address).await.0, expected, "{text}");
    }
}

#[tokio::test]
async fn a_huge_error_text_is_cut_in_the_message() {
    let body = json!({"status": "error", "errorType": "x".repeat(10_000), "error": "y".repeat(500_000)});
    let address = serve(move || json_body(StatusCode::UNPROCESSABLE_ENTITY, body.clone())).await;
    let (result, _) = query(&address).await;
    let message = result.expect_err("rejected").to_string();
    assert!(
        message.len() <= MAX_ERROR_MESSAGE_BYTES,
        "{} bytes",
        message.len()
    );
    assert!(
        message.starts_with("the metrics server rejected the query (HTTP 422, xxx"),
        "{message:.100}"
    );
}

#[tokio::test]
async fn an_unknown_result_type_or_status_is_quoted_briefly() {
    for body in [
        json!({"status": "success", "data": {"resultType": "z".repeat(100_000), "result": []}}),
        json!({"status": "w".repeat(100_000)}),
    ] {
        let address = serve(move || json_body(StatusCode::OK, body.clone())).await;
        let message = query(&address).await.0.expect_err("malformed").to_string();
        assert!(
            message.len() <= MAX_ERROR_MESSAGE_BYTES,
            "{} bytes",
            message.len()
        );
        assert!(message.contains('…'), "{message:.300}");
    }
}

#[tokio::test]
async fn binary_garbage_with_terminal_escapes_is_quoted_printably() {
    let address =
        serve(|| (StatusCode::BAD_GATEWAY, b"\x1b[2J\x00\xff\xfe garbage".to_vec()).into_response()).await;
    let message = query(&address).await.0.expect_err("rejected").to_string();
    assert!(
        message.starts_with("the metrics server rejected the query (HTTP 502): "),
        "{message}"
    );
    assert!(!message.chars().any(char::is_control), "{message:?}");
}
