//! Initialization, the steady phases, new revisions, and what blocks a Canary.

use std::time::Duration;

use super::*;
use crate::api::{CanaryStatus, DurationString, Phase};
use crate::rollout::{Action, Weights};

#[test]
fn new_canary_starts_initializing_and_waits_for_the_primary() {
    let mut o = obs(0);
    o.primary = None;
    let d = run(&spec(), &CanaryStatus::default(), &o);
    assert_eq!(d.status.phase, Phase::Initializing);
    assert_eq!(
        d.actions,
        vec![Action::EnsurePrimary, Action::ApplyRouting(Weights::ALL_PRIMARY)]
    );
    assert_eq!(d.status.progress_started_at, time(0));
    assert_eq!(reasons(&d), ["Initializing"]);
    // Back when the wait is long enough to say why (then at the deadline).
    assert_eq!(d.requeue_after, Some(Duration::from_secs(10)));
    assert_eq!(condition(&d, "Promoted"), ("Unknown", "Initializing"));
    assert_eq!(condition(&d, "Ready"), ("True", "Resolved"));
}

#[test]
fn initializing_keeps_its_start_time_while_waiting() {
    let mut status = CanaryStatus::default();
    let mut o = obs(0);
    o.primary = Some(rolling(2));
    advance(&spec(), &mut status, &o);
    o.now = at(30);
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.progress_started_at, time(0));
    assert!(d.events.is_empty());
    assert_eq!(d.requeue_after, Some(Duration::from_secs(570)));
}

#[test]
fn a_short_wait_says_what_it_waits_for_and_a_long_one_says_why() {
    let mut status = CanaryStatus::default();
    let mut o = obs(0);
    o.primary = Some(rolling(2));
    advance(&spec(), &mut status, &o);
    let short = status.message.clone().unwrap_or_default();
    assert!(
        short.starts_with("initializing: waiting for podinfo-primary to become ready; fails at"),
        "{short}"
    );
    o.now = at(30);
    let d = run(&spec(), &status, &o);
    let long = d.status.message.unwrap_or_default();
    assert!(
        long.starts_with("initializing: waiting for podinfo-primary to become ready: "),
        "{long}"
    );
    assert_ne!(long, short);
}

#[test]
fn ready_primary_completes_initialization() {
    let mut status = CanaryStatus::default();
    let mut o = obs(0);
    o.primary = Some(rolling(2));
    advance(&spec(), &mut status, &o);
    o.now = at(20);
    o.primary = Some(ready(2));
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.phase, Phase::Initialized);
    assert_eq!(
        d.actions,
        vec![
            Action::EnsurePrimary,
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero
        ]
    );
    assert_eq!(d.status.last_applied_spec, "r1");
    assert_eq!(d.status.last_promoted_spec, "r1");
    assert_eq!(d.status.tracked_configs, configs("r1"));
    assert_eq!(condition(&d, "Promoted"), ("True", "Initialized"));
    assert_eq!(d.requeue_after, None);
}

#[test]
fn failed_primary_fails_initialization() {
    let mut o = obs(0);
    o.primary = Some(failed(2));
    let d = run(&spec(), &CanaryStatus::default(), &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(reasons(&d), ["InitializationFailed"]);
    assert_eq!(condition(&d, "Promoted"), ("False", "Failed"));
    assert!(d.status.last_promoted_spec.is_empty());
}

#[test]
fn primary_deadline_fails_initialization() {
    let mut status = CanaryStatus::default();
    let mut o = obs(0);
    o.primary = Some(rolling(2));
    advance(&spec(), &mut status, &o);
    o.now = at(601);
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("progress deadline exceeded")
    );
}

#[test]
fn failed_initialization_is_retried_on_request() {
    let mut status = CanaryStatus::default();
    let mut o = obs(0);
    o.primary = Some(failed(2));
    advance(&spec(), &mut status, &o);
    // Nothing happens by itself: the same revision stays failed.
    o.now = at(10);
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(!d.actions.contains(&Action::EnsurePrimary));
    o.now = at(20);
    o.primary = Some(rolling(2));
    o.requests.retry = Some("1".into());
    let d = advance(&spec(), &mut status, &o);
    assert_eq!(d.status.phase, Phase::Initializing);
    assert_eq!(d.status.progress_started_at, time(20));
    assert_eq!(reasons(&d), ["RetryRequested", "Initializing"]);
}

#[test]
fn steady_phases_keep_routing_to_the_primary() {
    for phase in [Phase::Initialized, Phase::Succeeded, Phase::Failed] {
        let d = run(&spec(), &settled(phase, "r1"), &obs(0));
        assert_eq!(d.status.phase, phase);
        assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
        assert!(d.events.is_empty());
        assert_eq!(d.requeue_after, None);
    }
}

#[test]
fn an_idle_decision_writes_the_same_status_again() {
    let first = run(&spec(), &settled(Phase::Succeeded, "r1"), &obs(0));
    let second = run(&spec(), &first.status, &obs(50));
    assert_eq!(first.status, second.status);
}

