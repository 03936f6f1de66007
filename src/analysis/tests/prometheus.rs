//! `parse_response` against what Prometheus and the proxies in front of it send.

use serde_json::json;

use crate::analysis::prometheus::{MAX_RESPONSE_BYTES, parse_response, query_url_for_test};
use crate::analysis::provider::QueryError;

fn ok(data: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"status": "success", "data": data})).expect("JSON")
}

fn vector(values: &[&str]) -> Vec<u8> {
    let result: Vec<_> = values
        .iter()
        .map(|v| json!({"metric": {"pod": "podinfo-abc"}, "value": [1_800_000_000.123, v]}))
        .collect();
    ok(json!({"resultType": "vector", "result": result}))
}

#[test]
fn a_vector_of_one_sample_is_its_value() {
    assert_eq!(parse_response(200, &vector(&["97.5"])), Ok(97.5));
    assert_eq!(parse_response(200, &vector(&["1e+06"])), Ok(1_000_000.0));
    assert_eq!(parse_response(200, &vector(&["0"])), Ok(0.0));
    assert_eq!(parse_response(200, &vector(&["-3"])), Ok(-3.0));
}

#[test]
fn a_scalar_is_its_value() {
    let body = ok(json!({"resultType": "scalar", "result": [1_800_000_000, "1"]}));
    assert_eq!(parse_response(200, &body), Ok(1.0));
}

#[test]
fn an_empty_vector_is_no_data() {
    let err = parse_response(200, &vector(&[])).expect_err("no value");
    assert_eq!(err, QueryError::NoData);
    assert!(err.is_no_data());
}

#[test]
fn nan_is_no_data_and_infinities_are_values() {
    let nan = parse_response(200, &vector(&["NaN"])).expect_err("NaN");
    assert_eq!(nan, QueryError::NaN);
    assert!(nan.is_no_data());
    assert_eq!(parse_response(200, &vector(&["+Inf"])), Ok(f64::INFINITY));
    assert_eq!(parse_response(200, &vector(&["-Inf"])), Ok(f64::NEG_INFINITY));
}

#[test]
fn several_series_a_matrix_or_a_string_are_not_a_scalar() {
    let err = parse_response(200, &vector(&["1", "2", "3"])).expect_err("three series");
    assert_eq!(err, QueryError::NotAScalar("3 series".into()));
    assert_eq!(
        err.to_string(),
        "the query must return a single value, but returned 3 series; aggregate it, e.g. with sum()"
    );
    let matrix = ok(json!({"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1, "1"], [2, "2"]]}
    ]}));
    assert!(matches!(parse_response(200, &matrix), Err(QueryError::NotAScalar(m)) if m.contains("matrix")));
    let string = ok(json!({"resultType": "string", "result": [1, "hello"]}));
    assert!(matches!(parse_response(200, &string), Err(QueryError::NotAScalar(m)) if m == "a string"));
    let histogram = ok(json!({"resultType": "vector", "result": [
        {"metric": {}, "histogram": [1, {"count": "3", "sum": "1", "buckets": []}]}
    ]}));
    assert!(
        matches!(parse_response(200, &histogram), Err(QueryError::NotAScalar(m)) if m.contains("histogram"))
    );
}

