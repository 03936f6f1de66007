//! Readiness of a Deployment, judged from its status alone.

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;

use crate::rollout::{Readiness, WorkloadState};

/// Whether `dep` has finished rolling out, with at least `ready_threshold_pct`
/// percent (clamped to 0..=100) of its updated replicas available.
pub fn deployment_readiness(dep: &Deployment, ready_threshold_pct: i32) -> Readiness {
    let name = dep.name_any();
    let status = dep.status.clone().unwrap_or_default();
    let generation = dep.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    // Everything else in status describes an older spec until the controller catches up,
    // including a stale ProgressDeadlineExceeded.
    if observed < generation {
        return Readiness::Progressing(format!(
            "waiting for the Deployment controller to observe generation {generation} of {name} \
             (observed {observed})"
        ));
    }
    let desired = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if desired == 0 {
        return Readiness::Progressing(format!("{name} is scaled to zero"));
    }
    let deadline_exceeded = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if let Some(condition) = deadline_exceeded {
        let detail = condition.message.as_deref().unwrap_or("no message");
        return Readiness::Failed(format!("{name} exceeded its progress deadline: {detail}"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < desired {
        return Readiness::Progressing(format!("{updated} of {desired} replicas of {name} updated"));
    }
    let total = status.replicas.unwrap_or(0);
    if total > updated {
        let old = total - updated;
        return Readiness::Progressing(format!(
            "{old} old replica{} of {name} pending termination",
            if old == 1 { "" } else { "s" }
        ));
    }
    let available = status.available_replicas.unwrap_or(0);
    let threshold = ready_threshold_pct.clamp(0, 100);
    let needed = (i64::from(updated) * i64::from(threshold) + 99) / 100;
    if i64::from(available) < needed {
        let of_needed = if needed < i64::from(updated) {
            format!(" (need {needed})")
        } else {
            String::new()
        };
        return Readiness::Progressing(format!(
            "{available} of {updated} updated replicas of {name} available{of_needed}"
        ));
    }
    Readiness::Ready
}

/// `dep` as the rollout decision sees it.
pub fn workload_state(dep: &Deployment, ready_threshold_pct: i32) -> WorkloadState {
    WorkloadState {
        readiness: deployment_readiness(dep, ready_threshold_pct),
        replicas: dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        available: dep
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
    }
}
