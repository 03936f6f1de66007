//! A traffic simulator for tests: it produces the metrics a service mesh and
//! an instrumented app would, for a cluster that has no data plane, so that
//! serin's metric analysis can be tested end to end against real Prometheus.
//!
//! ```ignore
//! let sim = Simulator::start(&ctx, "podinfo", SimConfig::default()).await?;
//! sim.set_behaviour("podinfo", Behaviour { error_rate: 0.1, latency_ms: 900.0 });
//! simulator::annotate_behaviour(&ctx, "podinfo", bad).await?; // a bad release
//! sim.set_rate(0.0); // no traffic from now on
//! ```
//!
//! **Routing.** Every tick (default 250 ms) the simulator reads the
//! Deployments `<target>` (the canary) and `<target>-primary`, their pods, and
//! the HTTPRoute `<target>`, and sends `rps × elapsed` requests:
//! - with an HTTPRoute (or TrafficSplit, or VirtualService) that routes to
//!   `-primary` / `-canary`, in proportion to the weights of the first rule
//!   that admits the request (all zero, or no such rule: to nobody). A
//!   configurable share of requests carries one header or cookie
//!   ([`SimConfig::header`]), so A/B rules take those and the default rule
//!   the rest;
//! - without one, all to the primary once its Deployment exists, else all to
//!   the canary if it has ready pods (the apex Service before serin
//!   initializes the canary);
//! - a workload's share is split evenly between its ready pods; a workload
//!   with no ready pod (e.g. scaled to 0) gets nothing, and its share is lost,
//!   as it fails in the router without reaching any workload.
//!
//! **Behaviour** (error fraction and latency) comes from
//! [`Simulator::set_behaviour`] for the whole workload if set, else from each
//! pod's annotations `serin.dev/sim-error-rate` / `serin.dev/sim-latency-ms`
//! (copied from the pod template, so old pods keep the old behaviour during
//! a rollout), else 0.1% errors and 50 ms. Errors are counted with a
//! fractional accumulator, not drawn at random, so runs are reproducible.
//! Every request takes exactly its latency, so a p99 query answers close to
//! the upper bound of the bucket holding it (50 ms -> 49.9 for Linkerd).
//!
//! **Series** (one set per pod that exists and has been routed traffic; a
//! deleted pod's series disappear; errors are status 500, the rest 200;
//! every family whichever object routes, so Linkerd's series also follow an
//! HTTPRoute whose parent is the Service, as with GAMMA):
//! - `response_total{namespace, deployment, pod, direction="inbound", classification="success"|"failure", status_code}`
//! - `response_latency_ms_bucket{namespace, deployment, pod, direction="inbound", le}` (+ `_sum`, `_count`)
//! - `istio_requests_total{reporter="destination", destination_workload_namespace, destination_workload, pod, response_code}`
//! - `istio_request_duration_milliseconds_bucket{reporter="destination", destination_workload_namespace, destination_workload, pod, le}` (+ `_sum`, `_count`)
//! - `http_request_duration_seconds_bucket{kubernetes_namespace, kubernetes_pod_name, status, le}` (+ `_sum`, `_count`)
//!
//! Pod names are the real pods' names, `<deployment>-<pod-template-hash>-<suffix>`.
//! The app-level builtin regex `<target>-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)` is fully
//! anchored in PromQL and allows exactly two segments after the target:
//! canary pods `podinfo-<hash>-<suffix>` match it, primary pods
//! `podinfo-primary-<hash>-<suffix>` (three segments) do not, as in a real
//! cluster. Any other two-segment name would match, e.g. the pod
//! `podinfo-primary-0` of a StatefulSet; the simulator only sees Deployments.
//! The Linkerd and Istio queries match `deployment` / `destination_workload`
//! against the anchored `<target>`, so `<target>-primary` never matches.
//!
//! **No data.** With `set_rate(0.0)` the series stay but stop growing, so a
//! success-rate query answers NaN (0/0) once its window has passed; a
//! simulator started at rate 0, or a workload whose pods are gone, has no
//! series at all and the query answers an empty vector.