#[test]
fn prometheus_errors_are_rejections_with_their_text() {
    let body = serde_json::to_vec(&json!({
        "status": "error", "errorType": "bad_data",
        "error": "invalid parameter \"query\": 1:6: parse error: unexpected end of input"
    }))
    .expect("JSON");
    let err = parse_response(400, &body).expect_err("rejected");
    assert_eq!(
        err,
        QueryError::Rejected {
            status: "HTTP 400, bad_data".into(),
            message: "invalid parameter \"query\": 1:6: parse error: unexpected end of input".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "the metrics server rejected the query (HTTP 400, bad_data): invalid parameter \"query\": 1:6: \
         parse error: unexpected end of input"
    );
    // Execution errors come as 422, timeouts as 503, both with the same envelope.
    let timeout =
        br#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
    assert!(matches!(
        parse_response(503, timeout),
        Err(QueryError::Rejected { status, .. }) if status == "HTTP 503, timeout"
    ));
    // An error envelope with a 200 is still an error.
    let odd = br#"{"status":"error","error":"boom"}"#;
    assert!(
        matches!(parse_response(200, odd), Err(QueryError::Rejected { message, .. }) if message == "boom")
    );
}

#[test]
fn http_errors_without_an_envelope_quote_the_body() {
    let err = parse_response(401, b"Unauthorized\n").expect_err("401");
    assert_eq!(
        err,
        QueryError::Rejected {
            status: "HTTP 401".into(),
            message: "Unauthorized".into()
        }
    );
    let err = parse_response(502, b"").expect_err("502");
    assert_eq!(
        err,
        QueryError::Rejected {
            status: "HTTP 502".into(),
            message: "empty body".into()
        }
    );
    let long = "x".repeat(5_000);
    let Err(QueryError::Rejected { message, .. }) = parse_response(500, long.as_bytes()) else {
        panic!("a rejection");
    };
    assert!(message.chars().count() <= 201, "quoted {} chars", message.len());
}

#[test]
fn malformed_answers_are_malformed() {
    for body in [
        &b"<html>not prometheus</html>"[..],
        br#"{"status":"success"}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}"#,
        br#"{"status":"success","data":{"resultType":"table","result":[]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}"#,
        br#"{"status":"pending"}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"#,
        &[0xff, 0xfe, 0x00][..],
    ] {
        let outcome = parse_response(200, body);
        assert!(
            matches!(outcome, Err(QueryError::Malformed(_))),
            "{:?} gave {outcome:?}",
            String::from_utf8_lossy(body)
        );
    }
    let Err(err) = parse_response(
        200,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
    ) else {
        panic!("malformed");
    };
    assert_eq!(
        err.to_string(),
        "unreadable response from the metrics server: the value \"abc\" is not a number"
    );
}

#[test]
fn a_huge_response_is_refused() {
    let mut huge = br#"{"status":"success","data":{"resultType":"vector","result":["#.to_vec();
    huge.resize(MAX_RESPONSE_BYTES + 1, b' ');
    assert_eq!(
        parse_response(200, &huge),
        Err(QueryError::TooLarge {
            limit: MAX_RESPONSE_BYTES
        })
    );
    // Thousands of series within the limit are still not one value.
    let many: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        parse_response(200, &vector(&refs)),
        Err(QueryError::NotAScalar(m)) if m == "5000 series"
    ));
}

#[test]
fn the_query_url_keeps_a_path_prefix() {
    for (address, expected) in [
        ("http://prometheus:9090", "http://prometheus:9090/api/v1/query"),
        ("http://prometheus:9090/", "http://prometheus:9090/api/v1/query"),
        (
            "https://thanos.example.com/prometheus",
            "https://thanos.example.com/prometheus/api/v1/query",
        ),
        (
            "https://thanos.example.com/prometheus/",
            "https://thanos.example.com/prometheus/api/v1/query",
        ),
        (
            " http://prom.monitoring:9090 ",
            "http://prom.monitoring:9090/api/v1/query",
        ),
        ("http://prom:9090/?x=1", "http://prom:9090/api/v1/query"),
    ] {
        assert_eq!(query_url_for_test(address).as_deref(), Ok(expected), "{address}");
    }
}

#[test]
fn bad_addresses_are_configuration_errors() {
    for address in ["", "   ", "prometheus:9090", "ftp://prom", "http://", "not a url"] {
        let err = query_url_for_test(address).expect_err(address);
        assert!(err.is_config_error(), "{address}: {err}");
    }
    let err = query_url_for_test("").expect_err("empty");
    assert!(err.to_string().contains("--metrics-server"), "{err}");
}
