//! The built-in HTTP load generator behind `type: load`.
//!
//! Two pacings:
//! - **rate** (open loop): a tokio interval ticks `rate` times a second and every tick spawns one request,
//!   so a slow target does not slow the sender down (no coordinated omission). Missed ticks are caught up
//!   in a burst (`MissedTickBehavior::Burst`): when the runtime stalls, the test still sends
//!   `rate × duration` requests in total rather than silently fewer. In-flight requests are capped at
//!   [`MAX_IN_FLIGHT`]; a tick that finds the cap reached is counted as *dropped*, not queued, because
//!   queueing would turn the open loop back into a closed one.
//! - **concurrency** (closed loop): that many workers, each sending its next request when the previous
//!   one returns.
//!
//! No request starts after `duration`; requests already in flight finish (bounded by `requestTimeout`).
//! A request is an **error** when it fails in transport or its final status (redirects followed) is not
//! 2xx. Latency covers headers and body and is recorded for every response, errors included.

mod latency;
mod spec;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

pub use self::latency::LatencyHistogram;
pub use self::spec::{LoadSpec, LoadSpecError, MAX_CONCURRENCY, MAX_RATE, Pacing};
use super::metrics::Metrics;

/// Concurrent requests one rate-paced test may have open: enough for 1,000 rps at 0.5 s latency, few
/// enough that a hung target cannot exhaust the pod's sockets.
pub const MAX_IN_FLIGHT: usize = 512;
/// How often a running test logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What a test did, logged at the end and returned to tests.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub elapsed: Duration,
    pub p50: Option<Duration>,
    pub p90: Option<Duration>,
    pub p99: Option<Duration>,
}

/// Counters shared by the requests of one test.
#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    latency: Mutex<LatencyHistogram>,
    last_error: Mutex<Option<String>>,
}

impl Stats {
    fn report(&self, started: Instant) -> LoadReport {
        let latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        LoadReport {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
            p50: latency.quantile(0.5),
            p90: latency.quantile(0.9),
            p99: latency.quantile(0.99),
        }
    }
}

/// One running test: the spec, where to record, and who it is for.
#[derive(Clone)]
pub struct LoadRun {
    pub spec: Arc<LoadSpec>,
    pub client: reqwest::Client,
    pub metrics: Arc<Metrics>,
    /// `<name>.<namespace>` of the canary, the metric label and log field.
    pub canary: String,
}

impl LoadRun {
    /// Runs the test to its end and returns what it did.
    pub async fn run(self) -> LoadReport {
        let stats = Arc::new(Stats::default());
        let started = Instant::now();
        let deadline = started + self.spec.duration;
        tracing::info!(
            canary = %self.canary,
            url = %self.spec.url,
            pacing = %self.spec.pacing,
            duration = ?self.spec.duration,
            "load test started"
        );
        match self.spec.pacing {
            Pacing::Rate(rate) => self.open_loop(rate, started, deadline, &stats).await,
            Pacing::Concurrency(workers) => self.closed_loop(workers, started, deadline, &stats).await,
        }
        let report = stats.report(started);
        self.log(&report, &stats, "load test finished");
        report
    }

    async fn open_loop(&self, rate: f64, started: Instant, deadline: Instant, stats: &Arc<Stats>) {
        let mut ticks = interval_at(started, Duration::from_secs_f64(1.0 / rate));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut progress = interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            tokio::select! {
                // Ticks first: a progress line may wait, a request must not.
                biased;
                scheduled = ticks.tick() => {
                    // The wall clock too: a burst catching up after a stall must not spill past the end.
                    if scheduled >= deadline || Instant::now() >= deadline {
                        break;
                    }
                    match in_flight.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let (run, stats) = (self.clone(), stats.clone());
                            tokio::spawn(async move {
                                run.send(&stats).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            self.metrics.load_dropped(&self.canary);
                        }
                    }
                }
                _ = progress.tick() => self.log(&stats.report(started), stats, "load test running"),
            }
        }
        // Every request holds a permit until it is done; taking them all waits for the last one.
        let grace = self.spec.request_timeout + Duration::from_secs(1);
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, in_flight.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(canary = %self.canary, "load test requests still in flight after their timeout");
        }
    }

    async fn closed_loop(&self, workers: u32, started: Instant, deadline: Instant, stats: &Arc<Stats>) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (run, stats) = (self.clone(), stats.clone());
            set.spawn(async move {
                while Instant::now() < deadline {
                    run.send(&stats).await;
                }
            });
        }
        let mut progress = interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
        loop {
            tokio::select! {
                joined = set.join_next() => if joined.is_none() { break },
                _ = progress.tick() => self.log(&stats.report(started), stats, "load test running"),
            }
        }
    }

    /// Sends one request and records its outcome.
    async fn send(&self, stats: &Stats) {
        let spec = &self.spec;
        let mut request = self
            .client
            .request(spec.method.clone(), spec.url.clone())
            .timeout(spec.request_timeout);
        for (name, value) in &spec.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &spec.body {
            request = request.body(body.clone());
        }
        let sent = Instant::now();
        // The body is read so the connection goes back to the pool and latency includes the transfer.
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) if status.is_success() => Ok(sent.elapsed()),
                    Ok(_) => Err((Some(sent.elapsed()), format!("status {status}"))),
                    Err(err) => Err((None, format!("reading the body: {err}"))),
                }
            }
            Err(err) => Err((None, crate::error::chain(&err))),
        };
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let (latency, error) = match outcome {
            Ok(latency) => (Some(latency), false),
            Err((latency, message)) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                *stats.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                (latency, true)
            }
        };
        if let Some(latency) = latency {
            stats
                .latency
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(latency);
        }
        self.metrics.load_request(&self.canary, latency, error);
    }

    fn log(&self, report: &LoadReport, stats: &Stats, message: &str) {
        let secs = report.elapsed.as_secs_f64().max(f64::EPSILON);
        let last_error = stats
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        tracing::info!(
            canary = %self.canary,
            url = %self.spec.url,
            requests = report.requests,
            errors = report.errors,
            dropped = report.dropped,
            rps = format!("{:.1}", report.requests as f64 / secs),
            p50 = %show(report.p50),
            p90 = %show(report.p90),
            p99 = %show(report.p99),
            last_error,
            "{message}"
        );
    }
}

/// `1.41ms`, or `-` before the first response.
fn show(latency: Option<Duration>) -> String {
    match latency {
        Some(l) if l >= Duration::from_secs(1) => format!("{:.2}s", l.as_secs_f64()),
        Some(l) => format!("{:.2}ms", l.as_secs_f64() * 1e3),
        None => "-".to_string(),
    }
}
