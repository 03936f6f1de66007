//! The analysis: Progressing, and WaitingPromotion while confirm-promotion
//! gates are closed (the analysis keeps running meanwhile).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::annotations::{ABORT, PAUSE, PROMOTE};
use super::decide::analysis_due;
use super::gates::{Gate, check_hooks, gate, rollback_requested};
use super::promote::{enter_promoting, rollback};
use super::settings::{Settings, Strategy};
use super::steady::{reset_counters, start_analysis};
use super::turn::{Target, Turn, after, show, ts};
use super::{Action, AnalysisResult, Readiness, Weights};
use crate::api::{Phase, WebhookType};

pub(super) fn progress(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let rev = target.revision;
    if rev != turn.status.last_applied_spec {
        if rev == turn.status.last_promoted_spec {
            return cancel(turn, target);
        }
        let why = format!("Restarting analysis: new revision {rev}");
        return start_analysis(turn, settings, target, "Restarted", why);
    }
    if let Some(token) = turn.fresh(ABORT) {
        turn.handle(ABORT, token);
        return rollback(turn, format!("aborted by {ABORT}={token}"));
    }

    let canary = target.workload;
    let canary_ready = canary.readiness == Readiness::Ready && canary.replicas > 0;
    // An explicit promote outranks a pause: the operator asked for exactly this.
    if canary_ready && let Some(token) = turn.fresh(PROMOTE) {
        turn.handle(PROMOTE, token);
        return enter_promoting(
            turn,
            settings,
            format!("Promotion requested by {PROMOTE}={token}"),
        );
    }
    // Until the canary is ready, a promote request waits for it.
    turn.defer(PROMOTE);

    let paused = turn.obs.requests.paused;
    track_pause(turn, paused);
    if paused {
        let current = if canary_ready {
            analysis_route(turn, settings)
        } else {
            turn.current_weights()
        };
        turn.route(current);
        turn.say(format!(
            "paused by {PAUSE} at canary weight {}%: remove the annotation to resume",
            current.canary
        ));
        return;
    }

    if !canary_ready {
        return wait_for_canary(turn, settings, target);
    }
    if turn.spec.skip_analysis {
        return enter_promoting(turn, settings, "Analysis skipped (spec.skipAnalysis)".into());
    }
    if turn.status.failed_checks >= settings.threshold {
        let why = format!(
            "failed checks threshold reached {}/{}",
            turn.status.failed_checks, settings.threshold
        );
        return rollback(turn, why);
    }

    let due = analysis_due(turn.spec, &turn.status, turn.now);
    let waiting_promotion = turn.status.phase == Phase::WaitingPromotion;
    if due || waiting_promotion {
        match rollback_requested(turn) {
            None => return,
            Some(Some(name)) => return rollback(turn, format!("rollback requested by webhook {name}")),
            Some(None) => {}
        }
    }
    match &turn.obs.analysis {
        Some(result) if due => step(turn, settings, result),
        _ if waiting_promotion => finish_analysis(turn, settings, "confirm-promotion gate opened".into()),
        _ => {
            let route = analysis_route(turn, settings);
            turn.route(route);
            turn.say(progress_message(turn, settings));
            let next = next_step_at(turn, settings);
            turn.requeue_at(next);
        }
    }
}

fn wait_for_canary(turn: &mut Turn<'_>, settings: &Settings, target: &Target<'_>) {
    let canary = target.workload;
    let name = turn.target_name();
    let deadline_at = turn.deadline(settings.progress_deadline);
    let detail = match &canary.readiness {
        Readiness::Failed(detail) => {
            return rollback(
                turn,
                format!("progress deadline exceeded: canary {name} failed: {detail}"),
            );
        }
        Readiness::Progressing(detail) => detail.clone(),
        Readiness::Ready => "scaled to zero".to_string(),
    };
    if turn.now > deadline_at {
        let secs = settings.progress_deadline.as_secs();
        let why = format!("progress deadline exceeded: canary {name} not ready after {secs}s: {detail}");
        return rollback(turn, why);
    }
    if canary.replicas == 0 {
        // Something (an HPA, a GitOps sync) scaled the canary down mid-analysis.
        turn.act(Action::ScaleTargetUp);
    }
    let current = turn.current_weights();
    turn.route(current);
    let detail = turn.wait_detail(&detail);
    turn.say(format!(
        "analysing revision {}: waiting for the canary {name} to become ready{detail}; \
         rollback at {}",
        target.revision,
        show(deadline_at)
    ));
    turn.requeue_at(deadline_at);
}