mod cluster;
mod exposition;
pub mod queries;
mod routes;
mod rules;
mod traffic;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::ensure;
use kube::Client;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub use cluster::annotate_behaviour;
pub use rules::Header;

use crate::TestContext;
use crate::prometheus::Exporter;
use traffic::{Engine, Snapshot};

pub const ERROR_RATE_ANNOTATION: &str = "serin.dev/sim-error-rate";
pub const LATENCY_ANNOTATION: &str = "serin.dev/sim-latency-ms";

/// How a workload answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Fraction of requests answered with a 500, from 0 to 1.
    pub error_rate: f64,
    pub latency_ms: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            error_rate: 0.001,
            latency_ms: 50.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Requests per second sent to the target, before the split.
    pub rps: f64,
    pub tick: Duration,
    /// The HTTPRoute to read weights from; the target's name if `None`.
    pub route: Option<String>,
    /// Requests per second a load tester sends straight to the canary (its
    /// `-canary` Service), on top of the routed share. Default 0.
    pub canary_direct_rps: f64,
    /// A header (or `cookie`) that `matching_share` of the routed requests
    /// carry, so A/B rules have something to match. Default none.
    pub header: Option<(String, String)>,
    /// Fraction (0 to 1) of the routed requests that carry `header`.
    pub matching_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            rps: 20.0,
            tick: Duration::from_millis(250),
            route: None,
            canary_direct_rps: 0.0,
            header: None,
            matching_share: 0.0,
        }
    }
}

/// What a workload has served since the simulator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
}

struct Shared {
    rps: f64,
    overrides: HashMap<String, Behaviour>,
    engine: Engine,
}

/// Sends simulated traffic until dropped; dropping it also removes its
/// scrape target from Prometheus.
pub struct Simulator {
    shared: Arc<Mutex<Shared>>,
    // The tick task holds only a Weak, so dropping this deregisters at once.
    exporter: Arc<Exporter>,
    task: JoinHandle<()>,
}

impl Simulator {
    pub async fn start(ctx: &TestContext, target: &str, config: SimConfig) -> anyhow::Result<Simulator> {
        ensure!(
            valid_rps(config.rps),
            "rps must be finite and >= 0, got {}",
            config.rps
        );
        ensure!(!config.tick.is_zero(), "tick must be longer than zero");
        ensure!(
            (0.0..=1.0).contains(&config.matching_share),
            "matching_share must be between 0 and 1, got {}",
            config.matching_share
        );
        let exporter = Arc::new(Exporter::start("").await?);
        let shared = Arc::new(Mutex::new(Shared {
            rps: config.rps,
            overrides: HashMap::new(),
            engine: Engine {
                canary_direct_rps: config.canary_direct_rps,
                header: config.header,
                matching_share: config.matching_share.clamp(0.0, 1.0),
                ..Engine::default()
            },
        }));
        let run = Run {
            client: ctx.client.clone(),
            namespace: ctx.namespace.clone(),
            route: config.route.unwrap_or_else(|| target.to_string()),
            target: target.to_string(),
            tick: config.tick,
            shared: shared.clone(),
            exporter: Arc::downgrade(&exporter),
        };
        let task = tokio::spawn(run.ticks());
        Ok(Simulator {
            shared,
            exporter,
            task,
        })
    }

    /// Requests per second from now on; 0 stops traffic (the series stay).
    pub fn set_rate(&self, rps: f64) {
        assert!(valid_rps(rps), "rps must be finite and >= 0, got {rps}");
        self.with_shared(|s| s.rps = rps);
    }

    /// Changes the load tester's traffic straight to the canary.
    pub fn set_canary_direct_rps(&self, rps: f64) {
        assert!(valid_rps(rps), "rps must be finite and >= 0, got {rps}");
        self.with_shared(|s| s.engine.canary_direct_rps = rps);
    }

