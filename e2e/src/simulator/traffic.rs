//! The pure core of the simulator: how a tick's requests are split between
//! the workloads and their pods, and the cumulative counts they leave.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::rules::{Header, Rule, weights_for};
use super::{Behaviour, Totals};

/// What the cluster looked like when a tick was taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    /// The rules of the routing object (HTTPRoute, TrafficSplit or
    /// VirtualService), when one exists and routes to the workloads.
    pub routes: Option<Vec<Rule>>,
    pub primary: Option<Workload>,
    pub canary: Option<Workload>,
}

/// A Deployment and the pods its selector matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Workload {
    pub name: String,
    pub pods: Vec<Pod>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pod {
    pub name: String,
    pub ready: bool,
    /// From the pod's own annotations, which are copied from the template it
    /// was created from: pods of an old revision keep behaving as before.
    pub annotated: Annotated,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Annotated {
    pub error_rate: Option<f64>,
    pub latency_ms: Option<f64>,
}

impl Annotated {
    pub fn behaviour(self) -> Behaviour {
        let default = Behaviour::default();
        Behaviour {
            error_rate: self.error_rate.unwrap_or(default.error_rate),
            latency_ms: self.latency_ms.unwrap_or(default.latency_ms),
        }
    }
}

impl Workload {
    fn has_ready_pods(&self) -> bool {
        self.pods.iter().any(|p| p.ready)
    }
}

/// Fractions of plain requests (no A/B header) that reach `(primary, canary)`.
///
/// With a routing object, they split as the weights of the first rule that
/// admits them do (all zero, or no such rule: nobody). Without one, the apex
/// Service decides: it selects the primary once one exists, and before that
/// the target's own pods, which is how a cluster looks before serin has
/// initialized the canary.
// Only the tests ask about plain requests alone; the engine mixes both kinds.
#[cfg(test)]
pub(crate) fn shares(snapshot: &Snapshot) -> (f64, f64) {
    mixed_shares(snapshot, None, 0.0)
}

/// Fractions of all requests that reach `(primary, canary)` when
/// `matching_share` of them carry `header` and the rest carry nothing: each
/// kind follows the rule that admits it (an A/B rule, or the default one).
pub(crate) fn mixed_shares(snapshot: &Snapshot, header: Header<'_>, matching_share: f64) -> (f64, f64) {
    let Some(rules) = &snapshot.routes else {
        return if snapshot.primary.is_some() {
            (1.0, 0.0)
        } else if snapshot.canary.as_ref().is_some_and(Workload::has_ready_pods) {
            (0.0, 1.0)
        } else {
            (0.0, 0.0)
        };
    };
    let split = |(primary, canary): (i64, i64)| {
        let (primary, canary) = (primary.max(0) as f64, canary.max(0) as f64);
        let total = primary + canary;
        if total == 0.0 {
            (0.0, 0.0)
        } else {
            (primary / total, canary / total)
        }
    };
    let matching = if header.is_some() {
        matching_share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (plain_primary, plain_canary) = split(weights_for(rules, None));
    let (with_primary, with_canary) = split(weights_for(rules, header));
    (
        (1.0 - matching) * plain_primary + matching * with_primary,
        (1.0 - matching) * plain_canary + matching * with_canary,
    )
}

/// Turns fractional amounts into whole requests without randomness: the
/// fraction left over is carried into the next call, so over many calls the
/// whole numbers add up to the fractional total (less than one short).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Accumulator {
    carry: f64,
}

impl Accumulator {
    pub fn take(&mut self, amount: f64) -> u64 {
        let total = self.carry + amount.max(0.0);
        let whole = total.floor();
        self.carry = total - whole;
        whole as u64
    }
}

/// Latency in whole microseconds -> how many requests took that long. Every
/// request of a tick takes exactly its pod's latency, so there are few keys.
pub(crate) type Observations = BTreeMap<u64, u64>;

/// Everything one pod has served since it first got traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct PodTraffic {
    pub workload: String,
    pub succeeded: Observations,
    pub failed: Observations,
    requests: Accumulator,
    errors: Accumulator,
}

impl PodTraffic {
    /// Serves `amount` requests (fractional) and returns `(requests, errors)`.
    fn serve(&mut self, amount: f64, behaviour: Behaviour) -> (u64, u64) {
        let requests = self.requests.take(amount);
        let error_rate = behaviour.error_rate.clamp(0.0, 1.0);
        let errors = self.errors.take(requests as f64 * error_rate).min(requests);
        let latency_us = (behaviour.latency_ms.max(0.0) * 1000.0).round() as u64;
        if requests > errors {
            *self.succeeded.entry(latency_us).or_default() += requests - errors;
        }
        if errors > 0 {
            *self.failed.entry(latency_us).or_default() += errors;
        }
        (requests, errors)
    }
}

/// The simulator's whole state between ticks.
#[derive(Debug, Default)]
pub(crate) struct Engine {
    /// Pods that exist and have been routed traffic, by pod name.
    pub pods: BTreeMap<String, PodTraffic>,
    /// Everything each workload has served, including pods since deleted.
    pub totals: HashMap<String, Totals>,
    /// Requests per second sent straight to the canary Service, as a load
    /// tester does, whatever the weights.
    pub canary_direct_rps: f64,
    /// The header `matching_share` of the routed requests carry, for A/B
    /// rules to match (e.g. `("x-canary", "insider")` or a `cookie`).
    pub header: Option<(String, String)>,
    pub matching_share: f64,
}

impl Engine {
    /// Sends `rps` requests per second for `seconds` through the routing in
    /// `snapshot`. API overrides take precedence over pod annotations.
    pub fn tick(
        &mut self,
        seconds: f64,
        rps: f64,
        snapshot: &Snapshot,
        overrides: &HashMap<String, Behaviour>,
    ) {
        let existing: HashSet<&str> = [&snapshot.primary, &snapshot.canary]
            .into_iter()
            .flatten()
            .flat_map(|w| w.pods.iter().map(|p| p.name.as_str()))
            .collect();
        // A deleted pod's series go with it, as they do when a proxy goes away.
        self.pods.retain(|name, _| existing.contains(name.as_str()));

        let header = self.header.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
        let (primary_share, canary_share) = mixed_shares(snapshot, header, self.matching_share);
        let direct = self.canary_direct_rps.max(0.0);
        for (workload, share, extra_rps) in [
            (&snapshot.primary, primary_share, 0.0),
            (&snapshot.canary, canary_share, direct),
        ] {
            let Some(workload) = workload else { continue };
            // Traffic for a backend with no ready endpoints fails in the
            // router and never reaches a workload, so it is not counted.
            let ready: Vec<&Pod> = workload.pods.iter().filter(|p| p.ready).collect();
            let amount = (rps.max(0.0) * share + extra_rps) * seconds.max(0.0);
            if ready.is_empty() || amount <= 0.0 {
                continue;
            }
            let per_pod = amount / ready.len() as f64;
            for pod in ready {
                let behaviour = overrides
                    .get(&workload.name)
                    .copied()
                    .unwrap_or_else(|| pod.annotated.behaviour());
                let traffic = self.pods.entry(pod.name.clone()).or_insert_with(|| PodTraffic {
                    workload: workload.name.clone(),
                    ..PodTraffic::default()
                });
                let (requests, errors) = traffic.serve(per_pod, behaviour);
                let totals = self.totals.entry(workload.name.clone()).or_default();
                totals.requests += requests;
                totals.errors += errors;
            }
        }
    }
}
