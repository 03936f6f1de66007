//! Controller metrics in the OpenMetrics text format.
//!
//! Two families of series live side by side:
//! - `flagger_*` with Flagger's names, types and labels, so Flagger's Grafana dashboards work unchanged;
//! - `serin_*` for what Flagger does not expose (exact phase, transitions, reconcile health).
//!
//! Every per-canary method takes `(namespace, name)` where `name` is the **target's** name (the Deployment
//! the Canary points at), not the Canary's: Flagger labels its series that way and its dashboards select on
//! it, and serin's own series use the same key so both can be joined. `forget` removes everything a canary
//! created, so memory stays bounded as canaries come and go.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use self::labels::*;
use crate::api::{Phase, WebhookType};

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus client libraries' default buckets, which Flagger's analysis histogram uses.
const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Label values a canary has created, so `forget` can remove exactly those series.
#[derive(Default)]
struct Tracked {
    metrics: BTreeSet<String>,
    outcomes: BTreeSet<(String, String)>,
    transitions: BTreeSet<(&'static str, &'static str)>,
}

/// The controller's metrics and the registry that exposes them. Share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    /// Known canaries by (namespace, name). Held while series of a canary change and while encoding, so
    /// a scrape never sees a half-applied phase change (two phases at 1).
    canaries: Mutex<BTreeMap<(String, String), Tracked>>,
    canary_total: Family<NamespaceLabels, Gauge>,
    canary_status: Family<CanaryLabels, Gauge>,
    canary_weight: Family<WorkloadLabels, Gauge>,
    metric_analysis: Family<MetricLabels, Gauge<f64, AtomicU64>>,
    analysis_duration: HistogramFamily<CanaryLabels>,
    successes: Family<OutcomeLabels, Counter>,
    failures: Family<OutcomeLabels, Counter>,
    phase: Family<PhaseLabels, Gauge>,
    transitions: Family<TransitionLabels, Counter>,
    reconcile_duration: Histogram,
    reconcile_errors: Family<ReasonLabels, Counter>,
    gate_waiting: Family<WebhookLabels, Gauge<f64, AtomicU64>>,
    gate_waited: Family<WebhookLabels, Counter<f64, AtomicU64>>,
    webhook_calls: Family<WebhookCallLabels, Counter>,
}

impl Metrics {
    /// `mesh_provider` is published in `flagger_info`, as Flagger does with its `-mesh-provider` flag.
    pub fn new(mesh_provider: &str) -> Self {
        let mut registry = Registry::default();
        let info = Info::new(InfoLabels {
            version: env!("CARGO_PKG_VERSION").to_string(),
            mesh_provider: mesh_provider.to_string(),
        });
        // Registered as "flagger"; the OpenMetrics encoder appends "_info".
        registry.register("flagger", "Controller version and mesh provider", info);
        let metrics = Self {
            registry,
            canaries: Mutex::default(),
            canary_total: Family::default(),
            canary_status: Family::default(),
            canary_weight: Family::default(),
            metric_analysis: Family::default(),
            analysis_duration: Family::new_with_constructor(|| Histogram::new(DEFAULT_BUCKETS)),
            successes: Family::default(),
            failures: Family::default(),
            phase: Family::default(),
            transitions: Family::default(),
            // API round trips dominate a reconcile: 5 ms up to about 20 s.
            reconcile_duration: Histogram::new(exponential_buckets(0.005, 2.0, 13)),
            reconcile_errors: Family::default(),
            gate_waiting: Family::default(),
            gate_waited: Family::default(),
            webhook_calls: Family::default(),
        };
        metrics.register()
    }

