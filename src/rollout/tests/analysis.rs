//! Progressing: canary readiness, analysis steps, thresholds, restarts.

use std::time::Duration;

use super::*;
use crate::api::Phase;
use crate::rollout::{Action, Weights, analysis_due};

fn canary_up(secs: i64) -> Observations {
    with_target(obs(secs), "r2", ready(2))
}

#[test]
fn waits_for_the_canary_until_the_deadline() {
    let d = run(
        &spec(),
        &progressing(0, None),
        &with_target(obs(0), "r2", rolling(2)),
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
    // Started at -100 with a 600s deadline.
    assert_eq!(d.requeue_after, Some(Duration::from_secs(500)));
    assert!(d.events.is_empty());
}

#[test]
fn canary_past_its_deadline_rolls_back() {
    let d = run(
        &spec(),
        &progressing(0, None),
        &with_target(obs(501), "r2", rolling(2)),
    );
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero,
            Action::PostRollout
        ]
    );
    assert_eq!(reasons(&d), ["RolledBack"]);
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("progress deadline exceeded")
    );
    assert_eq!(condition(&d, "Promoted"), ("False", "Failed"));
}

#[test]
fn canary_that_kubernetes_gave_up_on_rolls_back_at_once() {
    let d = run(
        &spec(),
        &progressing(0, None),
        &with_target(obs(1), "r2", failed(2)),
    );
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
fn canary_unready_mid_analysis_gets_a_deadline_from_the_last_step() {
    let status = progressing(20, Some(1000));
    let d = run(&spec(), &status, &with_target(obs(1100), "r2", rolling(2)));
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(20))]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(500)));
    let d = run(&spec(), &status, &with_target(obs(1601), "r2", rolling(2)));
    assert_eq!(d.status.phase, Phase::Failed);
}

#[test]
fn canary_scaled_to_zero_is_scaled_up_again() {
    let d = run(
        &spec(),
        &progressing(20, Some(0)),
        &with_target(obs(10), "r2", ready(0)),
    );
    assert_eq!(
        d.actions,
        vec![Action::ScaleTargetUp, Action::ApplyRouting(Weights::canary(20))]
    );
}

#[test]
fn first_step_checks_at_weight_zero_then_advances() {
    let d = run(&spec(), &progressing(0, None), &passed(canary_up(0)));
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(10))]);
    assert_eq!(d.status.last_step_time, time(0));
    assert_eq!(d.events[0].message, "Advance canary weight to 10");
    assert_eq!(d.requeue_after, Some(Duration::from_secs(60)));
}

#[test]
fn no_step_before_the_interval() {
    let d = run(&spec(), &progressing(10, Some(0)), &passed(canary_up(45)));
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.status.last_step_time, time(0));
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(10))]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(15)));
    assert!(d.events.is_empty());
}

#[test]
fn due_step_without_checks_waits_for_them() {
    let d = run(&spec(), &progressing(10, Some(0)), &canary_up(60));
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(1)));
    // Waiting for the first checks writes the same status each time.
    let first = run(&spec(), &progressing(0, None), &canary_up(5));
    let again = run(&spec(), &first.status, &canary_up(6));
    assert_eq!(first.status, again.status);
}

#[test]
fn failed_check_counts_and_holds_the_weight() {
    let d = run(
        &spec(),
        &progressing(20, Some(0)),
        &failing(canary_up(60), "success rate 80% < 99%"),
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.failed_checks, 1);
    assert_eq!(d.status.canary_weight, 20);
    assert_eq!(d.status.last_step_time, time(60));
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(20))]);
    assert_eq!(reasons(&d), ["CheckFailed"]);
    assert!(d.events[0].warning && d.events[0].message.contains("success rate 80% < 99%"));
}

#[test]
fn held_check_keeps_the_weight_without_counting_a_failure() {
    let d = run(
        &spec(),
        &progressing(20, Some(0)),
        &holding(canary_up(60), "request-success-rate: no data"),
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.failed_checks, 0);
    assert_eq!(d.status.canary_weight, 20);
    assert_eq!(
        d.status.last_step_time,
        time(60),
        "the next try is one interval later"
    );
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(20))]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(60)));
    assert_eq!(reasons(&d), ["Held"]);
    assert!(d.status.message.clone().unwrap_or_default().contains("no data"));
}

#[test]
fn a_hold_before_any_traffic_does_not_keep_the_canary_at_zero() {
    // At 0% the canary gets no routed traffic, so "no data" cannot clear by waiting.
    let d = run(
        &spec(),
        &progressing(0, Some(0)),
        &holding(canary_up(60), "request-success-rate: no data"),
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.failed_checks, 0);
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(10))]);
    assert_eq!(reasons(&d), ["Advanced"]);
    assert!(
        d.events[0]
            .message
            .contains("not judged before any traffic: request-success-rate: no data"),
        "{}",
        d.events[0].message
    );
    // Once traffic is routed, the same hold waits.
    let d = run(
        &spec(),
        &d.status,
        &holding(canary_up(120), "request-success-rate: no data"),
    );
    assert_eq!((d.status.canary_weight, reasons(&d)), (10, vec!["Held"]));
}

#[test]
fn a_failure_before_any_traffic_still_counts() {
    let d = run(
        &spec(),
        &progressing(0, Some(0)),
        &failing(canary_up(60), "success rate 80% < 99%"),
    );
    assert_eq!((d.status.canary_weight, d.status.failed_checks), (0, 1));
}

