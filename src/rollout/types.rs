//! The contract between the reconciler and the pure rollout decision:
//! what the reconciler observed, and what the decision asks it to do.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::{CanaryStatus, WebhookType};

/// How ready a Deployment is, judged from its status alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Enough updated replicas are available (per the ready threshold).
    Ready,
    /// Still rolling out; the message says what is missing.
    Progressing(String),
    /// Kubernetes itself gave up (Deployment condition `ProgressDeadlineExceeded`).
    Failed(String),
}

/// A Deployment as the decision needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadState {
    pub readiness: Readiness,
    /// `spec.replicas` (0 when scaled to zero).
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// The target Deployment named by `spec.targetRef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    Missing,
    Found {
        /// Hash of the pod template and the tracked configs' checksums.
        revision: String,
        /// `configmap/<name>` / `secret/<name>` → checksum.
        tracked_configs: BTreeMap<String, String>,
        workload: WorkloadState,
    },
}

/// Operator requests read from the Canary's annotations (see [`crate::rollout::annotations`]).
/// Token-valued requests are carried out once per distinct value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatorRequests {
    /// `serin.dev/promote`: skip the rest of the analysis and promote now.
    pub promote: Option<String>,
    /// `serin.dev/abort`: roll back now.
    pub abort: Option<String>,
    /// `serin.dev/retry`: start the analysis of a failed revision again, without changing it.
    pub retry: Option<String>,
    /// `serin.dev/pause: "true"`: hold the rollout where it is (weights kept, no steps).
    pub paused: bool,
}

/// Outcome of the checks (metrics, webhooks) run for an analysis step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalysisResult {
    /// Failed checks, one message each; empty (and nothing held) means the step passed.
    pub failures: Vec<String>,
    /// Checks that could not be judged yet (no data with `noData: hold`, too little traffic):
    /// the step neither advances nor counts a failure, and is tried again one interval later.
    pub held: Vec<String>,
    /// Every metric as judged, recorded in `status.lastAnalysis`.
    pub checks: Vec<crate::api::MetricCheck>,
}

/// The answer of one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookResult {
    /// The webhook's `name`.
    pub name: String,
    /// Answered with a status of 202 or below. For a gate: open; for a rollback hook: roll back.
    pub passed: bool,
    /// What happened, for events and status: the status code and the start of the body, or the error.
    pub message: String,
}

/// Everything the reconciler observed for one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Observations {
    pub now: Timestamp,
    /// `metadata.generation` of the Canary.
    pub generation: Option<i64>,
    /// The Canary has a deletion timestamp.
    pub deleting: bool,
    /// The Canary carries serin's finalizer.
    pub has_finalizer: bool,
    pub target: TargetState,
    /// The `<target>-primary` Deployment; `None` while it does not exist.
    pub primary: Option<WorkloadState>,
    pub requests: OperatorRequests,
    /// Present only when the reconciler ran the checks of a due analysis step.
    pub analysis: Option<AnalysisResult>,
    /// Answers of the webhooks the decision asked for (see [`Decision::needs`]), by type.
    pub hooks: BTreeMap<WebhookType, Vec<HookResult>>,
}

/// Traffic split between primary and canary; the two always add up to 100.
///
/// With `analysis.match` (A/B), the weights apply to matching requests only:
/// every other request goes to the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    pub primary: i32,
    pub canary: i32,
    /// Copy the primary's requests to the canary (responses discarded), as far as
    /// `analysis.mirrorWeight` says; only routers that can mirror honour it.
    pub mirror: bool,
}

impl Weights {
    pub const ALL_PRIMARY: Weights = Weights {
        primary: 100,
        canary: 0,
        mirror: false,
    };

    pub fn canary(canary: i32) -> Self {
        let canary = canary.clamp(0, 100);
        Weights {
            primary: 100 - canary,
            canary,
            mirror: false,
        }
    }

    pub fn mirrored(self, mirror: bool) -> Self {
        Weights { mirror, ..self }
    }
}

/// Side effects the reconciler carries out, in order, before writing the new status.
/// Every action is idempotent: after a crash the same decision may be taken again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the primary Deployment, its config copies and HPA from the target, if missing.
    EnsurePrimary,
    /// Create or update the apex/primary/canary Services and the router's objects with these weights.
    ApplyRouting(Weights),
    /// Scale the target (canary) Deployment to zero.
    ScaleTargetToZero,
    /// Scale the target up (to the primary's replicas, or 1) so the canary runs.
    ScaleTargetUp,
    /// Copy the target's pod template and configs to the primary.
    PromoteToPrimary,
    /// Deletion with revertOnDeletion: scale the target back up and point routes/apex at it.
    RevertTarget,
    /// Add the revertOnDeletion finalizer.
    AddFinalizer,
    /// Remove the finalizer so the Canary can go.
    RemoveFinalizer,
    /// Call the post-rollout webhooks: the rollout ended (Succeeded or Failed).
    PostRollout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    /// Stable, CamelCase, e.g. `Promoted`, `RolledBack`, `TargetNotFound`.
    pub reason: String,
    pub message: String,
}

/// The result of one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: CanaryStatus,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    /// When to look again if nothing changes before; `None` waits for a change.
    pub requeue_after: Option<Duration>,
    /// Webhooks whose answers the decision needs but `Observations::hooks` lacks: the
    /// reconciler calls them and decides again. Until then the decision is incomplete.
    pub needs: Vec<WebhookType>,
}