#[test]
fn new_revision_starts_the_analysis() {
    for phase in [
        Phase::Initialized,
        Phase::Succeeded,
        Phase::Failed,
        Phase::Waiting,
    ] {
        let o = with_target(obs(0), "r2", ready(0));
        let d = run(&spec(), &settled(phase, "r1"), &o);
        assert_eq!(d.status.phase, Phase::Progressing);
        assert_eq!(
            d.actions,
            vec![Action::ScaleTargetUp, Action::ApplyRouting(Weights::ALL_PRIMARY)]
        );
        assert_eq!(d.status.last_applied_spec, "r2");
        assert_eq!(d.status.last_promoted_spec, "r1");
        assert_eq!(d.status.tracked_configs, configs("r2"));
        assert_eq!(
            (
                d.status.canary_weight,
                d.status.failed_checks,
                d.status.iterations
            ),
            (0, 0, 0)
        );
        assert_eq!(d.status.progress_started_at, time(0));
        assert_eq!(d.status.last_step_time, None);
        assert_eq!(
            d.events[0].message,
            "New revision r2 detected, starting canary analysis"
        );
        assert_eq!(condition(&d, "Promoted"), ("Unknown", "Progressing"));
    }
}

#[test]
fn reverting_to_the_promoted_revision_is_not_a_new_revision() {
    let mut status = settled(Phase::Failed, "r1");
    status.last_applied_spec = "r2".into();
    status.tracked_configs = configs("r2");
    let d = run(&spec(), &status, &obs(0));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
    assert_eq!(d.status.last_applied_spec, "r1");
    assert_eq!(d.status.tracked_configs, configs("r1"));
    assert_eq!(reasons(&d), ["RevisionReverted"]);
}

#[test]
fn the_failed_revision_seen_again_is_not_new() {
    let mut status = settled(Phase::Failed, "r1");
    status.last_applied_spec = "r2".into();
    let d = run(&spec(), &status, &with_target(obs(0), "r2", ready(0)));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
}

#[test]
fn finalizer_is_added_first_when_missing() {
    let mut o = with_target(obs(0), "r2", ready(0));
    o.has_finalizer = false;
    let d = run(&spec(), &settled(Phase::Succeeded, "r1"), &o);
    assert_eq!(d.actions[0], Action::AddFinalizer);
    assert_eq!(
        d.actions[1..],
        [Action::ScaleTargetUp, Action::ApplyRouting(Weights::ALL_PRIMARY)]
    );
}

#[test]
fn suspend_changes_nothing_but_bookkeeping() {
    let mut s = spec();
    s.suspend = true;
    let status = progressing(20, Some(-60));
    let mut o = passed(with_target(obs(0), "r3", ready(2)));
    o.has_finalizer = false;
    o.requests.abort = Some("1".into());
    let d = run(&s, &status, &o);
    assert!(d.actions.is_empty());
    assert_eq!(d.requeue_after, None);
    assert_eq!(reasons(&d), ["Suspended"]);
    let expected = CanaryStatus {
        observed_generation: Some(3),
        message: d.status.message.clone(),
        ..status
    };
    assert_eq!(d.status, expected);
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("suspend")
    );
    // Said once, not on every reconcile.
    let again = run(&s, &d.status, &o);
    assert!(again.events.is_empty());
}

#[test]
fn unsuspending_resumes_with_the_phase_message() {
    let status = run(&spec(), &settled(Phase::Succeeded, "r1"), &obs(0)).status;
    let phase_message = status.message.clone();
    let mut s = spec();
    s.suspend = true;
    let suspended = run(&s, &status, &obs(10)).status;
    let d = run(&spec(), &suspended, &obs(20));
    assert_eq!(d.status.message, phase_message);
}

#[test]
fn missing_target_blocks_without_repeating_the_warning() {
    let d = run(&spec(), &CanaryStatus::default(), &missing(0));
    assert!(d.actions.is_empty());
    assert_eq!(d.requeue_after, None);
    assert_eq!(d.status.phase, Phase::New);
    assert_eq!(reasons(&d), ["TargetNotFound"]);
    assert!(d.events[0].warning && d.events[0].message.contains("\"podinfo\""));
    assert_eq!(condition(&d, "Ready"), ("False", "TargetNotFound"));
    let again = run(&spec(), &d.status, &missing(30));
    assert!(again.events.is_empty());
    assert_eq!(again.status, d.status);
    // Once the target appears the Canary goes on.
    let d = run(&spec(), &again.status, &obs(60));
    assert_eq!(d.status.phase, Phase::Initialized);
    assert_eq!(condition(&d, "Ready"), ("True", "Resolved"));
}

#[test]
fn missing_target_mid_analysis_holds_the_phase() {
    let d = run(&spec(), &progressing(20, Some(-10)), &missing(0));
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.canary_weight, 20);
    assert!(d.actions.is_empty());
    assert_eq!(condition(&d, "Promoted").0, "Unknown");
}

#[test]
fn invalid_interval_blocks_with_a_warning() {
    let mut s = spec();
    s.analysis.interval = Some(DurationString::new("0s"));
    let d = run(
        &s,
        &settled(Phase::Succeeded, "r1"),
        &with_target(obs(0), "r2", ready(0)),
    );
    assert!(d.actions.is_empty());
    assert_eq!(d.requeue_after, None);
    assert_eq!(reasons(&d), ["InvalidSpec"]);
    assert_eq!(condition(&d, "Ready"), ("False", "InvalidSpec"));
    assert_eq!(condition(&d, "Promoted"), ("True", "Succeeded"));
    let again = run(&s, &d.status, &with_target(obs(9), "r2", ready(0)));
    assert!(again.events.is_empty());
}
