//! Initialization, and the phases between rollouts (Initialized, Succeeded,
//! Failed, Waiting) where serin watches for a new revision.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::annotations::{ABORT, PROMOTE, RETRY};
use super::gates::{Gate, gate};
use super::settings::Settings;
use super::turn::{Target, Turn, after, show, ts};
use super::{Action, Readiness, Weights, promote};
use crate::api::{Phase, WebhookType};

pub(super) fn initialize(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let entering = turn.status.phase != Phase::Initializing;
    if entering {
        turn.set_phase(Phase::Initializing);
        turn.status.progress_started_at = Some(Time(turn.now));
    }
    turn.act(Action::EnsurePrimary);
    turn.route(Weights::ALL_PRIMARY);

    let primary = turn.primary_name();
    if let Some(token) = turn.fresh(ABORT) {
        turn.handle(ABORT, token);
        return initialization_failed(turn, target, format!("aborted by {ABORT}={token}"));
    }
    let started = ts(&turn.status.progress_started_at).unwrap_or(turn.now);
    let deadline_at = after(started, settings.progress_deadline);
    let readiness = turn.obs.primary.as_ref().map(|p| &p.readiness);
    match readiness {
        Some(Readiness::Ready) => {
            turn.act(Action::ScaleTargetToZero);
            turn.set_phase(Phase::Initialized);
            adopt_revision(turn, target);
            turn.status.last_promoted_spec = target.revision.to_string();
            reset_counters(turn);
            let rev = target.revision;
            let done = format!("initialized: {primary} runs revision {rev} and receives all traffic");
            turn.normal(
                "Initialized",
                format!("Initialization done: {primary} runs revision {rev}"),
            );
            turn.say(done);
        }
        Some(Readiness::Failed(detail)) => {
            initialization_failed(turn, target, format!("{primary} failed: {detail}"));
        }
        _ if turn.now > deadline_at => {
            let secs = settings.progress_deadline.as_secs();
            initialization_failed(
                turn,
                target,
                format!("progress deadline exceeded: {primary} not ready after {secs}s"),
            );
        }
        other => {
            let detail = match other {
                Some(Readiness::Progressing(detail)) => detail.as_str(),
                _ => "it does not exist yet",
            };
            if entering {
                let target_name = turn.target_name();
                turn.normal("Initializing", format!("Creating {primary} from {target_name}"));
            }
            let detail = turn.wait_detail(detail);
            turn.say(format!(
                "initializing: waiting for {primary} to become ready{detail}; fails at {}",
                show(deadline_at)
            ));
            turn.requeue_at(deadline_at);
        }
    }
}

/// `last_promoted_spec` stays empty, which tells the steady logic that the
/// primary was never confirmed and the next attempt must initialize again.
fn initialization_failed(turn: &mut Turn<'_>, target: &Target<'_>, why: String) {
    turn.set_phase(Phase::Failed);
    adopt_revision(turn, target);
    let primary = turn.primary_name();
    let why = format!(
        "initialization failed: {why}. Fix {primary}, then set {RETRY} to a new value or change the target"
    );
    turn.warning("InitializationFailed", why.clone());
    turn.say(why);
}

pub(super) fn steady(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let rev = target.revision;
    if turn.status.message.is_none() {
        let message = steady_message(turn);
        turn.say(message);
    }
    if turn.status.last_promoted_spec.is_empty() {
        return never_initialized(turn, settings, target);
    }
    // Only a failed promotion leaves traffic on the canary between rollouts:
    // the primary may be broken, the canary runs the analysed revision.
    let failed_promotion = turn.status.phase == Phase::Failed && turn.status.canary_weight > 0;
    // Going back to the promoted revision is a no-op only while the primary
    // runs it, which a failed promotion has changed.
    let is_new =
        rev != turn.status.last_applied_spec && (failed_promotion || rev != turn.status.last_promoted_spec);

    if is_new {
        let primary_ready = matches!(
            turn.obs.primary.as_ref().map(|p| &p.readiness),
            Some(Readiness::Ready)
        );
        if !failed_promotion || primary_ready {
            return confirm_rollout(turn, settings, target);
        }
        let primary = turn.primary_name();
        turn.say(format!(
            "new revision {rev} waits: {primary} has not been ready since the failed promotion, \
             so the analysis cannot start. Fix {primary}"
        ));
    } else if turn.status.phase == Phase::Waiting {
        // The revision that waited is gone: the primary still runs the promoted one.
        turn.set_phase(Phase::Initialized);
        adopt_revision(turn, target);
        let why =
            format!("the revision waiting for confirm-rollout was withdrawn; the target is back at {rev}");
        turn.normal("RevisionReverted", why.clone());
        turn.say(why);
    } else if rev == turn.status.last_promoted_spec && rev != turn.status.last_applied_spec {
        // The target was put back to what the primary runs: nothing to roll out.
        adopt_revision(turn, target);
        let why = format!("the target was reverted to the promoted revision {rev}: nothing to roll out");
        turn.normal("RevisionReverted", why.clone());
        turn.say(why);
    }

    if turn.status.phase == Phase::Failed
        && turn.status.last_applied_spec != turn.status.last_promoted_spec
        && let Some(token) = turn.fresh(RETRY)
    {
        turn.handle(RETRY, token);
        if failed_promotion {
            return promote::enter_promoting(turn, settings, format!("Retry requested by {RETRY}={token}"));
        }
        let applied = turn.status.last_applied_spec.clone();
        let why =
            format!("Retry requested by {RETRY}={token}: restarting the analysis of revision {applied}");
        return start_analysis(turn, settings, target, "Progressing", why);
    }
    let current = turn.current_weights();
    turn.route(current);
}

