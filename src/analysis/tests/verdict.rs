//! Judging a metric: ranges, the deprecated threshold, `noData`, `minRequests`, errors.

use jiff::Timestamp;

use crate::analysis::error::MetricError;
use crate::analysis::provider::QueryError;
use crate::analysis::verdict::{Reading, bounds, judge, summarise};
use crate::api::{CanaryMetric, NoDataPolicy, ThresholdRange, Verdict};

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("valid")
}

fn metric(name: &str, min: Option<f64>, max: Option<f64>) -> CanaryMetric {
    CanaryMetric {
        name: name.into(),
        threshold_range: Some(ThresholdRange { min, max }),
        ..Default::default()
    }
}

fn value(v: f64) -> Result<Reading, MetricError> {
    Ok(Reading::Value(v))
}

#[test]
fn below_the_minimum_fails() {
    let check = judge(
        &metric("request-success-rate", Some(99.0), None),
        value(97.5),
        now(),
    );
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(
        check.message,
        "request-success-rate 97.50 is below the minimum 99"
    );
    assert_eq!(
        (check.value, check.min, check.max),
        (Some(97.5), Some(99.0), None)
    );
    assert_eq!(check.name, "request-success-rate");
    assert_eq!(check.time.0, now());
}

#[test]
fn above_the_maximum_fails() {
    let check = judge(
        &metric("request-duration", None, Some(500.0)),
        value(912.0),
        now(),
    );
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(check.message, "request-duration 912ms is above the maximum 500");
}

#[test]
fn bounds_are_inclusive() {
    let range = metric("latency", Some(1.0), Some(2.0));
    for v in [1.0, 1.5, 2.0] {
        assert_eq!(judge(&range, value(v), now()).verdict, Verdict::Pass, "{v}");
    }
    for v in [0.999, 2.001, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(judge(&range, value(v), now()).verdict, Verdict::Fail, "{v}");
    }
    assert_eq!(
        judge(&range, value(1.5), now()).message,
        "latency 1.50 is within [1, 2]"
    );
}

#[test]
fn passing_messages_show_the_value_against_its_bounds() {
    let rate = judge(
        &metric("request-success-rate", Some(99.0), None),
        value(100.0),
        now(),
    );
    assert_eq!(
        rate.message,
        "request-success-rate 100 is at least the minimum 99"
    );
    let duration = judge(
        &metric("request-duration", None, Some(500.0)),
        value(312.0),
        now(),
    );
    assert_eq!(
        duration.message,
        "request-duration 312ms is at most the maximum 500"
    );
    let tiny = judge(&metric("error-ratio", None, Some(0.01)), value(0.0012), now());
    assert_eq!(tiny.message, "error-ratio 0.0012 is at most the maximum 0.01");
    let unbounded = judge(&metric("rps", None, None), value(12.0), now());
    assert_eq!(
        (unbounded.verdict, unbounded.message.as_str()),
        (Verdict::Pass, "rps 12 (no thresholdRange set)")
    );
}

#[test]
fn infinities_are_judged_but_not_recorded_as_values() {
    let check = judge(
        &metric("request-duration", None, Some(500.0)),
        value(f64::INFINITY),
        now(),
    );
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(check.value, None);
    assert_eq!(check.message, "request-duration +Infms is above the maximum 500");
}

#[test]
fn the_deprecated_threshold_is_a_minimum_for_success_rate_and_a_maximum_otherwise() {
    let mut rate = CanaryMetric {
        name: "request-success-rate".into(),
        threshold: Some(99.0),
        ..Default::default()
    };
    assert_eq!(bounds(&rate), (Some(99.0), None));
    assert_eq!(judge(&rate, value(98.0), now()).verdict, Verdict::Fail);
    let duration = CanaryMetric {
        name: "request-duration".into(),
        threshold: Some(500.0),
        ..Default::default()
    };
    assert_eq!(bounds(&duration), (None, Some(500.0)));
    let custom = CanaryMetric {
        name: "error-rate".into(),
        threshold: Some(1.0),
        ..Default::default()
    };
    assert_eq!(bounds(&custom), (None, Some(1.0)));
    // thresholdRange wins over threshold.
    rate.threshold_range = Some(ThresholdRange {
        min: Some(95.0),
        max: None,
    });
    assert_eq!(bounds(&rate), (Some(95.0), None));
    assert_eq!(judge(&rate, value(98.0), now()).verdict, Verdict::Pass);
}

