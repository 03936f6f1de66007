//! Label sets of the series, and how a phase is encoded in them.

use prometheus_client::encoding::EncodeLabelSet;

use crate::api::{Phase, WebhookType};

/// Every phase, so `serin_canary_phase` can publish a 0 for each phase a canary is not in.
pub(super) const PHASES: [Phase; 11] = [
    Phase::New,
    Phase::Initializing,
    Phase::Initialized,
    Phase::Waiting,
    Phase::Progressing,
    Phase::WaitingPromotion,
    Phase::Promoting,
    Phase::Finalising,
    Phase::Succeeded,
    Phase::Failed,
    Phase::Terminating,
];

/// The phase as a label value. `Phase::New` serialises as "" in the API, but an empty label value is
/// the same as no label in Prometheus, so it is published as "New". The match is exhaustive on purpose:
/// a new phase fails to compile here, a reminder to add it to `PHASES`.
pub(super) fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::New => "New",
        Phase::Initializing
        | Phase::Initialized
        | Phase::Waiting
        | Phase::Progressing
        | Phase::WaitingPromotion
        | Phase::Promoting
        | Phase::Finalising
        | Phase::Succeeded
        | Phase::Failed
        | Phase::Terminating => phase.as_str(),
    }
}

/// Flagger's `flagger_canary_status` encoding: 0 Progressing, 2 Failed, 1 for anything else.
pub(super) fn flagger_status(phase: Phase) -> i64 {
    match phase {
        Phase::Progressing => 0,
        Phase::Failed => 2,
        _ => 1,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct InfoLabels {
    pub(super) version: String,
    pub(super) mesh_provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct NamespaceLabels {
    pub(super) namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CanaryLabels {
    pub(super) name: String,
    pub(super) namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WorkloadLabels {
    pub(super) workload: String,
    pub(super) namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MetricLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) deployment_strategy: String,
    pub(super) analysis_status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PhaseLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TransitionLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) from: &'static str,
    pub(super) to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    pub(super) reason: String,
}

pub(super) fn ns_labels(namespace: &str) -> NamespaceLabels {
    NamespaceLabels {
        namespace: namespace.to_string(),
    }
}

pub(super) fn canary_labels(namespace: &str, name: &str) -> CanaryLabels {
    CanaryLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
    }
}

pub(super) fn weight_labels(namespace: &str, name: &str) -> [WorkloadLabels; 2] {
    [format!("{name}-primary"), name.to_string()].map(|workload| WorkloadLabels {
        workload,
        namespace: namespace.to_string(),
    })
}

pub(super) fn metric_labels(namespace: &str, name: &str, metric: &str) -> MetricLabels {
    MetricLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        metric: metric.to_string(),
    }
}

pub(super) fn outcome_labels(namespace: &str, name: &str, strategy: &str, status: &str) -> OutcomeLabels {
    OutcomeLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        deployment_strategy: strategy.to_string(),
        analysis_status: status.to_string(),
    }
}

pub(super) fn phase_labels(namespace: &str, name: &str, phase: Phase) -> PhaseLabels {
    PhaseLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        phase: phase_label(phase),
    }
}

pub(super) fn transition_labels(namespace: &str, name: &str, from: Phase, to: Phase) -> TransitionLabels {
    TransitionLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        from: phase_label(from),
        to: phase_label(to),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WebhookLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    /// The webhook type, e.g. `confirm-promotion`.
    pub(super) webhook_type: &'static str,
}

/// Every webhook type, so `forget` can remove each series a canary may have.
pub(super) const WEBHOOK_TYPES: [WebhookType; 8] = [
    WebhookType::Rollout,
    WebhookType::ConfirmRollout,
    WebhookType::PreRollout,
    WebhookType::ConfirmTrafficIncrease,
    WebhookType::ConfirmPromotion,
    WebhookType::PostRollout,
    WebhookType::Rollback,
    WebhookType::Event,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WebhookCallLabels {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) webhook_type: &'static str,
    /// `success` (status 202 or below) or `failure`.
    pub(super) result: &'static str,
}

pub(super) fn webhook_labels(namespace: &str, name: &str, kind: WebhookType) -> WebhookLabels {
    WebhookLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        webhook_type: kind.as_str(),
    }
}

pub(super) fn webhook_call_labels(
    namespace: &str,
    name: &str,
    kind: WebhookType,
    result: &'static str,
) -> WebhookCallLabels {
    WebhookCallLabels {
        name: name.to_string(),
        namespace: namespace.to_string(),
        webhook_type: kind.as_str(),
        result,
    }
}