    /// Makes every pod of `workload` (a Deployment name) behave so,
    /// whatever its annotations say, until [`Self::clear_behaviour`].
    pub fn set_behaviour(&self, workload: &str, behaviour: Behaviour) {
        self.with_shared(|s| s.overrides.insert(workload.to_string(), behaviour));
    }

    /// Returns `workload` to its pods' annotations (or the defaults).
    pub fn clear_behaviour(&self, workload: &str) {
        self.with_shared(|s| s.overrides.remove(workload));
    }

    pub fn totals(&self, workload: &str) -> Totals {
        self.with_shared(|s| s.engine.totals.get(workload).copied().unwrap_or_default())
    }

    /// The `e2e_exporter` label Prometheus puts on this simulator's series.
    pub fn exporter_id(&self) -> &str {
        &self.exporter.id
    }

    /// Waits until Prometheus has found this simulator and scraped it twice,
    /// so a `rate()` over series that exist can answer. Until then every
    /// query answers "no data", which a test letting no data pass
    /// (`noData: pass`) would take for a healthy canary.
    pub async fn wait_until_scraped(&self, timeout: Duration) -> anyhow::Result<()> {
        let prometheus = crate::prometheus::Prometheus::from_env();
        let query = format!(
            r#"count_over_time(up{{e2e_exporter="{}"}}[1m])"#,
            self.exporter.id
        );
        let (prometheus, query) = (&prometheus, &query);
        crate::wait::poll_until(
            "Prometheus to scrape the simulator twice",
            timeout,
            Duration::from_millis(250),
            || async move {
                let samples = prometheus.query(query).await?;
                Ok(samples.iter().any(|s| s.value >= 2.0).then_some(()))
            },
        )
        .await
    }

    fn with_shared<T: Default>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        self.shared.lock().map(|mut s| f(&mut s)).unwrap_or_default()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `(primary, canary)` weights the simulator would route a request
/// carrying `header` by, from the routing object `name` (HTTPRoute, SMI
/// TrafficSplit or Istio VirtualService, whichever exists): tests read a
/// route the way the traffic does. `None` without one that routes to the
/// workloads; `(0, 0)` when no rule admits the request.
pub async fn routed_weights(
    client: &Client,
    namespace: &str,
    name: &str,
    header: Header<'_>,
) -> Option<(i64, i64)> {
    let rules = routes::rules(client, namespace, name).await?;
    Some(rules::weights_for(&rules, header))
}

fn valid_rps(rps: f64) -> bool {
    rps.is_finite() && rps >= 0.0
}

struct Run {
    client: Client,
    namespace: String,
    target: String,
    route: String,
    tick: Duration,
    shared: Arc<Mutex<Shared>>,
    exporter: Weak<Exporter>,
}

impl Run {
    async fn ticks(self) {
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut snapshot = Snapshot::default();
        let mut last = Instant::now();
        loop {
            interval.tick().await;
            match cluster::snapshot(&self.client, &self.namespace, &self.target, &self.route).await {
                Ok(fresh) => snapshot = fresh,
                // Traffic does not pause because the apiserver hiccupped.
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "simulator: keeping the last routing")
                }
            }
            // Elapsed time, not the nominal tick, so slow reads lose no traffic.
            let now = Instant::now();
            let seconds = now.duration_since(last).as_secs_f64();
            last = now;
            let body = {
                let Ok(mut shared) = self.shared.lock() else {
                    return;
                };
                let Shared {
                    rps,
                    overrides,
                    engine,
                } = &mut *shared;
                engine.tick(seconds, *rps, &snapshot, overrides);
                exposition::render(&self.namespace, engine)
            };
            let Some(exporter) = self.exporter.upgrade() else {
                return;
            };
            exporter.set_body(&body);
        }
    }
}
