//! `spec.analysis`: how traffic moves to the new version and how each step
//! is judged.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DurationString, HttpMatch};

#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.stepWeight) || has(self.stepWeights) || has(self.iterations)").message("analysis needs stepWeight, stepWeights or iterations"),
    validation = Rule::new("!(has(self.stepWeight) && has(self.stepWeights))").message("set either stepWeight or stepWeights, not both")
)]
pub struct CanaryAnalysis {
    /// Time between analysis steps, e.g. `1m` or `30s`. Default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationString>,
    /// Failed checks (cumulative over the analysis) that make the canary roll back. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub threshold: Option<i32>,
    /// Highest canary weight before promotion. Default 100, or the last stepWeights entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_weight: Option<i32>,
    /// Weight added at each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step_weight: Option<i32>,
    /// Explicit weights for each step, strictly increasing, e.g. `[5, 10, 25, 50]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    #[x_kube(
        validation = Rule::new("size(self) > 0").message("stepWeights must not be empty"),
        validation = Rule::new("self.all(w, w >= 1 && w <= 100)").message("stepWeights entries must be between 1 and 100"),
        validation = Rule::new("self.isSorted() && self.all(w, self.indexOf(w) == self.lastIndexOf(w))").message("stepWeights must be strictly increasing")
    )]
    pub step_weights: Option<Vec<i32>>,
    /// After the analysis, move traffic back to the primary in steps of this size instead of at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step_weight_promotion: Option<i32>,
    /// Number of analysis steps for blue/green and A/B rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub iterations: Option<i32>,
    /// A/B conditions: only matching requests reach the canary.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub match_: Vec<HttpMatch>,
    /// Mirror traffic to the canary.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirror: bool,
    /// Percentage of traffic mirrored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub mirror_weight: Option<i32>,
    /// Percentage of the primary's replicas that must be available. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub primary_ready_threshold: Option<i32>,
    /// Percentage of the canary's replicas that must be available. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub canary_ready_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<CanaryMetric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<CanaryWebhook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<CanaryAlert>,
}

#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinity {
    #[schemars(length(min = 1))]
    pub cookie_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_cookie_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Cookie lifetime in seconds. Default 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
}

/// A metric checked at each step: a builtin (`request-success-rate`, `request-duration`), a MetricTemplate,
/// or an inline query.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.name in ['request-success-rate', 'request-duration'] || has(self.templateRef) || has(self.query)").message("a metric other than request-success-rate and request-duration needs templateRef or query"))]
pub struct CanaryMetric {
    #[schemars(length(min = 1))]
    pub name: String,
    /// Query window, e.g. `1m`. Default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationString>,
    /// Deprecated: minimum for request-success-rate, maximum otherwise. Prefer thresholdRange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_range: Option<ThresholdRange>,
    /// Deprecated: inline PromQL against the metrics server. Prefer templateRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<CrossNamespaceRef>,
    /// Values available to the template as `{{ variables.<key> }}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub template_variables: BTreeMap<String, String>,
    /// What an empty query result means: `fail` counts a failed check (Flagger's behaviour, the default),
    /// `hold` keeps the current step without counting a failure, `pass` treats the metric as passing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoDataPolicy>,
    /// Do not judge this metric until the canary has received at least this many requests within the
    /// metric's interval (counted with the provider's request counter); until then the step is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_requests: Option<i64>,
}

#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoDataPolicy {
    #[default]
    Fail,
    Hold,
    Pass,
}

#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("thresholdRange.min must not exceed thresholdRange.max"))]
pub struct ThresholdRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A reference to an object in the Canary's namespace, or another one.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CrossNamespaceRef {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(
    JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum WebhookType {
    #[default]
    #[serde(rename = "rollout", alias = "")]
    Rollout,
    #[serde(rename = "confirm-rollout")]
    ConfirmRollout,
    #[serde(rename = "pre-rollout")]
    PreRollout,
    #[serde(rename = "confirm-traffic-increase")]
    ConfirmTrafficIncrease,
    #[serde(rename = "confirm-promotion")]
    ConfirmPromotion,
    #[serde(rename = "post-rollout")]
    PostRollout,
    #[serde(rename = "rollback")]
    Rollback,
    #[serde(rename = "event")]
    Event,
}

impl WebhookType {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookType::Rollout => "rollout",
            WebhookType::ConfirmRollout => "confirm-rollout",
            WebhookType::PreRollout => "pre-rollout",
            WebhookType::ConfirmTrafficIncrease => "confirm-traffic-increase",
            WebhookType::ConfirmPromotion => "confirm-promotion",
            WebhookType::PostRollout => "post-rollout",
            WebhookType::Rollback => "rollback",
            WebhookType::Event => "event",
        }
    }

    /// Gates hold the rollout until they answer with success.
    pub fn is_gate(self) -> bool {
        matches!(
            self,
            WebhookType::ConfirmRollout | WebhookType::ConfirmTrafficIncrease | WebhookType::ConfirmPromotion
        )
    }
}

/// What happens when a gate has not opened by its deadline.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadlineAction {
    /// Give up the rollout: roll back (or, before it started, mark the revision Failed).
    #[default]
    Fail,
    /// Carry on as if the gate had opened.
    Proceed,
}

/// A webhook called during the rollout: load tests, acceptance tests, approval gates, notifications.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.deadline) || (has(self.type) && self.type in ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'])").message("deadline applies only to gates: confirm-rollout, confirm-traffic-increase and confirm-promotion webhooks"),
    validation = Rule::new("!has(self.onDeadline) || has(self.deadline)").message("onDeadline needs a deadline")
)]
pub struct CanaryWebhook {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default, rename = "type")]
    #[schemars(schema_with = "webhook_type_schema")]
    pub type_: WebhookType,
    #[schemars(length(min = 1))]
    pub url: String,
    /// Default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationString>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mute_alert: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub retries: Option<i32>,
    #[serde(default, rename = "disableTLS", skip_serializing_if = "std::ops::Not::not")]
    pub disable_tls: bool,
    /// Gates only: how long serin waits for this gate to open, counted from when the wait began, e.g.
    /// `30m`. Without it serin waits until the gate opens, as Flagger does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DurationString>,
    /// What happens when the deadline passes: `fail` (the default) rolls back, or fails a revision that
    /// has not started; `proceed` carries on as if the gate had opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deadline: Option<DeadlineAction>,
}

#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    #[default]
    Info,
    Warn,
    Error,
}

#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryAlert {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default)]
    pub severity: AlertSeverity,
    pub provider_ref: CrossNamespaceRef,
}

// Flagger's schema accepts an empty type as `rollout`; keep that so its manifests apply unchanged.
fn webhook_type_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": ["", "rollout", "confirm-rollout", "pre-rollout", "confirm-traffic-increase", "confirm-promotion",
                 "post-rollout", "rollback", "event"]
    })
}
