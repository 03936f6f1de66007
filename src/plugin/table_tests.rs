use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use crate::api::WebhookType;

fn canary(analysis: serde_json::Value, status: serde_json::Value) -> Canary {
    serde_json::from_value(json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": { "name": "podinfo", "namespace": "test" },
        "spec": {
            "provider": "gatewayapi:v1",
            "targetRef": { "kind": "Deployment", "name": "podinfo" },
            "service": { "port": 9898 },
            "analysis": analysis
        },
        "status": status
    }))
    .expect("valid Canary")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("valid timestamp")
}

#[test]
fn step_counts_the_weights_reached() {
    let c = canary(
        json!({ "stepWeight": 10, "maxWeight": 50 }),
        json!({ "phase": "Progressing", "canaryWeight": 20 }),
    );
    assert_eq!(progress(&c), Some(Progress { done: 2, total: 5 }));
    let c = canary(
        json!({ "stepWeights": [5, 25, 60] }),
        json!({ "phase": "Progressing", "canaryWeight": 0 }),
    );
    assert_eq!(progress(&c), Some(Progress { done: 0, total: 3 }));
}

#[test]
fn step_counts_iterations_for_blue_green_and_is_complete_after_the_analysis() {
    let c = canary(
        json!({ "iterations": 4 }),
        json!({ "phase": "Progressing", "iterations": 3 }),
    );
    assert_eq!(progress(&c), Some(Progress { done: 3, total: 4 }));
    let c = canary(
        json!({ "stepWeight": 25 }),
        json!({ "phase": "Promoting", "canaryWeight": 0 }),
    );
    assert_eq!(progress(&c), Some(Progress { done: 4, total: 4 }));
}

#[test]
fn invalid_spec_has_no_step() {
    let c = canary(json!({ "interval": "0s", "stepWeight": 10 }), json!({}));
    assert_eq!(progress(&c), None);
    assert_eq!(row(&c, at(0))[3], "invalid");
}

#[test]
fn progress_bar_fills_in_proportion() {
    assert_eq!(progress_bar(Progress { done: 2, total: 4 }, 8), "[####----] 2/4");
    assert_eq!(progress_bar(Progress { done: 0, total: 5 }, 5), "[-----] 0/5");
    assert_eq!(progress_bar(Progress { done: 7, total: 5 }, 5), "[#####] 7/5");
}

#[test]
fn row_shows_weight_step_failed_analysis_waiting_and_message() {
    let c = canary(
        json!({ "stepWeight": 10, "maxWeight": 50, "threshold": 3 }),
        json!({
            "phase": "Progressing",
            "canaryWeight": 30,
            "failedChecks": 1,
            "message": "x".repeat(100),
            "lastAnalysis": [
                { "name": "request-success-rate", "value": 99.5, "verdict": "Pass", "message": "", "time": "1970-01-01T00:00:00Z" },
                { "name": "latency", "verdict": "Hold", "message": "", "time": "1970-01-01T00:00:00Z" }
            ],
            "waitingFor": { "type": "confirm-traffic-increase", "webhooks": ["gate"], "since": "1970-01-01T00:00:00Z" }
        }),
    );
    let cells = row(&c, at(192));
    assert_eq!(cells[0], "podinfo");
    assert_eq!(cells[1], "Progressing");
    assert_eq!(cells[2], "30%/70%");
    assert_eq!(cells[3], "3/5");
    assert_eq!(cells[4], "1/3");
    assert_eq!(cells[5], "request-success-rate=99.5 ok, latency=- hold");
    assert_eq!(cells[6], "confirm-traffic-increase [gate] 3m12s");
    assert_eq!(cells[7].chars().count(), 60);
    assert!(cells[7].ends_with('…'));
}

#[test]
fn idle_canary_has_no_step_and_placeholders() {
    let c = canary(json!({ "stepWeight": 10 }), json!({ "phase": "Succeeded" }));
    let cells = row(&c, at(0));
    assert_eq!(&cells[1..], ["Succeeded", "0%/100%", "-", "0/1", "-", "-", "-"]);
}

#[test]
fn waiting_uses_the_gate_type_name() {
    let wait = GateWait {
        type_: WebhookType::ConfirmPromotion,
        webhooks: vec!["a".into(), "b".into()],
        since: Time(at(100)),
        deadline: None,
    };
    assert_eq!(waiting(&wait, at(7300)), "confirm-promotion [a,b] 2h0m");
}

#[test]
fn numbers_drop_trailing_zeros() {
    assert_eq!(number(99.0), "99");
    assert_eq!(number(0.126), "0.13");
    assert_eq!(number(250.5), "250.5");
}

#[test]
fn render_aligns_columns() {
    let rows = vec![vec!["a".to_string(); 8], vec!["long-name".to_string(); 8]];
    let text = render(&rows);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("NAME        PHASE"));
    assert!(lines[1].starts_with("a           a"));
}