    fn register(mut self) -> Self {
        let r = &mut self.registry;
        // Counters are registered without "_total": the OpenMetrics encoder appends it.
        r.register(
            "flagger_canary_total",
            "Canaries per namespace",
            self.canary_total.clone(),
        );
        r.register(
            "flagger_canary_status",
            "Canary status: 0 Progressing, 1 other, 2 Failed",
            self.canary_status.clone(),
        );
        r.register(
            "flagger_canary_weight",
            "Traffic weight per workload",
            self.canary_weight.clone(),
        );
        r.register(
            "flagger_canary_metric_analysis",
            "Last value of each analysis metric",
            self.metric_analysis.clone(),
        );
        r.register(
            "flagger_canary_duration_seconds",
            "Duration of one analysis step",
            self.analysis_duration.clone(),
        );
        r.register(
            "flagger_canary_successes",
            "Successful rollouts",
            self.successes.clone(),
        );
        r.register(
            "flagger_canary_failures",
            "Failed rollouts",
            self.failures.clone(),
        );
        r.register(
            "serin_canary_phase",
            "1 for the canary's current phase, 0 for every other phase",
            self.phase.clone(),
        );
        r.register(
            "serin_canary_transitions",
            "Phase changes",
            self.transitions.clone(),
        );
        r.register(
            "serin_reconcile_duration_seconds",
            "Duration of one reconcile",
            self.reconcile_duration.clone(),
        );
        r.register(
            "serin_reconcile_errors",
            "Failed reconciles by error category",
            self.reconcile_errors.clone(),
        );
        r.register(
            "serin_canary_gate_waiting_seconds",
            "How long the canary has been waiting for its gate to open; absent when not waiting",
            self.gate_waiting.clone(),
        );
        r.register(
            "serin_canary_gate_wait_seconds",
            "Time spent waiting for gates, counted when each wait ends",
            self.gate_waited.clone(),
        );
        r.register(
            "serin_webhook_calls",
            "Webhook calls by type and result",
            self.webhook_calls.clone(),
        );
        self
    }

    /// Publishes how long the canary has waited at its current gate, or
    /// removes the series when it waits for none.
    pub fn set_gate_waiting(&self, namespace: &str, name: &str, waiting: Option<(WebhookType, f64)>) {
        for kind in WEBHOOK_TYPES.into_iter().filter(|k| k.is_gate()) {
            let labels = webhook_labels(namespace, name, kind);
            match waiting {
                Some((waiting_kind, secs)) if waiting_kind == kind => {
                    self.gate_waiting.get_or_create(&labels).set(secs);
                }
                _ => {
                    self.gate_waiting.remove(&labels);
                }
            }
        }
    }

    /// Adds a finished wait to the total time spent at gates of `kind`.
    pub fn add_gate_wait(&self, namespace: &str, name: &str, kind: WebhookType, secs: f64) {
        self.gate_waited
            .get_or_create(&webhook_labels(namespace, name, kind))
            .inc_by(secs.max(0.0));
    }