fn step(turn: &mut Turn<'_>, settings: &Settings, metrics: &AnalysisResult) {
    let Some(result) = with_webhooks(turn, metrics) else {
        return;
    };
    turn.status.last_step_time = Some(Time(turn.now));
    turn.status.last_analysis = result.checks.clone();
    let weight = turn.status.canary_weight;
    // Before the first increase the canary gets only traffic sent to it
    // directly (a load test), if any: a check with nothing to judge yet must
    // not hold it at 0%, where it could never get the traffic it waits for.
    // What can be judged still counts; at later steps a hold waits.
    let before_any_traffic = weight == 0 && settings.strategy == Strategy::Canary;
    if result.failures.is_empty() && !result.held.is_empty() && !before_any_traffic {
        // Nothing failed but something could not be judged: wait an interval
        // at the same weight, without counting a failure.
        let detail = result.held.join("; ");
        turn.normal("Held", format!("Hold at canary weight {weight}%: {detail}"));
        turn.say(format!("holding at canary weight {weight}%: {detail}"));
        let route = analysis_route(turn, settings);
        turn.route(route);
        turn.requeue_at(next_step_at(turn, settings));
        return;
    }
    if !result.failures.is_empty() {
        turn.status.failed_checks += 1;
        let (failed, threshold) = (turn.status.failed_checks, settings.threshold);
        let detail = result.failures.join("; ");
        if failed >= threshold {
            return rollback(
                turn,
                format!("failed checks threshold reached {failed}/{threshold}: {detail}"),
            );
        }
        turn.warning(
            "CheckFailed",
            format!(
                "Halt advancement at canary weight {weight}%: {detail} (failed checks {failed}/{threshold})"
            ),
        );
        let route = analysis_route(turn, settings);
        turn.route(route);
    } else {
        match settings.strategy {
            Strategy::Canary if weight < settings.max_weight => {
                match gate(turn, settings, WebhookType::ConfirmTrafficIncrease) {
                    Gate::Pending => return,
                    Gate::Expired(why) => return rollback(turn, why),
                    Gate::Closed => {
                        let route = analysis_route(turn, settings);
                        turn.route(route);
                    }
                    Gate::Open => {
                        let next = settings.next_weight(weight);
                        turn.status.canary_weight = next;
                        let route = analysis_route(turn, settings);
                        turn.route(route);
                        let mut message = format!("Advance canary weight to {next}");
                        if !result.held.is_empty() {
                            let held = result.held.join("; ");
                            message.push_str(&format!(" (not judged before any traffic: {held})"));
                        }
                        turn.normal("Advanced", message);
                    }
                }
            }
            Strategy::Canary => {
                let why = format!("Analysis passed at canary weight {weight}%");
                return finish_analysis(turn, settings, why);
            }
            Strategy::BlueGreen { iterations } => {
                turn.status.iterations += 1;
                let done = turn.status.iterations;
                if done >= iterations {
                    let why = format!("Analysis passed after {done} iterations");
                    return finish_analysis(turn, settings, why);
                }
                turn.normal("Advanced", format!("Advance iteration {done}/{iterations}"));
                let route = analysis_route(turn, settings);
                turn.route(route);
            }
        }
    }
    turn.say(progress_message(turn, settings));
    turn.requeue_at(after(turn.now, settings.interval));
}

/// The metrics' verdicts joined by those of the pre-rollout (first step only)
/// and rollout webhooks; `None` until the webhooks have answered.
fn with_webhooks(turn: &mut Turn<'_>, metrics: &AnalysisResult) -> Option<AnalysisResult> {
    let mut result = AnalysisResult::default();
    let first = turn.status.canary_weight == 0 && turn.status.iterations == 0;
    if first && turn.status.phase == Phase::Progressing {
        let (failures, checks) = check_hooks(turn, WebhookType::PreRollout)?;
        result.failures.extend(failures);
        result.checks.extend(checks);
    }
    // As in Flagger, a failed pre-rollout check ends the step: the load tests
    // of the rollout webhooks would only run against a broken canary.
    if result.failures.is_empty() {
        let (failures, checks) = check_hooks(turn, WebhookType::Rollout)?;
        result.failures.extend(failures);
        result.checks.extend(checks);
    }
    result.failures.extend(metrics.failures.iter().cloned());
    result.held.extend(metrics.held.iter().cloned());
    result.checks.extend(metrics.checks.iter().cloned());
    Some(result)
}

