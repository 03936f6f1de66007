//! Leaving the analysis: promotion (Promoting, Finalising) or rollback.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::annotations::RETRY;
use super::settings::Settings;
use super::turn::{Turn, after, show, ts};
use super::{Action, Readiness, Weights};
use crate::api::Phase;

pub(super) fn enter_promoting(turn: &mut Turn<'_>, settings: &Settings, why: String) {
    turn.set_phase(Phase::Promoting);
    turn.status.progress_started_at = Some(Time(turn.now));
    // The first shift of traffic back to the primary may happen as soon as it is ready.
    turn.status.last_step_time = None;
    let rev = turn.status.last_applied_spec.clone();
    // A revision is copied to the primary once; retrying a failed promotion
    // waits for the copy already made.
    if turn.status.promoted_revision.as_deref() != Some(rev.as_str()) {
        turn.act(Action::PromoteToPrimary);
        turn.status.promoted_revision = Some(rev.clone());
    }
    let current = turn.current_weights();
    turn.route(current);
    let (target, primary) = (turn.target_name(), turn.primary_name());
    turn.normal(
        "Promoting",
        format!("{why}: copying {target} template to {primary}"),
    );
    let deadline_at = after(turn.now, settings.progress_deadline);
    turn.say(format!(
        "promoting revision {rev}: waiting for {primary} to become ready; fails at {}",
        show(deadline_at)
    ));
    turn.requeue_at(deadline_at);
}

pub(super) fn promoting(turn: &mut Turn<'_>, settings: &Settings) {
    let primary = turn.primary_name();
    let rev = turn.status.last_applied_spec.clone();
    let deadline_at = turn.deadline(settings.progress_deadline);
    let detail = match turn.obs.primary.as_ref() {
        Some(p) if p.readiness == Readiness::Ready && p.replicas > 0 => {
            return shift_to_primary(turn, settings);
        }
        Some(p) => match &p.readiness {
            Readiness::Failed(detail) => {
                return promotion_failed(turn, format!("{primary} failed: {detail}"));
            }
            Readiness::Progressing(detail) => detail.clone(),
            Readiness::Ready => "scaled to zero".to_string(),
        },
        None => "it does not exist".to_string(),
    };
    if turn.now > deadline_at {
        let secs = settings.progress_deadline.as_secs();
        return promotion_failed(turn, format!("{primary} not ready after {secs}s: {detail}"));
    }
    let current = turn.current_weights();
    turn.route(current);
    let detail = turn.wait_detail(&detail);
    turn.say(format!(
        "promoting revision {rev}: waiting for {primary} to become ready{detail}; fails at {}",
        show(deadline_at)
    ));
    turn.requeue_at(deadline_at);
}

/// Traffic returns to the now-ready primary, at once or in
/// `stepWeightPromotion` steps, one per interval.
fn shift_to_primary(turn: &mut Turn<'_>, settings: &Settings) {
    let weight = turn.status.canary_weight;
    let step = match settings.step_weight_promotion {
        Some(step) if weight > 0 => step,
        _ => {
            turn.status.canary_weight = 0;
            turn.route(Weights::ALL_PRIMARY);
            return enter_finalising(turn);
        }
    };
    let next_at = ts(&turn.status.last_step_time).map(|last| after(last, settings.interval));
    let primary = turn.primary_name();
    if next_at.is_none_or(|at| turn.now >= at) {
        let next = (weight - step).max(0);
        turn.status.canary_weight = next;
        turn.status.last_step_time = Some(Time(turn.now));
        turn.route(Weights::canary(next));
        turn.normal("Advanced", format!("Advance primary weight to {}", 100 - next));
        if next == 0 {
            return enter_finalising(turn);
        }
    } else {
        turn.route(Weights::canary(weight));
    }
    let next_at = ts(&turn.status.last_step_time).map_or(turn.now, |last| after(last, settings.interval));
    turn.say(format!(
        "promoting revision {}: {primary} is ready and gets {}% of the traffic; next shift at {}",
        turn.status.last_applied_spec,
        100 - turn.status.canary_weight,
        show(next_at)
    ));
    turn.requeue_at(next_at);
}

fn enter_finalising(turn: &mut Turn<'_>) {
    turn.set_phase(Phase::Finalising);
    let (target, primary) = (turn.target_name(), turn.primary_name());
    turn.normal(
        "Finalising",
        format!("Routing all traffic to {primary}; scaling {target} down next"),
    );
    turn.say(format!(
        "finalising: {primary} receives all traffic; scaling {target} to zero"
    ));
    // Nothing to wait for: scaling down can follow right away.
    turn.requeue_now();
}

pub(super) fn finalise(turn: &mut Turn<'_>) {
    turn.route(Weights::ALL_PRIMARY);
    turn.act(Action::ScaleTargetToZero);
    turn.set_phase(Phase::Succeeded);
    turn.act(Action::PostRollout);
    turn.status.last_promoted_spec = turn.status.last_applied_spec.clone();
    turn.status.canary_weight = 0;
    turn.status.iterations = 0;
    let (target, primary) = (turn.target_name(), turn.primary_name());
    let rev = turn.status.last_promoted_spec.clone();
    turn.normal(
        "Succeeded",
        format!("Promotion completed: {primary} runs revision {rev}; {target} scaled to zero"),
    );
    turn.say(format!("revision {rev} promoted: {primary} receives all traffic"));
}

/// The primary did not become ready with the promoted revision. The canary
/// runs the revision that passed the analysis, so it is the safest place for
/// the traffic until someone looks.
fn promotion_failed(turn: &mut Turn<'_>, detail: String) {
    turn.set_phase(Phase::Failed);
    turn.status.canary_weight = 100;
    turn.route(Weights::canary(100));
    let (target, primary) = (turn.target_name(), turn.primary_name());
    let why = format!(
        "promotion failed: primary not ready: {detail}. All traffic goes to {target}, which runs the analysed \
         revision {}; fix {primary}, then set {RETRY} to a new value to finish the promotion",
        turn.status.last_applied_spec
    );
    turn.warning("PromotionFailed", why.clone());
    turn.say(why);
}

pub(super) fn rollback(turn: &mut Turn<'_>, why: String) {
    turn.route(Weights::ALL_PRIMARY);
    turn.act(Action::ScaleTargetToZero);
    turn.set_phase(Phase::Failed);
    turn.act(Action::PostRollout);
    turn.status.canary_weight = 0;
    turn.status.iterations = 0;
    let primary = turn.primary_name();
    let (rev, promoted) = (&turn.status.last_applied_spec, &turn.status.last_promoted_spec);
    let why = format!(
        "rolled back revision {rev}: {why}. {primary} keeps serving revision {promoted}; \
         change the target or set {RETRY} to a new value to try again"
    );
    turn.warning("RolledBack", why.clone());
    turn.say(why);
}