    pub fn count_webhook_call(&self, namespace: &str, name: &str, kind: WebhookType, passed: bool) {
        let result = if passed { "success" } else { "failure" };
        self.webhook_calls
            .get_or_create(&webhook_call_labels(namespace, name, kind, result))
            .inc();
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), Tracked>> {
        // The map only indexes series; a panic elsewhere cannot leave it inconsistent enough to matter.
        self.canaries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the canary's tracking entry, counting it in `flagger_canary_total` when first seen.
    fn track<'m>(
        &self,
        canaries: &'m mut BTreeMap<(String, String), Tracked>,
        namespace: &str,
        name: &str,
    ) -> &'m mut Tracked {
        let key = (namespace.to_string(), name.to_string());
        if !canaries.contains_key(&key) {
            self.canary_total.get_or_create(&ns_labels(namespace)).inc();
        }
        canaries.entry(key).or_default()
    }

    /// Publishes the canary's current phase: `flagger_canary_status` and one `serin_canary_phase` series
    /// per phase (1 for `phase`, 0 for the others).
    pub fn set_phase(&self, namespace: &str, name: &str, phase: Phase) {
        let mut canaries = self.lock();
        self.track(&mut canaries, namespace, name);
        self.canary_status
            .get_or_create(&canary_labels(namespace, name))
            .set(flagger_status(phase));
        for p in PHASES {
            let labels = phase_labels(namespace, name, p);
            self.phase.get_or_create(&labels).set(i64::from(p == phase));
        }
    }

    /// Publishes the traffic split as Flagger does: `workload="<name>-primary"` and `workload="<name>"`.
    pub fn set_weights(&self, namespace: &str, name: &str, primary: i32, canary: i32) {
        let mut canaries = self.lock();
        self.track(&mut canaries, namespace, name);
        let [p, c] = weight_labels(namespace, name);
        self.canary_weight.get_or_create(&p).set(i64::from(primary));
        self.canary_weight.get_or_create(&c).set(i64::from(canary));
    }

    /// Counts a phase change. Calls with `from == to` are ignored, so callers may pass every reconcile's
    /// before/after pair.
    pub fn record_transition(&self, namespace: &str, name: &str, from: Phase, to: Phase) {
        if from == to {
            return;
        }
        let mut canaries = self.lock();
        let labels = transition_labels(namespace, name, from, to);
        let tracked = self.track(&mut canaries, namespace, name);
        tracked.transitions.insert((labels.from, labels.to));
        self.transitions.get_or_create(&labels).inc();
    }

    /// Publishes the last value of an analysis metric (durations in seconds), as Flagger does.
    pub fn set_metric_value(&self, namespace: &str, name: &str, metric: &str, value: f64) {
        let mut canaries = self.lock();
        self.track(&mut canaries, namespace, name)
            .metrics
            .insert(metric.to_string());
        self.metric_analysis
            .get_or_create(&metric_labels(namespace, name, metric))
            .set(value);
    }

    /// Records the duration of one analysis step (`flagger_canary_duration_seconds`).
    pub fn observe_analysis(&self, namespace: &str, name: &str, duration: Duration) {
        let mut canaries = self.lock();
        self.track(&mut canaries, namespace, name);
        self.analysis_duration
            .get_or_create(&canary_labels(namespace, name))
            .observe(duration.as_secs_f64());
    }

    /// Counts a finished rollout. `strategy` is Flagger's `deployment_strategy` (`canary`, `blue-green`,
    /// `ab-testing`, …); `analysis_status` is `completed` or `skipped`.
    pub fn record_rollout(
        &self,
        namespace: &str,
        name: &str,
        strategy: &str,
        analysis_status: &str,
        ok: bool,
    ) {
        let mut canaries = self.lock();
        let tracked = self.track(&mut canaries, namespace, name);
        tracked
            .outcomes
            .insert((strategy.to_string(), analysis_status.to_string()));
        let labels = outcome_labels(namespace, name, strategy, analysis_status);
        let family = if ok { &self.successes } else { &self.failures };
        family.get_or_create(&labels).inc();
    }

    /// Starts timing a reconcile; the duration is recorded when the returned guard is dropped, so early
    /// returns and `?` are timed too.
    pub fn reconcile_timer(&self) -> ReconcileTimer<'_> {
        ReconcileTimer {
            histogram: &self.reconcile_duration,
            start: Instant::now(),
        }
    }

    pub fn observe_reconcile(&self, duration: Duration) {
        self.reconcile_duration.observe(duration.as_secs_f64());
    }

    /// Counts a failed reconcile. `reason` must come from a small fixed set (an error category), never
    /// from an error message, or the series grow without bound.
    pub fn reconcile_error(&self, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Removes every series of a deleted canary.
    pub fn forget(&self, namespace: &str, name: &str) {
        let mut canaries = self.lock();
        let Some(tracked) = canaries.remove(&(namespace.to_string(), name.to_string())) else {
            return;
        };
        let ns = ns_labels(namespace);
        let remaining = self.canary_total.get_or_create(&ns).dec() - 1;
        if remaining <= 0 {
            self.canary_total.remove(&ns);
        }
        let canary = canary_labels(namespace, name);
        self.canary_status.remove(&canary);
        self.analysis_duration.remove(&canary);
        for labels in weight_labels(namespace, name) {
            self.canary_weight.remove(&labels);
        }
        for p in PHASES {
            self.phase.remove(&phase_labels(namespace, name, p));
        }
        for (from, to) in tracked.transitions {
            self.transitions.remove(&TransitionLabels {
                name: name.to_string(),
                namespace: namespace.to_string(),
                from,
                to,
            });
        }
        for metric in tracked.metrics {
            self.metric_analysis
                .remove(&metric_labels(namespace, name, &metric));
        }
        for kind in WEBHOOK_TYPES {
            self.gate_waiting.remove(&webhook_labels(namespace, name, kind));
            self.gate_waited.remove(&webhook_labels(namespace, name, kind));
            for result in ["success", "failure"] {
                self.webhook_calls
                    .remove(&webhook_call_labels(namespace, name, kind, result));
            }
        }
        for (strategy, status) in tracked.outcomes {
            let labels = outcome_labels(namespace, name, &strategy, &status);
            self.successes.remove(&labels);
            self.failures.remove(&labels);
        }
    }

    /// The whole registry as an OpenMetrics text exposition, ending in `# EOF`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let _consistent = self.lock();
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut canaries = String::new();
        for (ns, name) in self.lock().keys() {
            let _ = write!(canaries, "{ns}/{name} ");
        }
        f.debug_struct("Metrics")
            .field("canaries", &canaries.trim_end())
            .finish_non_exhaustive()
    }
}

/// Records the time since [`Metrics::reconcile_timer`] in `serin_reconcile_duration_seconds` on drop.
#[must_use = "the reconcile is timed until this guard is dropped"]
pub struct ReconcileTimer<'m> {
    histogram: &'m Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

mod labels;
#[cfg(test)]
mod tests;
