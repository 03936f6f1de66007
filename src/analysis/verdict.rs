//! Judging one metric: its measurement against its range and its `noData` policy.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::builtin::{REQUEST_DURATION, REQUEST_SUCCESS_RATE};
use super::error::MetricError;
use super::provider::QueryError;
use crate::api::{CanaryMetric, MetricCheck, NoDataPolicy, Verdict};
use crate::rollout::AnalysisResult;

/// What measuring a metric produced, when it produced anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    Value(f64),
    /// The `minRequests` gate was not met; the metric was not queried.
    TooFewRequests {
        seen: f64,
        required: i64,
        interval: String,
    },
}

/// The metric's `(min, max)`: `thresholdRange`, else the deprecated `threshold`, which is the
/// minimum for request-success-rate and the maximum for everything else.
pub fn bounds(metric: &CanaryMetric) -> (Option<f64>, Option<f64>) {
    if let Some(range) = &metric.threshold_range
        && (range.min.is_some() || range.max.is_some())
    {
        return (range.min, range.max);
    }
    match metric.threshold {
        Some(t) if metric.name == REQUEST_SUCCESS_RATE => (Some(t), None),
        Some(t) => (None, Some(t)),
        None => (None, None),
    }
}

pub fn judge(metric: &CanaryMetric, reading: Result<Reading, MetricError>, now: Timestamp) -> MetricCheck {
    let (min, max) = bounds(metric);
    let name = &metric.name;
    let reading = match reading {
        Ok(Reading::Value(value)) if value.is_nan() => Err(MetricError::Query(QueryError::NaN)),
        other => other,
    };
    let (verdict, value, message) = match reading {
        Ok(Reading::Value(value)) => {
            let shown = format!("{name} {}", show_value(name, value));
            let (verdict, message) = match (min, max) {
                (Some(min), _) if value < min => {
                    (Verdict::Fail, format!("{shown} is below the minimum {min}"))
                }
                (_, Some(max)) if value > max => {
                    (Verdict::Fail, format!("{shown} is above the maximum {max}"))
                }
                (Some(min), Some(max)) => (Verdict::Pass, format!("{shown} is within [{min}, {max}]")),
                (Some(min), None) => (Verdict::Pass, format!("{shown} is at least the minimum {min}")),
                (None, Some(max)) => (Verdict::Pass, format!("{shown} is at most the maximum {max}")),
                (None, None) => (Verdict::Pass, format!("{shown} (no thresholdRange set)")),
            };
            // ±Inf has no JSON form; the message carries it.
            (verdict, Some(value).filter(|v| v.is_finite()), message)
        }
        Ok(Reading::TooFewRequests {
            seen,
            required,
            interval,
        }) => (
            Verdict::Hold,
            None,
            format!(
                "{name}: {} of {required} requests in {interval}; waiting for more traffic before judging",
                seen.max(0.0).round()
            ),
        ),
        Err(err) if err.is_no_data() => {
            let policy = metric.no_data.unwrap_or_default();
            let verdict = match policy {
                NoDataPolicy::Fail => Verdict::Fail,
                NoDataPolicy::Hold => Verdict::Hold,
                NoDataPolicy::Pass => Verdict::Pass,
            };
            let policy = match policy {
                NoDataPolicy::Fail => "fail",
                NoDataPolicy::Hold => "hold",
                NoDataPolicy::Pass => "pass",
            };
            let message =
                format!("no data: {name}: {err}; is the canary receiving traffic? (noData: {policy})");
            (verdict, None, message)
        }
        Err(err) if err.names_metric() => (Verdict::Fail, None, err.to_string()),
        Err(err) => (Verdict::Fail, None, format!("{name}: {err}")),
    };
    MetricCheck {
        name: name.clone(),
        value,
        min,
        max,
        verdict,
        message,
        time: Time(now),
    }
}

/// The step's outcome from its checks: one failure or hold message per metric.
pub fn summarise(checks: Vec<MetricCheck>) -> AnalysisResult {
    let with = |verdict| {
        checks
            .iter()
            .filter(|c| c.verdict == verdict)
            .map(|c| c.message.clone())
            .collect()
    };
    AnalysisResult {
        failures: with(Verdict::Fail),
        held: with(Verdict::Hold),
        checks,
    }
}

/// Integers as such, others with two decimals (or enough digits to see a small value).
fn show_value(metric: &str, value: f64) -> String {
    let unit = if metric == REQUEST_DURATION { "ms" } else { "" };
    let number = if !value.is_finite() {
        if value > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        }
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 0.01 {
        format!("{value:.2}")
    } else {
        format!("{value}")
    };
    format!("{number}{unit}")
}
