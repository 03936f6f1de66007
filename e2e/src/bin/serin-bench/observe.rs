//! Watches the benchmark's Canaries and Deployments and timestamps what
//! serin does: each Canary's phase and weight changes, and when each target
//! Deployment was scaled up after its image was bumped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serin::api::{Canary, Phase};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub phase: Phase,
    pub weight: i32,
}

#[derive(Default)]
struct State {
    /// Every (phase, weight) a Canary was seen in, with when it was seen.
    canaries: HashMap<String, Vec<(Instant, View)>>,
    bumped: HashMap<String, Instant>,
    scaled_up: HashMap<String, Instant>,
}

pub struct Observer {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

impl Observer {
    pub fn start(client: Client, namespace: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let canaries: Api<Canary> = Api::namespaced(client.clone(), namespace);
        let (s, c) = (state.clone(), changed.clone());
        tokio::spawn(async move {
            let mut events = Box::pin(watcher(canaries, watcher::Config::default()).applied_objects());
            while let Some(event) = events.next().await {
                let Ok(canary) = event else { continue };
                let Some(status) = canary.status.as_ref() else {
                    continue;
                };
                let view = View {
                    phase: status.phase,
                    weight: status.canary_weight,
                };
                if let Ok(mut state) = s.lock() {
                    let history = state.canaries.entry(canary.name_any()).or_default();
                    if history.last().map(|(_, v)| *v) != Some(view) {
                        history.push((Instant::now(), view));
                    }
                }
                c.notify_waiters();
            }
        });
        let deployments: Api<Deployment> = Api::namespaced(client, namespace);
        let s = state.clone();
        tokio::spawn(async move {
            let mut events = Box::pin(watcher(deployments, watcher::Config::default()).applied_objects());
            while let Some(event) = events.next().await {
                let Ok(deployment) = event else { continue };
                let replicas = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                if replicas == 0 {
                    continue;
                }
                let name = deployment.name_any();
                if let Ok(mut state) = s.lock()
                    && state.bumped.contains_key(&name)
                    && !state.scaled_up.contains_key(&name)
                {
                    state.scaled_up.insert(name, Instant::now());
                }
            }
        });
        Self { state, changed }
    }

    /// Records that `name`'s image is about to be bumped.
    pub fn bumped(&self, name: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.bumped.insert(name.to_string(), Instant::now());
        }
    }

    /// Waits until `expected` Canaries' latest views satisfy `done`; false
    /// when `timeout` passed first (the benchmark then reports what it got).
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        expected: usize,
        done: impl Fn(&View) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last_report = Instant::now();
        loop {
            let notified = self.changed.notified();
            let (ready, total) = self.count(&done);
            if ready >= expected {
                return true;
            }
            if last_report.elapsed() > Duration::from_secs(15) {
                eprintln!("  waiting for {what}: {ready}/{total}, {} failed", self.failed());
                last_report = Instant::now();
            }
            if Instant::now() >= deadline {
                eprintln!("  budget spent waiting for {what}: {ready}/{total}");
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
        }
    }

    fn count(&self, done: &impl Fn(&View) -> bool) -> (usize, usize) {
        let Ok(state) = self.state.lock() else {
            return (0, 0);
        };
        let ready = state
            .canaries
            .values()
            .filter(|h| h.last().is_some_and(|(_, v)| done(v)))
            .count();
        (ready, state.canaries.len())
    }

    /// Canaries whose latest view satisfies `done`.
    pub fn names(&self, done: impl Fn(&View) -> bool) -> Vec<String> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        state
            .canaries
            .iter()
            .filter(|(_, h)| h.last().is_some_and(|(_, v)| done(v)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Analysis steps taken since `since`: weight steps and promotions.
    pub fn steps_after(&self, since: Instant) -> usize {
        let Ok(state) = self.state.lock() else { return 0 };
        state
            .canaries
            .values()
            .flat_map(|h| h.iter())
            .filter(|(at, v)| {
                *at >= since
                    && ((v.phase == Phase::Progressing && v.weight > 0) || v.phase == Phase::Promoting)
            })
            .count()
    }

    pub fn failed(&self) -> usize {
        self.count(&|v: &View| v.phase == Phase::Failed).0
    }

    /// Seconds from each bump to the target's scale-up.
    pub fn reactions(&self) -> Vec<f64> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        state
            .scaled_up
            .iter()
            .filter_map(|(name, up)| Some(up.duration_since(*state.bumped.get(name)?).as_secs_f64()))
            .collect()
    }

    /// How much later than `interval` each analysis step came, in seconds:
    /// the gaps between the weight steps and from the last one to Promoting.
    pub fn step_drifts(&self, interval: Duration) -> Vec<f64> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        let mut drifts = Vec::new();
        for history in state.canaries.values() {
            let marks: Vec<Instant> = history
                .iter()
                .filter(|(_, v)| {
                    (v.phase == Phase::Progressing && v.weight > 0) || v.phase == Phase::Promoting
                })
                .map(|(at, _)| *at)
                .collect();
            for pair in marks.windows(2) {
                drifts.push(pair[1].duration_since(pair[0]).as_secs_f64() - interval.as_secs_f64());
            }
        }
        drifts
    }

    /// From `since` until the last Canary reached Succeeded.
    pub fn last_success_after(&self, since: Instant) -> Option<Duration> {
        let state = self.state.lock().ok()?;
        state
            .canaries
            .values()
            .filter_map(|h| {
                h.iter()
                    .find(|(at, v)| *at >= since && v.phase == Phase::Succeeded)
                    .map(|(at, _)| at.duration_since(since))
            })
            .max()
    }
}