#[test]
fn a_blue_green_hold_waits_from_the_first_iteration() {
    // Blue/Green never shifts weight: its traffic is direct or mirrored, so waiting can help.
    let d = run(
        &blue_green(3),
        &progressing(0, Some(0)),
        &holding(canary_up(60), "request-success-rate: no data"),
    );
    assert_eq!((d.status.iterations, reasons(&d)), (0, vec!["Held"]));
}

#[test]
fn a_failure_outranks_a_hold() {
    let mut o = holding(canary_up(60), "latency: no data");
    if let Some(result) = o.analysis.as_mut() {
        result.failures.push("success rate 80% < 99%".into());
    }
    let d = run(&spec(), &progressing(20, Some(0)), &o);
    assert_eq!(d.status.failed_checks, 1);
    assert_eq!(reasons(&d), ["CheckFailed"]);
}

#[test]
fn threshold_counts_cumulative_failures_then_rolls_back() {
    let mut status = progressing(20, Some(0));
    advance(&spec(), &mut status, &failing(canary_up(60), "slow"));
    advance(&spec(), &mut status, &passed(canary_up(120)));
    assert_eq!((status.failed_checks, status.canary_weight), (1, 30));
    let d = advance(&spec(), &mut status, &failing(canary_up(180), "slow"));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.status.failed_checks, 2);
    assert_eq!(d.status.canary_weight, 0);
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero,
            Action::PostRollout
        ]
    );
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("failed checks threshold reached 2/2")
    );
}

#[test]
fn threshold_already_reached_rolls_back_before_the_next_step() {
    let mut status = progressing(20, Some(0));
    status.failed_checks = 2;
    let d = run(&spec(), &status, &canary_up(10));
    assert_eq!(d.status.phase, Phase::Failed);
}

#[test]
fn passing_step_at_max_weight_promotes() {
    let d = run(&spec(), &progressing(50, Some(0)), &passed(canary_up(60)));
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(
        d.actions,
        vec![
            Action::PromoteToPrimary,
            Action::ApplyRouting(Weights::canary(50))
        ]
    );
}

#[test]
fn max_weight_caps_the_last_step() {
    let mut s = spec();
    s.analysis.step_weight = Some(20);
    let d = run(&s, &progressing(40, Some(0)), &passed(canary_up(60)));
    assert_eq!(d.status.canary_weight, 50);
}

#[test]
fn blue_green_counts_iterations_then_promotes() {
    let s = blue_green(2);
    let mut status = progressing(0, None);
    let d = advance(&s, &mut status, &passed(canary_up(0)));
    assert_eq!((d.status.iterations, d.status.canary_weight), (1, 0));
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
    assert_eq!(d.events[0].message, "Advance iteration 1/2");
    let d = advance(&s, &mut status, &passed(canary_up(60)));
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(
        d.actions,
        vec![
            Action::PromoteToPrimary,
            Action::ApplyRouting(Weights::ALL_PRIMARY)
        ]
    );
}

#[test]
fn new_revision_mid_analysis_restarts() {
    let mut status = progressing(30, Some(0));
    status.failed_checks = 1;
    let d = run(&spec(), &status, &with_target(obs(10), "r3", ready(2)));
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.last_applied_spec, "r3");
    assert_eq!((d.status.canary_weight, d.status.failed_checks), (0, 0));
    assert_eq!(d.status.last_step_time, None);
    assert_eq!(d.status.progress_started_at, time(10));
    assert_eq!(
        d.actions,
        vec![Action::ScaleTargetUp, Action::ApplyRouting(Weights::ALL_PRIMARY)]
    );
    assert_eq!(d.events[0].message, "Restarting analysis: new revision r3");
}

#[test]
fn reverting_to_the_promoted_revision_mid_analysis_cancels() {
    let d = run(
        &spec(),
        &progressing(30, Some(0)),
        &with_target(obs(10), "r1", ready(2)),
    );
    assert_eq!(d.status.phase, Phase::Initialized);
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero
        ]
    );
    assert_eq!(d.status.last_applied_spec, "r1");
    assert_eq!(reasons(&d), ["RolloutCancelled"]);
}

#[test]
fn skip_analysis_promotes_once_the_canary_is_ready() {
    let mut s = spec();
    s.skip_analysis = true;
    let d = run(&s, &progressing(0, None), &with_target(obs(0), "r2", rolling(2)));
    assert_eq!(d.status.phase, Phase::Progressing);
    let mut status = progressing(0, None);
    status.failed_checks = 5;
    let d = run(&s, &status, &canary_up(0));
    assert_eq!(d.status.phase, Phase::Promoting);
}

#[test]
fn analysis_is_due_on_the_interval_in_analysis_phases_only() {
    let s = spec();
    assert!(analysis_due(&s, &progressing(0, None), at(0)));
    assert!(!analysis_due(&s, &progressing(10, Some(0)), at(59)));
    assert!(analysis_due(&s, &progressing(10, Some(0)), at(60)));
    let mut waiting = progressing(50, Some(0));
    waiting.phase = Phase::WaitingPromotion;
    assert!(analysis_due(&s, &waiting, at(60)));
    for phase in [Phase::Succeeded, Phase::Promoting, Phase::Failed] {
        assert!(!analysis_due(&s, &settled(phase, "r1"), at(60)));
    }
    let mut suspended = spec();
    suspended.suspend = true;
    assert!(!analysis_due(&suspended, &progressing(0, None), at(0)));
}
