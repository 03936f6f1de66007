//! Deletion: the target gets its traffic back before the Canary (and with it,
//! through owner references, the primary) goes away.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::REASON_TARGET_NOT_FOUND;
use super::settings;
use super::turn::{Turn, after, show, ts};
use super::{Action, Readiness, TargetState};
use crate::api::Phase;

pub(super) fn deleting(turn: &mut Turn<'_>) {
    if !turn.obs.has_finalizer {
        // Kubernetes deletes the object whatever we decide.
        return;
    }
    let target = turn.target_name();
    if turn.status.phase != Phase::Terminating {
        turn.set_phase(Phase::Terminating);
        turn.status.progress_started_at = Some(Time(turn.now));
        turn.normal(
            "Terminating",
            format!("Canary deleted: scaling {target} up and routing traffic to it before letting go"),
        );
    }

    let workload = match &turn.obs.target {
        TargetState::Found { workload, .. } => workload,
        TargetState::Missing => {
            let why = format!("Deployment {target:?} not found: nothing to revert; removing the finalizer");
            turn.act(Action::RemoveFinalizer);
            turn.warning(REASON_TARGET_NOT_FOUND, why.clone());
            turn.say(why.clone());
            turn.not_ready(REASON_TARGET_NOT_FOUND, why);
            return;
        }
    };

    turn.act(Action::RevertTarget);
    let started = ts(&turn.status.progress_started_at).unwrap_or(turn.now);
    let deadline = settings::progress_deadline(turn.spec);
    let deadline_at = after(started, deadline);

    let gave_up = match &workload.readiness {
        Readiness::Ready if workload.replicas > 0 => {
            turn.act(Action::RemoveFinalizer);
            let done = format!("{target} is ready and receives all traffic; removing the finalizer");
            turn.normal("Terminated", done.clone());
            turn.say(done);
            return;
        }
        Readiness::Failed(detail) => format!("{target} failed: {detail}"),
        _ if turn.now > deadline_at => format!(
            "{target} not ready {}s after the Canary was deleted",
            deadline.as_secs()
        ),
        Readiness::Ready => {
            turn.say(format!(
                "waiting for {target} to scale up before removing the finalizer"
            ));
            turn.requeue_at(deadline_at);
            return;
        }
        Readiness::Progressing(detail) => {
            turn.say(format!(
                "waiting for {target} to become ready before removing the finalizer: {detail}; \
                 giving up at {}",
                show(deadline_at)
            ));
            turn.requeue_at(deadline_at);
            return;
        }
    };
    turn.act(Action::RemoveFinalizer);
    let why = format!("revert incomplete: {gave_up}; removing the finalizer anyway");
    turn.warning("RevertIncomplete", why.clone());
    turn.say(why);
}
