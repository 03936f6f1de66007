//! One decision in the making: the inputs, and the status, actions, events and
//! requeue being built from them.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::annotations::{self, TOKENS};
use super::conditions::{self, PROMOTED, READY, REASON_RESOLVED};
use super::{Action, Decision, Event, HookResult, Observations, Weights, WorkloadState};
use crate::api::{CanarySpec, CanaryStatus, CanaryWebhook, Phase, WebhookType};

/// How long a readiness wait goes before the status says why (see [`Turn::wait_detail`]).
pub const DETAIL_AFTER: Duration = Duration::from_secs(10);

/// The target Deployment once it is known to exist.
pub(super) struct Target<'a> {
    pub revision: &'a str,
    pub configs: &'a std::collections::BTreeMap<String, String>,
    pub workload: &'a WorkloadState,
}

pub(super) struct Turn<'a> {
    pub spec: &'a CanarySpec,
    pub prev: &'a CanaryStatus,
    pub obs: &'a Observations,
    pub now: Timestamp,
    pub status: CanaryStatus,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    pub requeue_after: Option<Duration>,
    not_ready: Option<(&'static str, String)>,
    deferred: Vec<&'static str>,
    needs: Vec<WebhookType>,
}

impl<'a> Turn<'a> {
    pub fn new(spec: &'a CanarySpec, prev: &'a CanaryStatus, obs: &'a Observations) -> Self {
        let mut status = prev.clone();
        status.observed_generation = obs.generation;
        Turn {
            spec,
            prev,
            obs,
            now: obs.now,
            status,
            actions: Vec::new(),
            events: Vec::new(),
            requeue_after: None,
            not_ready: None,
            deferred: Vec::new(),
            needs: Vec::new(),
        }
    }

    /// The Canary's webhooks of one type.
    pub fn webhooks(&self, kind: WebhookType) -> impl Iterator<Item = &'a CanaryWebhook> + use<'a> {
        self.spec
            .analysis
            .webhooks
            .iter()
            .filter(move |w| w.type_ == kind)
    }

