//! Operator requests: abort, retry, promote (tokens) and pause (a level).

use super::*;
use crate::api::{CanaryStatus, Phase};
use crate::rollout::annotations::{ABORT, PAUSE, PROMOTE, RETRY};
use crate::rollout::{Action, Weights};

fn canary_up(secs: i64) -> Observations {
    with_target(obs(secs), "r2", ready(2))
}

fn rolled_back() -> CanaryStatus {
    let mut o = canary_up(0);
    o.requests.abort = Some("a1".into());
    run(&spec(), &progressing(20, Some(-30)), &o).status
}

#[test]
fn abort_rolls_back_once_per_token() {
    let mut o = canary_up(0);
    o.requests.abort = Some("a1".into());
    let d = run(&spec(), &progressing(20, Some(-30)), &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero,
            Action::PostRollout
        ]
    );
    assert_eq!(
        d.status.handled_requests.get(ABORT).map(String::as_str),
        Some("a1")
    );
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("aborted by serin.dev/abort=a1")
    );

    // The same token on the next rollout does nothing.
    let mut next = progressing(20, Some(-30));
    next.handled_requests = d.status.handled_requests.clone();
    let again = run(&spec(), &next, &o);
    assert_eq!(again.status.phase, Phase::Progressing);
    assert!(again.events.is_empty());
}

#[test]
fn retry_restarts_the_failed_revision_once() {
    let failed = rolled_back();
    let mut o = canary_up(100);
    o.requests.retry = Some("t1".into());
    let d = run(&spec(), &failed, &o);
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.last_applied_spec, "r2");
    assert_eq!(
        d.actions,
        vec![Action::ScaleTargetUp, Action::ApplyRouting(Weights::ALL_PRIMARY)]
    );
    assert!(d.events[0].message.contains("serin.dev/retry=t1"));
    assert_eq!(
        d.status.handled_requests.get(RETRY).map(String::as_str),
        Some("t1")
    );

    // Failing again, the same token does not restart it.
    let mut again = d.status.clone();
    again.phase = Phase::Failed;
    let d = run(&spec(), &again, &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(d.events.is_empty());
}

#[test]
fn retry_with_nothing_failed_is_ignored_and_remembered() {
    let mut o = obs(0);
    o.requests.retry = Some("t1".into());
    let d = run(&spec(), &settled(Phase::Succeeded, "r1"), &o);
    assert_eq!(d.status.phase, Phase::Succeeded);
    assert_eq!(reasons(&d), ["RequestIgnored"]);
    assert_eq!(
        d.status.handled_requests.get(RETRY).map(String::as_str),
        Some("t1")
    );
    let again = run(&spec(), &d.status, &o);
    assert!(again.events.is_empty());
}

#[test]
fn stale_promote_token_does_not_promote_a_later_rollout() {
    let mut o = obs(0);
    o.requests.promote = Some("p1".into());
    let steady = run(&spec(), &settled(Phase::Succeeded, "r1"), &o).status;
    let mut o = with_target(o, "r2", ready(0));
    let started = run(&spec(), &steady, &o).status;
    o.now = at(10);
    o.target = found("r2", ready(2));
    let d = run(&spec(), &started, &o);
    assert_eq!(d.status.phase, Phase::Progressing);
}

#[test]
fn promote_skips_the_rest_of_the_analysis() {
    let mut o = canary_up(10);
    o.requests.promote = Some("p1".into());
    let d = run(&spec(), &progressing(20, Some(0)), &o);
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(
        d.actions,
        vec![
            Action::PromoteToPrimary,
            Action::ApplyRouting(Weights::canary(20))
        ]
    );
    assert_eq!(d.status.promoted_revision.as_deref(), Some("r2"));
    assert_eq!(
        d.status.handled_requests.get(PROMOTE).map(String::as_str),
        Some("p1")
    );
}

#[test]
fn promote_waits_for_a_ready_canary() {
    let mut o = with_target(obs(10), "r2", rolling(2));
    o.requests.promote = Some("p1".into());
    let mut status = progressing(0, None);
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.phase, Phase::Progressing);
    assert!(!d.status.handled_requests.contains_key(PROMOTE));
    o.target = found("r2", ready(2));
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.phase, Phase::Promoting);
}

#[test]
fn promote_made_with_the_new_revision_applies_to_it() {
    let mut o = with_target(obs(0), "r2", ready(0));
    o.requests.promote = Some("p1".into());
    let mut status = settled(Phase::Succeeded, "r1");
    advance(&spec(), &mut status, &o);
    assert_eq!(status.phase, Phase::Progressing);
    o.now = at(5);
    o.target = found("r2", ready(2));
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.phase, Phase::Promoting);
}

#[test]
fn pause_holds_the_weight_and_resume_continues() {
    let mut status = progressing(20, Some(0));
    let mut o = passed(canary_up(60));
    o.requests.paused = true;
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.canary_weight, 20);
    assert_eq!(d.status.last_step_time, time(0));
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(20))]);
    assert_eq!(reasons(&d), ["Paused"]);
    assert_eq!(d.requeue_after, None);
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("paused by serin.dev/pause")
    );

    o.now = at(300);
    let d = advance(&spec(), &mut status, &o);
    assert!(d.events.is_empty(), "paused is said once");

    o.now = at(360);
    o.requests.paused = false;
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(reasons(&d), ["Resumed", "Advanced"]);
    assert_eq!(d.status.canary_weight, 30);
    assert!(!d.status.handled_requests.contains_key(PAUSE));
}

#[test]
fn promote_outranks_pause() {
    let mut o = canary_up(10);
    o.requests.paused = true;
    o.requests.promote = Some("p1".into());
    let d = run(&spec(), &progressing(20, Some(0)), &o);
    assert_eq!(d.status.phase, Phase::Promoting);
}

#[test]
fn abort_outranks_pause() {
    let mut o = canary_up(10);
    o.requests.paused = true;
    o.requests.abort = Some("a1".into());
    let d = run(&spec(), &progressing(20, Some(0)), &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(!d.status.handled_requests.contains_key(PAUSE));
}

#[test]
fn abort_cancels_a_stuck_initialization() {
    let mut o = obs(0);
    o.primary = Some(rolling(2));
    o.requests.abort = Some("a1".into());
    let d = run(&spec(), &CanaryStatus::default(), &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(reasons(&d), ["InitializationFailed"]);
}

#[test]
fn abort_during_promotion_is_ignored() {
    let mut status = progressing(50, Some(0));
    status.phase = Phase::Promoting;
    status.promoted_revision = Some("r2".into());
    let mut o = canary_up(10);
    o.primary = Some(rolling(2));
    o.requests.abort = Some("a1".into());
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(reasons(&d), ["RequestIgnored"]);
}
