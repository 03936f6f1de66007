//! The entry points: what happens before any phase logic (deletion,
//! suspension, the finalizer, a bad spec, a missing target), then the phase.

use jiff::Timestamp;

use super::annotations::PAUSE;
use super::conditions::{REASON_INVALID_SPEC, REASON_TARGET_NOT_FOUND};
use super::settings::{self, Settings};
use super::turn::{Target, Turn, after};
use super::{Action, Decision, Event, Observations, TargetState, progress, promote, steady, terminate};
use crate::api::{CanarySpec, CanaryStatus, Phase};

/// The next step of a Canary's rollout. Pure: everything it needs is passed in,
/// including the time, so the same inputs always give the same decision.
pub fn decide(spec: &CanarySpec, status: &CanaryStatus, obs: &Observations) -> Decision {
    let mut turn = Turn::new(spec, status, obs);

    // Deletion comes before suspension: a suspended Canary must still be deletable.
    if obs.deleting {
        terminate::deleting(&mut turn);
        return turn.finish();
    }
    if spec.suspend {
        return suspended(turn);
    }
    if !obs.has_finalizer {
        turn.act(Action::AddFinalizer);
    }

    let settings = match Settings::from_spec(spec) {
        Ok(settings) => settings,
        Err(error) => {
            blocked(&mut turn, REASON_INVALID_SPEC, format!("invalid spec: {error}"));
            return turn.finish();
        }
    };
    let TargetState::Found {
        revision,
        tracked_configs,
        workload,
    } = &obs.target
    else {
        let name = &spec.target_ref.name;
        let why = format!("Deployment {name:?} not found: create it or correct spec.targetRef");
        blocked(&mut turn, REASON_TARGET_NOT_FOUND, why);
        return turn.finish();
    };
    let target = Target {
        revision,
        configs: tracked_configs,
        workload,
    };

    turn.restore_phase_message();
    match status.phase {
        Phase::New | Phase::Initializing => steady::initialize(&mut turn, &settings, &target),
        // Terminating without a deletion timestamp cannot happen in Kubernetes;
        // the steady logic is the safe reading of it.
        Phase::Initialized | Phase::Succeeded | Phase::Failed | Phase::Waiting | Phase::Terminating => {
            steady::steady(&mut turn, &settings, &target)
        }
        Phase::Progressing | Phase::WaitingPromotion => progress::progress(&mut turn, &settings, &target),
        Phase::Promoting => promote::promoting(&mut turn, &settings),
        Phase::Finalising => promote::finalise(&mut turn),
    }

    if !matches!(turn.status.phase, Phase::Progressing | Phase::WaitingPromotion) {
        // Pause is tracked per analysis, so the next one reports it afresh.
        turn.status.handled_requests.remove(PAUSE);
    }
    turn.ignore_unhandled();
    turn.finish()
}

/// Whether the reconciler should run the checks of an analysis step now and
/// pass their result in `Observations::analysis`.
pub fn analysis_due(spec: &CanarySpec, status: &CanaryStatus, now: Timestamp) -> bool {
    if spec.suspend || spec.skip_analysis {
        return false;
    }
    if !matches!(status.phase, Phase::Progressing | Phase::WaitingPromotion) {
        return false;
    }
    let Ok(interval) = settings::interval(spec) else {
        return false;
    };
    status
        .last_step_time
        .as_ref()
        .is_none_or(|last| now >= after(last.0, interval))
}

const SUSPENDED: &str = "suspended: serin takes no action on this Canary until spec.suspend is unset";

/// Nothing changes but the bookkeeping, so the rollout resumes where it stood.
fn suspended(turn: Turn<'_>) -> Decision {
    let mut status = turn.status;
    let mut events = Vec::new();
    if status.message.as_deref() != Some(SUSPENDED) {
        events.push(Event {
            warning: false,
            reason: "Suspended".into(),
            message: SUSPENDED.into(),
        });
        status.message = Some(SUSPENDED.into());
    }
    Decision {
        status,
        actions: Vec::new(),
        events,
        requeue_after: None,
        needs: Vec::new(),
    }
}

/// The Canary cannot proceed until its spec or the cluster changes; a watch
/// brings us back, so no requeue. The warning is emitted once per cause.
fn blocked(turn: &mut Turn<'_>, reason: &'static str, why: String) {
    if turn.prev.message.as_deref() != Some(why.as_str()) {
        turn.warning(reason, why.clone());
    }
    turn.say(why.clone());
    turn.not_ready(reason, why);
}