    /// The answers of the webhooks of one type: empty when the Canary has
    /// none, `None` when they have not been called yet. The reconciler then
    /// calls them and decides again, so a caller just returns.
    pub fn hooks(&mut self, kind: WebhookType) -> Option<&'a [HookResult]> {
        if self.webhooks(kind).next().is_none() {
            return Some(&[]);
        }
        let found = self.obs.hooks.get(&kind).map(Vec::as_slice);
        if found.is_none() && !self.needs.contains(&kind) {
            self.needs.push(kind);
        }
        found
    }

    pub fn target_name(&self) -> &'a str {
        &self.spec.target_ref.name
    }

    pub fn primary_name(&self) -> String {
        format!("{}-primary", self.spec.target_ref.name)
    }

    pub fn set_phase(&mut self, phase: Phase) {
        if self.status.phase != phase {
            self.status.phase = phase;
            self.status.last_transition_time = Some(Time(self.now));
        }
    }

    pub fn say(&mut self, message: impl Into<String>) {
        self.status.message = Some(message.into());
    }

    pub fn normal(&mut self, reason: &str, message: impl Into<String>) {
        self.event(false, reason, message.into());
    }

    pub fn warning(&mut self, reason: &str, message: impl Into<String>) {
        self.event(true, reason, message.into());
    }

    fn event(&mut self, warning: bool, reason: &str, message: String) {
        self.events.push(Event {
            warning,
            reason: reason.to_string(),
            message,
        });
    }

    pub fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    pub fn route(&mut self, weights: Weights) {
        self.act(Action::ApplyRouting(weights));
    }

    pub fn current_weights(&self) -> Weights {
        Weights::canary(self.status.canary_weight)
    }

    /// Look again at `at` at the latest (keeps the earliest of several wishes).
    pub fn requeue_at(&mut self, at: Timestamp) {
        let wait = until(self.now, at).max(Duration::from_secs(1));
        self.requeue_after = Some(self.requeue_after.map_or(wait, |w| w.min(wait)));
    }

    /// Continue without waiting for a watch event: the next phase needs no new observation.
    pub fn requeue_now(&mut self) {
        self.requeue_after = Some(Duration::ZERO);
    }

    pub fn not_ready(&mut self, reason: &'static str, message: String) {
        self.not_ready = Some((reason, message));
    }

    /// The token of a request annotation if it was not carried out yet.
    pub fn fresh(&self, annotation: &str) -> Option<&'a str> {
        let obs: &'a Observations = self.obs;
        annotations::token(&obs.requests, annotation)
            .filter(|t| self.status.handled_requests.get(annotation).map(String::as_str) != Some(*t))
    }

    pub fn handle(&mut self, annotation: &str, token: &str) {
        self.status
            .handled_requests
            .insert(annotation.to_string(), token.to_string());
    }

    /// Keep a request pending on purpose: it applies to a later decision.
    pub fn defer(&mut self, annotation: &'static str) {
        self.deferred.push(annotation);
    }

    /// Requests that did not apply are still marked handled, so a stale token
    /// cannot fire unexpectedly in a later rollout.
    pub fn ignore_unhandled(&mut self) {
        for annotation in TOKENS {
            if self.deferred.contains(&annotation) {
                continue;
            }
            if let Some(token) = self.fresh(annotation) {
                self.handle(annotation, token);
                let phase = conditions::phase_reason(self.status.phase);
                let verb = annotations::verb(annotation);
                self.normal(
                    "RequestIgnored",
                    format!("{annotation}={token} ignored: nothing to {verb} in phase {phase}"),
                );
            }
        }
    }

    pub fn finish(mut self) -> Decision {
        let now = self.now;
        let message = self.status.message.clone().unwrap_or_default();
        let phase = self.status.phase;
        let conds = &mut self.status.conditions;
        match &self.not_ready {
            Some((reason, why)) => {
                conditions::set(conds, READY, "False", reason, why, now);
                // The Promoted condition keeps its phase message while the Canary
                // is not Ready, so that message comes back once it is.
                if conditions::find(conds, PROMOTED).is_none() {
                    let status = conditions::promoted_status(phase);
                    conditions::set(
                        conds,
                        PROMOTED,
                        status,
                        conditions::phase_reason(phase),
                        &message,
                        now,
                    );
                }
            }
            None => {
                let ready = format!(
                    "Deployment {:?} exists and the spec is valid",
                    self.spec.target_ref.name
                );
                conditions::set(conds, READY, "True", REASON_RESOLVED, &ready, now);
                let status = conditions::promoted_status(phase);
                conditions::set(
                    conds,
                    PROMOTED,
                    status,
                    conditions::phase_reason(phase),
                    &message,
                    now,
                );
            }
        }
        // A wait belongs to the phase it holds: leaving that phase ends it.
        let waiting_phase = self.status.waiting_for.as_ref().map(|w| match w.type_ {
            WebhookType::ConfirmRollout => Phase::Waiting,
            WebhookType::ConfirmPromotion => Phase::WaitingPromotion,
            _ => Phase::Progressing,
        });
        if waiting_phase.is_some_and(|p| p != self.status.phase) {
            self.status.waiting_for = None;
        }
        Decision {
            status: self.status,
            actions: self.actions,
            events: self.events,
            requeue_after: self.requeue_after,
            needs: self.needs,
        }
    }

    /// The message of the phase, kept in the Promoted condition, replaces a
    /// message left by a pause in normal operation (suspension, missing target).
    pub fn restore_phase_message(&mut self) {
        let phase = conditions::phase_reason(self.status.phase);
        if let Some(c) = conditions::find(&self.status.conditions, PROMOTED)
            && c.reason == phase
            && !c.message.is_empty()
        {
            self.status.message = Some(c.message.clone());
        }
    }

    /// When the workload serin waits on must be ready by. A step only runs with
    /// the canary ready, so the last step restarts the clock: a canary that
    /// stops being ready mid-analysis gets a full deadline to recover.
    /// `": <detail>"` of a readiness wait once it has lasted [`DETAIL_AFTER`],
    /// else nothing, and a requeue for when it will have.
    ///
    /// Readiness details (generation observed, replicas updated) change with
    /// every status update of the Deployment; in the status message each one
    /// would cost a status write. A short wait is normal and says only what
    /// it waits for; a long one says why.
    pub fn wait_detail(&mut self, detail: &str) -> String {
        let started = ts(&self.status.progress_started_at);
        let stepped = ts(&self.status.last_step_time);
        let base = started.max(stepped).unwrap_or(self.now);
        let show_at = after(base, DETAIL_AFTER);
        if self.now >= show_at {
            format!(": {detail}")
        } else {
            self.requeue_at(show_at);
            String::new()
        }
    }

    pub fn deadline(&mut self, deadline: Duration) -> Timestamp {
        let started = ts(&self.status.progress_started_at);
        let stepped = ts(&self.status.last_step_time);
        let base = match (started, stepped) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                self.status.progress_started_at = Some(Time(self.now));
                self.now
            }
        };
        after(base, deadline)
    }
}

pub(super) fn ts(time: &Option<Time>) -> Option<Timestamp> {
    time.as_ref().map(|t| t.0)
}

pub(super) fn after(at: Timestamp, wait: Duration) -> Timestamp {
    at.saturating_add(wait).unwrap_or(Timestamp::MAX)
}

pub(super) fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(now.duration_until(at)).unwrap_or(Duration::ZERO)
}

/// Timestamps in messages, to the second so they read well and stay stable.
pub(super) fn show(at: Timestamp) -> String {
    format!("{at:.0}")
}
