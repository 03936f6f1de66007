//! `Canary.status`: all rollout state lives here, so a restarted controller
//! resumes exactly where it stopped.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::WebhookType;

/// Where a Canary is in its life, with Flagger's names.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Never reconciled yet.
    #[default]
    #[serde(rename = "")]
    New,
    /// The primary is being created.
    Initializing,
    /// The primary runs the target's spec and receives all traffic; the target is at zero.
    Initialized,
    /// A new revision waits for a confirm-rollout gate.
    Waiting,
    /// The analysis of a new revision is running.
    Progressing,
    /// The analysis finished and waits for a confirm-promotion gate.
    WaitingPromotion,
    /// The canary's spec is copied to the primary and traffic returns to it.
    Promoting,
    /// Traffic is on the primary again; the canary is being scaled to zero.
    Finalising,
    /// The last revision was promoted.
    Succeeded,
    /// The last revision was rolled back (or its promotion failed).
    Failed,
    /// The Canary is being deleted and its changes reverted.
    Terminating,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::New => "",
            Phase::Initializing => "Initializing",
            Phase::Initialized => "Initialized",
            Phase::Waiting => "Waiting",
            Phase::Progressing => "Progressing",
            Phase::WaitingPromotion => "WaitingPromotion",
            Phase::Promoting => "Promoting",
            Phase::Finalising => "Finalising",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Terminating => "Terminating",
        }
    }

    /// Phases in which a rollout is under way and traffic may be split.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Phase::Progressing | Phase::WaitingPromotion | Phase::Promoting | Phase::Finalising
        )
    }
}

#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    #[serde(default)]
    pub phase: Phase,
    /// Generation of the spec this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Percentage of traffic on the canary.
    #[serde(default)]
    pub canary_weight: i32,
    /// Failed checks in the current analysis, cumulative.
    #[serde(default)]
    pub failed_checks: i32,
    /// Analysis steps taken in the current blue/green or A/B analysis.
    #[serde(default)]
    pub iterations: i32,
    /// Revision (pod template and tracked configs) under rollout or last seen.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_applied_spec: String,
    /// Revision the primary runs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_promoted_spec: String,
    /// `configmap/<name>` and `secret/<name>` referenced by the target, with checksums of their data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tracked_configs: BTreeMap<String, String>,
    /// When the phase last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// When the last analysis step ran; the next one is due one interval later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_time: Option<Time>,
    /// When the workload serin is waiting on (canary or primary) was last changed; the progress deadline
    /// counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_started_at: Option<Time>,
    /// Why the Canary is in its phase, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Operator requests (annotations) already carried out, by annotation name, so a restart does not
    /// repeat them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub handled_requests: BTreeMap<String, String>,
    /// Revision last copied to the primary; a revision is promoted at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CanaryCondition>,
    /// The checks of the last analysis step: why serin advanced, held or rolled back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_analysis: Vec<MetricCheck>,
    /// The gate the rollout is waiting on, since when, and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<GateWait>,
}

/// A rollout held by gate webhooks that have not opened yet.
#[derive(JsonSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateWait {
    /// `confirm-rollout`, `confirm-traffic-increase` or `confirm-promotion`.
    #[serde(rename = "type")]
    pub type_: WebhookType,
    /// The gates of that type that are still closed.
    pub webhooks: Vec<String>,
    /// When the wait began.
    pub since: Time,
    /// When the earliest deadline of those gates passes, if any has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Time>,
}

/// One metric as judged at an analysis step.
#[derive(JsonSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricCheck {
    pub name: String,
    /// The value the query returned; absent when it returned none or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    pub verdict: Verdict,
    /// What was found, in words: the value against its range, or what went wrong.
    pub message: String,
    pub time: Time,
}

#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Within range (or no data with `noData: pass`).
    Pass,
    /// Out of range, a query error, or no data with `noData: fail`: counts as a failed check.
    Fail,
    /// Not judged yet (no data with `noData: hold`, or below `minRequests`): the step waits.
    Hold,
}

#[derive(JsonSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryCondition {
    /// `Promoted` (as in Flagger) or `Ready` (the spec is valid and its references resolve).
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
}
