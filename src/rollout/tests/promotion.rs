//! Promoting, Finalising, and a promotion that fails.

use std::time::Duration;

use super::*;
use crate::api::{CanaryStatus, Phase};
use crate::rollout::annotations::RETRY;
use crate::rollout::{Action, Weights};

/// Promoted `r2` at weight 50 at t=0; the primary rolls out.
fn promoting() -> CanaryStatus {
    let o = passed(with_target(obs(0), "r2", ready(2)));
    let d = run(&spec(), &progressing(50, Some(-60)), &o);
    assert_eq!(d.status.phase, Phase::Promoting);
    d.status
}

/// The canary ready on `r2` and the primary as given.
fn primary(secs: i64, primary: WorkloadState) -> Observations {
    Observations {
        primary: Some(primary),
        ..with_target(obs(secs), "r2", ready(2))
    }
}

#[test]
fn promotion_waits_for_the_primary_without_copying_again() {
    let d = run(&spec(), &promoting(), &primary(30, rolling(2)));
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(50))]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(570)));
}

#[test]
fn ready_primary_takes_all_traffic_then_finalises() {
    let mut status = promoting();
    let d = advance(&spec(), &mut status, &primary(30, ready(2)));
    assert_eq!(d.status.phase, Phase::Finalising);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
    assert_eq!(d.status.canary_weight, 0);
    assert_eq!(d.requeue_after, Some(Duration::ZERO));

    let d = advance(&spec(), &mut status, &primary(31, ready(2)));
    assert_eq!(d.status.phase, Phase::Succeeded);
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero,
            Action::PostRollout
        ]
    );
    assert_eq!(d.status.last_promoted_spec, "r2");
    assert_eq!(d.status.canary_weight, 0);
    assert!(d.events[0].message.starts_with("Promotion completed"));
    assert_eq!(condition(&d, "Promoted"), ("True", "Succeeded"));
    assert_eq!(d.requeue_after, None);

    // The promoted revision is not new.
    let d = run(&spec(), &status, &with_target(obs(100), "r2", ready(0)));
    assert_eq!(d.status.phase, Phase::Succeeded);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
}

#[test]
fn step_weight_promotion_hands_traffic_back_per_interval() {
    let mut s = spec();
    s.analysis.step_weight_promotion = Some(20);
    let mut status = promoting();
    let d = advance(&s, &mut status, &primary(30, ready(2)));
    assert_eq!(d.status.canary_weight, 30);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(30))]);
    assert_eq!(d.events[0].message, "Advance primary weight to 70");
    assert_eq!(d.requeue_after, Some(Duration::from_secs(60)));

    let d = advance(&s, &mut status, &primary(60, ready(2)));
    assert_eq!(d.status.canary_weight, 30);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(30)));

    advance(&s, &mut status, &primary(90, ready(2)));
    assert_eq!(status.canary_weight, 10);
    let d = advance(&s, &mut status, &primary(150, ready(2)));
    assert_eq!(d.status.phase, Phase::Finalising);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::ALL_PRIMARY)]);
}

#[test]
fn primary_past_its_deadline_fails_the_promotion_toward_the_canary() {
    let d = run(&spec(), &promoting(), &primary(601, rolling(2)));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(100))]);
    assert_eq!(d.status.canary_weight, 100);
    assert_eq!(reasons(&d), ["PromotionFailed"]);
    assert!(
        d.status
            .message
            .clone()
            .unwrap_or_default()
            .contains("promotion failed: primary not ready")
    );
}

#[test]
fn primary_that_kubernetes_gave_up_on_fails_the_promotion() {
    let d = run(&spec(), &promoting(), &primary(30, failed(2)));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(100))]);
}

fn promotion_failed() -> CanaryStatus {
    run(&spec(), &promoting(), &primary(601, failed(2))).status
}

#[test]
fn failed_promotion_keeps_traffic_on_the_canary() {
    let d = run(&spec(), &promotion_failed(), &primary(700, failed(2)));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(100))]);
    assert!(d.events.is_empty());
}

#[test]
fn retry_after_a_failed_promotion_waits_for_the_primary_again() {
    let mut o = primary(700, rolling(2));
    o.requests.retry = Some("t1".into());
    let d = run(&spec(), &promotion_failed(), &o);
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(100))]);
    assert_eq!(
        d.status.handled_requests.get(RETRY).map(String::as_str),
        Some("t1")
    );
    let d = run(&spec(), &d.status, &primary(710, ready(2)));
    assert_eq!(d.status.phase, Phase::Finalising);
}

#[test]
fn new_revision_after_a_failed_promotion_waits_for_a_ready_primary() {
    let status = promotion_failed();
    let o = Observations {
        primary: Some(failed(2)),
        ..with_target(obs(700), "r3", ready(2))
    };
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(100))]);
    let o = Observations {
        primary: Some(ready(2)),
        ..with_target(obs(710), "r3", ready(2))
    };
    let d = run(&spec(), &status, &o);
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.last_applied_spec, "r3");
}
