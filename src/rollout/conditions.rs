//! The `Promoted` and `Ready` status conditions.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{CanaryCondition, Phase};

pub const PROMOTED: &str = "Promoted";
pub const READY: &str = "Ready";

pub const REASON_TARGET_NOT_FOUND: &str = "TargetNotFound";
pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
pub const REASON_RESOLVED: &str = "Resolved";

/// `Promoted` as Flagger reports it: settled on success or failure, `Unknown` while anything runs.
pub fn promoted_status(phase: Phase) -> &'static str {
    match phase {
        Phase::Initialized | Phase::Succeeded => "True",
        Phase::Failed => "False",
        _ => "Unknown",
    }
}

/// Phase names double as condition reasons, which must not be empty.
pub fn phase_reason(phase: Phase) -> &'static str {
    match phase {
        Phase::New => "New",
        other => other.as_str(),
    }
}

pub fn find<'a>(conditions: &'a [CanaryCondition], type_: &str) -> Option<&'a CanaryCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Sets a condition, touching its timestamps only when something changed so an
/// unchanged decision writes an identical status.
pub fn set(
    conditions: &mut Vec<CanaryCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let existing = conditions.iter_mut().find(|c| c.type_ == type_);
    match existing {
        Some(c) if c.status == status && c.reason == reason && c.message == message => {}
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Some(Time(now));
            }
            c.status = status.to_string();
            c.reason = reason.to_string();
            c.message = message.to_string();
            c.last_update_time = Some(Time(now));
        }
        None => conditions.push(CanaryCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            last_transition_time: Some(Time(now)),
            last_update_time: Some(Time(now)),
        }),
    }
}
