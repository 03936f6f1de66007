//! The load tester's `/metrics`: tasks, gate checks and load-test traffic, in the OpenMetrics text format.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GateLabels {
    gate: String,
    result: String,
}

/// `canary` is `<name>.<namespace>`, as in gate keys.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CanaryLabels {
    canary: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s: loopback calls up to timeouts.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    tasks_started: Family<TypeLabels, Counter>,
    tasks_failed: Family<TypeLabels, Counter>,
    tasks_deduplicated: Family<TypeLabels, Counter>,
    gate_checks: Family<GateLabels, Counter>,
    load_requests: Family<CanaryLabels, Counter>,
    load_errors: Family<CanaryLabels, Counter>,
    load_dropped: Family<CanaryLabels, Counter>,
    load_latency: HistogramFamily<CanaryLabels>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("serin_loadtester"),
            tasks_started: Family::default(),
            tasks_failed: Family::default(),
            tasks_deduplicated: Family::default(),
            gate_checks: Family::default(),
            load_requests: Family::default(),
            load_errors: Family::default(),
            load_dropped: Family::default(),
            load_latency: Family::new_with_constructor(latency_histogram),
        };
        let r = &mut metrics.registry;
        r.register(
            "tasks_started",
            "Tasks started, by type",
            metrics.tasks_started.clone(),
        );
        r.register(
            "tasks_failed",
            "Tasks that failed or timed out, by type",
            metrics.tasks_failed.clone(),
        );
        r.register(
            "tasks_deduplicated",
            "Task requests ignored because the same task was still running",
            metrics.tasks_deduplicated.clone(),
        );
        r.register(
            "gate_checks",
            "Gate checks by gate (gate, rollback, approve, halt) and result (open, closed)",
            metrics.gate_checks.clone(),
        );
        r.register(
            "load_requests",
            "Load-test requests completed or failed",
            metrics.load_requests.clone(),
        );
        r.register(
            "load_errors",
            "Load-test requests that failed: transport error or a status other than 2xx",
            metrics.load_errors.clone(),
        );
        r.register(
            "load_dropped",
            "Load-test requests not sent because too many were already in flight",
            metrics.load_dropped.clone(),
        );
        r.register(
            "load_latency_seconds",
            "Load-test response latency, headers and body",
            metrics.load_latency.clone(),
        );
        metrics
    }

    pub fn task_started(&self, kind: &str) {
        self.tasks_started.get_or_create(&type_labels(kind)).inc();
    }

    pub fn task_failed(&self, kind: &str) {
        self.tasks_failed.get_or_create(&type_labels(kind)).inc();
    }

    pub fn task_deduplicated(&self, kind: &str) {
        self.tasks_deduplicated.get_or_create(&type_labels(kind)).inc();
    }

    pub fn gate_checked(&self, gate: &str, open: bool) {
        let labels = GateLabels {
            gate: gate.to_string(),
            result: if open { "open" } else { "closed" }.to_string(),
        };
        self.gate_checks.get_or_create(&labels).inc();
    }

    /// One load-test request: its latency when a response came back, and whether it counts as an error.
    pub fn load_request(&self, canary: &str, latency: Option<Duration>, error: bool) {
        let labels = CanaryLabels {
            canary: canary.to_string(),
        };
        self.load_requests.get_or_create(&labels).inc();
        if error {
            self.load_errors.get_or_create(&labels).inc();
        }
        if let Some(latency) = latency {
            self.load_latency
                .get_or_create(&labels)
                .observe(latency.as_secs_f64());
        }
    }

    pub fn load_dropped(&self, canary: &str) {
        let labels = CanaryLabels {
            canary: canary.to_string(),
        };
        self.load_dropped.get_or_create(&labels).inc();
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn type_labels(kind: &str) -> TypeLabels {
    TypeLabels {
        r#type: kind.to_string(),
    }
}