/// A new revision starts its analysis once its confirm-rollout gates open.
fn confirm_rollout(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let rev = target.revision;
    if turn.status.phase == Phase::Waiting
        && let Some(token) = turn.fresh(ABORT)
    {
        turn.handle(ABORT, token);
        return not_rolled_out(turn, target, format!("aborted by {ABORT}={token} while waiting"));
    }
    match gate(turn, settings, WebhookType::ConfirmRollout) {
        Gate::Pending => {}
        Gate::Open => {
            let why = format!("New revision {rev} detected, starting canary analysis");
            start_analysis(turn, settings, target, "Progressing", why);
        }
        Gate::Closed => {
            turn.set_phase(Phase::Waiting);
            let names = turn
                .status
                .waiting_for
                .as_ref()
                .map(|w| w.webhooks.join(", "))
                .unwrap_or_default();
            turn.say(format!(
                "revision {rev} waits for confirm-rollout gate {names} before its analysis starts"
            ));
            let current = turn.current_weights();
            turn.route(current);
        }
        Gate::Expired(why) => not_rolled_out(turn, target, why),
    }
}

/// The revision never started its analysis: it is marked Failed so it is not
/// tried again until it changes or someone asks for a retry.
fn not_rolled_out(turn: &mut Turn<'_>, target: &Target<'_>, why: String) {
    turn.set_phase(Phase::Failed);
    adopt_revision(turn, target);
    let primary = turn.primary_name();
    let (rev, promoted) = (target.revision, &turn.status.last_promoted_spec);
    let why = format!(
        "revision {rev} not rolled out: {why}. {primary} keeps serving revision {promoted}; change the target \
         or set {RETRY} to a new value to start its analysis"
    );
    turn.warning("RolloutNotConfirmed", why.clone());
    turn.say(why);
    let current = turn.current_weights();
    turn.route(current);
}

/// For a status that carries no message of its own (one written by an older
/// controller, say), so the user still reads why the Canary is where it is.
fn steady_message(turn: &Turn<'_>) -> String {
    let s = &turn.status;
    let primary = turn.primary_name();
    let (applied, promoted) = (&s.last_applied_spec, &s.last_promoted_spec);
    match s.phase {
        Phase::Failed => format!(
            "revision {applied} failed; {primary} keeps serving revision {promoted}. Change the target or set \
             {RETRY} to a new value to try again"
        ),
        Phase::Waiting => format!("revision {applied} waits for the analysis to start"),
        _ => format!("revision {promoted} promoted: {primary} receives all traffic"),
    }
}

fn never_initialized(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let changed = target.revision != turn.status.last_applied_spec;
    if let Some(token) = turn.fresh(RETRY) {
        turn.handle(RETRY, token);
        turn.normal(
            "RetryRequested",
            format!("Retry requested by {RETRY}={token}: initializing again"),
        );
    } else if !changed {
        let current = turn.current_weights();
        return turn.route(current);
    }
    initialize(turn, settings, target);
}

/// Starts (or restarts) the analysis of the target's revision from weight 0.
pub(super) fn start_analysis(
    turn: &mut Turn<'_>,
    settings: &Settings,
    target: &Target<'_>,
    reason: &str,
    why: String,
) {
    turn.set_phase(Phase::Progressing);
    adopt_revision(turn, target);
    reset_counters(turn);
    turn.status.progress_started_at = Some(Time(turn.now));
    turn.status.last_step_time = None;
    turn.status.waiting_for = None;
    turn.act(Action::ScaleTargetUp);
    turn.route(Weights::ALL_PRIMARY);
    turn.normal(reason, why);
    let target_name = turn.target_name();
    turn.say(format!(
        "analysing revision {}: waiting for the canary {target_name} to become ready",
        target.revision
    ));
    turn.requeue_at(after(turn.now, settings.progress_deadline));
    // A promote request made together with the change is meant for this rollout.
    turn.defer(PROMOTE);
}

fn adopt_revision(turn: &mut Turn<'_>, target: &Target<'_>) {
    turn.status.last_applied_spec = target.revision.to_string();
    turn.status.tracked_configs = target.configs.clone();
}

pub(super) fn reset_counters(turn: &mut Turn<'_>) {
    turn.status.canary_weight = 0;
    turn.status.failed_checks = 0;
    turn.status.iterations = 0;
}