/// The analysis passed: promote once the confirm-promotion gates open,
/// meanwhile wait in WaitingPromotion with the analysis still running.
fn finish_analysis(turn: &mut Turn<'_>, settings: &Settings, why: String) {
    match gate(turn, settings, WebhookType::ConfirmPromotion) {
        Gate::Pending => {}
        Gate::Open => enter_promoting(turn, settings, why),
        Gate::Expired(why) => rollback(turn, why),
        Gate::Closed => {
            turn.set_phase(Phase::WaitingPromotion);
            let route = analysis_route(turn, settings);
            turn.route(route);
            turn.say(progress_message(turn, settings));
            let next = next_step_at(turn, settings);
            turn.requeue_at(next.max(turn.now));
        }
    }
}

/// Where traffic goes while the analysis runs with the canary ready.
fn analysis_route(turn: &Turn<'_>, settings: &Settings) -> Weights {
    if settings.ab_testing {
        // The router applies these weights to matching requests only.
        return Weights::canary(100).mirrored(settings.mirror);
    }
    let weight = turn.status.canary_weight;
    let mirror = settings.mirror
        && match settings.strategy {
            Strategy::Canary => weight == 0,
            Strategy::BlueGreen { .. } => true,
        };
    Weights::canary(weight).mirrored(mirror)
}

/// Stable between steps so that an idle reconcile writes an identical status.
fn progress_message(turn: &Turn<'_>, settings: &Settings) -> String {
    let s = &turn.status;
    let at = match settings.strategy {
        Strategy::Canary => format!("canary weight {}% of {}%", s.canary_weight, settings.max_weight),
        Strategy::BlueGreen { iterations } => format!("iteration {}/{iterations}", s.iterations),
    };
    // Never `now`: the message would change on every reconcile.
    let next = match ts(&s.last_step_time) {
        Some(last) => format!("next step at {}", show(after(last, settings.interval))),
        None => "first step once the checks have run".to_string(),
    };
    let waiting = match &s.waiting_for {
        Some(w) => format!(
            "; waiting since {} for {} gate {}",
            show(w.since.0),
            w.type_.as_str(),
            w.webhooks.join(", ")
        ),
        None => String::new(),
    };
    format!(
        "analysing revision {}: {at}, failed checks {}/{}; {next}{waiting}",
        s.last_applied_spec, s.failed_checks, settings.threshold
    )
}

fn next_step_at(turn: &Turn<'_>, settings: &Settings) -> jiff::Timestamp {
    ts(&turn.status.last_step_time).map_or(turn.now, |last| after(last, settings.interval))
}

fn track_pause(turn: &mut Turn<'_>, paused: bool) {
    let was_paused = turn.status.handled_requests.contains_key(PAUSE);
    let weight = turn.status.canary_weight;
    if paused && !was_paused {
        turn.status.handled_requests.insert(PAUSE.into(), "true".into());
        turn.normal(
            "Paused",
            format!("Rollout paused by {PAUSE} at canary weight {weight}%"),
        );
    } else if !paused && was_paused {
        turn.status.handled_requests.remove(PAUSE);
        turn.normal("Resumed", format!("Rollout resumed: {PAUSE} removed"));
    }
}

/// The target went back to what the primary runs mid-analysis: there is
/// nothing left to analyse, so traffic returns to the primary.
fn cancel(turn: &mut Turn<'_>, target: &Target<'_>) {
    turn.route(Weights::ALL_PRIMARY);
    turn.act(Action::ScaleTargetToZero);
    turn.set_phase(Phase::Initialized);
    reset_counters(turn);
    turn.status.last_applied_spec = target.revision.to_string();
    turn.status.tracked_configs = target.configs.clone();
    let primary = turn.primary_name();
    let why = format!(
        "rollout cancelled: the target was reverted to the promoted revision {}; {primary} receives all traffic",
        target.revision
    );
    turn.normal("RolloutCancelled", why.clone());
    turn.say(why);
}