fn no_data(policy: Option<NoDataPolicy>, err: QueryError) -> (Verdict, String) {
    let mut m = metric("request-success-rate", Some(99.0), None);
    m.no_data = policy;
    let check = judge(&m, Err(MetricError::Query(err)), now());
    assert_eq!(check.value, None);
    (check.verdict, check.message)
}

#[test]
fn no_data_follows_the_policy_failing_by_default() {
    assert_eq!(no_data(None, QueryError::NoData).0, Verdict::Fail);
    assert_eq!(
        no_data(Some(NoDataPolicy::Fail), QueryError::NoData).0,
        Verdict::Fail
    );
    assert_eq!(
        no_data(Some(NoDataPolicy::Hold), QueryError::NoData).0,
        Verdict::Hold
    );
    assert_eq!(
        no_data(Some(NoDataPolicy::Pass), QueryError::NoData).0,
        Verdict::Pass
    );
    assert_eq!(
        no_data(Some(NoDataPolicy::Hold), QueryError::NaN).0,
        Verdict::Hold
    );
    let (_, message) = no_data(Some(NoDataPolicy::Hold), QueryError::NoData);
    assert_eq!(
        message,
        "no data: request-success-rate: the query returned no values; is the canary receiving traffic? \
         (noData: hold)"
    );
    // A NaN value, however it arrives, is no data rather than a pass.
    let mut m = metric("request-success-rate", Some(99.0), None);
    m.no_data = Some(NoDataPolicy::Hold);
    assert_eq!(judge(&m, value(f64::NAN), now()).verdict, Verdict::Hold);
}

#[test]
fn other_errors_fail_whatever_the_policy() {
    let mut m = metric("request-success-rate", Some(99.0), None);
    m.no_data = Some(NoDataPolicy::Pass);
    let unreachable = QueryError::Unreachable {
        address: "http://prometheus:9090/".into(),
        reason: "no answer within 5s".into(),
    };
    let check = judge(&m, Err(MetricError::Query(unreachable)), now());
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(
        check.message,
        "request-success-rate: metrics server http://prometheus:9090/ is unreachable: no answer within 5s"
    );
    let missing = MetricError::TemplateNotFound {
        metric: "error-rate".into(),
        namespace: "test".into(),
        name: "errors".into(),
    };
    let check = judge(&metric("error-rate", None, Some(1.0)), Err(missing), now());
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(
        check.message,
        "MetricTemplate test/errors (templateRef of metric error-rate) does not exist"
    );
    // The gate's own no-data is not the metric's.
    let gate = judge(
        &m,
        Err(MetricError::RequestCount(QueryError::NotAScalar(
            "2 series".into(),
        ))),
        now(),
    );
    assert_eq!(gate.verdict, Verdict::Fail);
}

#[test]
fn too_few_requests_hold() {
    let reading = Ok(Reading::TooFewRequests {
        seen: 2.97,
        required: 50,
        interval: "1m".into(),
    });
    let check = judge(&metric("request-success-rate", Some(99.0), None), reading, now());
    assert_eq!(check.verdict, Verdict::Hold);
    assert_eq!(check.value, None);
    assert_eq!(
        check.message,
        "request-success-rate: 3 of 50 requests in 1m; waiting for more traffic before judging"
    );
}

#[test]
fn the_summary_lists_failures_and_holds_and_keeps_every_check() {
    let checks = vec![
        judge(&metric("a", Some(1.0), None), value(0.0), now()),
        judge(&metric("b", Some(1.0), None), value(2.0), now()),
        judge(
            &CanaryMetric {
                no_data: Some(NoDataPolicy::Hold),
                ..metric("c", None, None)
            },
            Err(MetricError::Query(QueryError::NoData)),
            now(),
        ),
    ];
    let result = summarise(checks.clone());
    assert_eq!(result.failures, vec!["a 0 is below the minimum 1".to_string()]);
    assert_eq!(result.held.len(), 1);
    assert!(result.held[0].starts_with("no data: c:"));
    assert_eq!(result.checks, checks);
    assert_eq!(summarise(Vec::new()), Default::default());
}
