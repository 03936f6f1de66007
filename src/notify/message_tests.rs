use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::*;
use crate::api::GateWait;

fn canary(analysis: Value) -> Canary {
    serde_json::from_value(json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "gatewayapi",
            "progressDeadlineSeconds": 120,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": analysis,
        }
    }))
    .expect("a valid Canary")
}

fn plain() -> Canary {
    canary(json!({"interval": "1m", "threshold": 3, "stepWeight": 25, "maxWeight": 50}))
}

fn event(reason: &str, message: &str) -> Event {
    Event {
        warning: false,
        reason: reason.to_string(),
        message: message.to_string(),
    }
}

fn check(
    name: &str,
    value: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    verdict: Verdict,
) -> MetricCheck {
    MetricCheck {
        name: name.to_string(),
        value,
        min,
        max,
        verdict,
        message: String::new(),
        time: Time(Timestamp::UNIX_EPOCH),
    }
}

fn waiting_for(kind: WebhookType, names: &[&str]) -> CanaryStatus {
    CanaryStatus {
        waiting_for: Some(GateWait {
            type_: kind,
            webhooks: names.iter().map(|n| n.to_string()).collect(),
            since: Time(Timestamp::UNIX_EPOCH),
            deadline: None,
        }),
        ..CanaryStatus::default()
    }
}

#[test]
fn initialized_is_info() {
    let n = from_event(&plain(), &CanaryStatus::default(), &event("Initialized", "x")).expect("sent");
    assert_eq!(n.severity, AlertSeverity::Info);
    assert_eq!(n.title, "podinfo.test");
    assert_eq!(n.message, "New Deployment detected, initialization completed.");
    assert!(n.fields.is_empty());
}

#[test]
fn a_new_revision_lists_how_it_will_roll_out() {
    for reason in ["Progressing", "Restarted"] {
        let n = from_event(&plain(), &CanaryStatus::default(), &event(reason, "x")).expect("sent");
        assert_eq!(n.severity, AlertSeverity::Info);
        assert_eq!(n.message, "New revision detected, progressing canary analysis.");
        let fields: Vec<(&str, &str)> = n.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("Target", "Deployment/podinfo.test"),
                ("Failed checks threshold", "3"),
                ("Progress deadline", "120s"),
                ("Traffic routing", "gatewayapi, weights 25% → 50%"),
            ]
        );
    }
}

#[test]
fn blue_green_routing_is_described() {
    let c = canary(json!({"interval": "1m", "iterations": 4}));
    let n = from_event(&c, &CanaryStatus::default(), &event("Progressing", "x")).expect("sent");
    assert_eq!(n.fields[3].1, "gatewayapi, blue/green, 4 iterations");
}

#[test]
fn gate_waits_are_warnings_worded_by_gate() {
    let hook = |name: &str, kind: &str| json!({"name": name, "type": kind, "url": "http://gate"});
    let c = canary(json!({
        "stepWeight": 10,
        "webhooks": [hook("a", "confirm-rollout"), hook("b", "confirm-promotion"), hook("c", "confirm-traffic-increase")]
    }));
    let cases = [
        (
            WebhookType::ConfirmRollout,
            "a",
            "Canary is waiting for approval.",
        ),
        (
            WebhookType::ConfirmPromotion,
            "b",
            "Canary promotion is waiting for approval.",
        ),
        (
            WebhookType::ConfirmTrafficIncrease,
            "c",
            "Canary traffic increase is waiting for approval.",
        ),
    ];
    for (kind, name, message) in cases {
        let n = from_event(&c, &waiting_for(kind, &[name]), &event("WaitingForGate", "x")).expect("sent");
        assert_eq!(n.severity, AlertSeverity::Warn);
        assert_eq!(n.message, message);
        assert!(n.fields.contains(&("Webhooks".to_string(), name.to_string())));
    }
}

#[test]
fn muted_gates_stay_quiet_unless_an_unmuted_one_is_closed_too() {
    let c = canary(json!({
        "stepWeight": 10,
        "webhooks": [
            {"name": "human", "type": "confirm-promotion", "url": "http://gate", "muteAlert": true},
            {"name": "bot", "type": "confirm-promotion", "url": "http://gate"},
        ]
    }));
    let only_muted = waiting_for(WebhookType::ConfirmPromotion, &["human"]);
    assert_eq!(from_event(&c, &only_muted, &event("WaitingForGate", "x")), None);
    let both = waiting_for(WebhookType::ConfirmPromotion, &["human", "bot"]);
    assert!(from_event(&c, &both, &event("WaitingForGate", "x")).is_some());
}

#[test]
fn success_is_info() {
    let n = from_event(&plain(), &CanaryStatus::default(), &event("Succeeded", "x")).expect("sent");
    assert_eq!(n.severity, AlertSeverity::Info);
    assert_eq!(
        n.message,
        "Canary analysis completed successfully, promotion finished."
    );
}

#[test]
fn failures_are_errors_with_the_reason_and_the_checks() {
    let status = CanaryStatus {
        last_analysis: vec![
            check("error-rate", Some(7.5), None, Some(1.0), Verdict::Fail),
            check("latency", None, Some(0.0), Some(500.0), Verdict::Hold),
        ],
        ..CanaryStatus::default()
    };
    let cases = [
        (
            "RolledBack",
            "rolled back revision abc: failed checks threshold reached 3/3",
            "Canary analysis failed: rolled back revision abc: failed checks threshold reached 3/3",
        ),
        (
            "PromotionFailed",
            "promotion failed: primary not ready",
            "Promotion failed: primary not ready",
        ),
        (
            "RolloutNotConfirmed",
            "revision abc not rolled out: aborted",
            "Revision abc not rolled out: aborted",
        ),
        (
            "InitializationFailed",
            "initialization failed: timeout",
            "Initialization failed: timeout",
        ),
    ];
    for (reason, message, expected) in cases {
        let n = from_event(&plain(), &status, &event(reason, message)).expect("sent");
        assert_eq!(n.severity, AlertSeverity::Error, "{reason}");
        assert_eq!(n.message, expected);
        assert_eq!(
            n.fields,
            [
                ("error-rate".to_string(), "7.5 (range ..1): Fail".to_string()),
                ("latency".to_string(), "no value (range 0..500): Hold".to_string()),
            ]
        );
    }
}

#[test]
fn other_events_are_not_notified() {
    for reason in [
        "Advanced",
        "MetricsChecked",
        "Promoting",
        "Finalising",
        "AlertFailed",
        "GateOpened",
    ] {
        assert_eq!(
            from_event(&plain(), &CanaryStatus::default(), &event(reason, "x")),
            None,
            "{reason}"
        );
    }
}
