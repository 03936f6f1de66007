//! Unit tests of the analysis engine.

mod analyse;
mod builtin;
mod hostile;
mod prometheus;
mod resolve;
mod template;
mod verdict;

use crate::api::{Canary, CanaryMetric};

/// A Canary as the API server returns it, with `metrics` as its analysis metrics.
pub fn canary(metrics: serde_json::Value) -> Canary {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "0000-1111"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo-app"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "stepWeight": 10, "maxWeight": 50, "metrics": metrics}
        }
    }))
    .expect("the fixture is a valid Canary")
}

pub fn metric(json: serde_json::Value) -> CanaryMetric {
    serde_json::from_value(json).expect("a valid metric")
}
