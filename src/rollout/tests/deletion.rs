//! Deletion: revert to the target, then let the Canary go.

use std::time::Duration;

use super::*;
use crate::api::Phase;
use crate::rollout::{Action, TargetState};

fn deleting(secs: i64, target: WorkloadState) -> Observations {
    Observations {
        deleting: true,
        ..with_target(obs(secs), "r1", target)
    }
}

#[test]
fn deletion_reverts_to_the_target_and_waits_for_it() {
    let d = run(&spec(), &settled(Phase::Succeeded, "r1"), &deleting(0, ready(0)));
    assert_eq!(d.status.phase, Phase::Terminating);
    assert_eq!(d.actions, vec![Action::RevertTarget]);
    assert_eq!(d.status.progress_started_at, time(0));
    assert_eq!(reasons(&d), ["Terminating"]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(600)));
    assert_eq!(condition(&d, "Promoted"), ("Unknown", "Terminating"));

    let d = run(&spec(), &d.status, &deleting(20, rolling(2)));
    assert_eq!(d.actions, vec![Action::RevertTarget]);
    assert!(d.events.is_empty());
    assert_eq!(d.requeue_after, Some(Duration::from_secs(580)));
    assert_eq!(d.status.progress_started_at, time(0));
}

#[test]
fn ready_target_releases_the_finalizer() {
    let status = run(&spec(), &settled(Phase::Succeeded, "r1"), &deleting(0, ready(0))).status;
    let d = run(&spec(), &status, &deleting(30, ready(2)));
    assert_eq!(d.actions, vec![Action::RevertTarget, Action::RemoveFinalizer]);
    assert_eq!(reasons(&d), ["Terminated"]);
}

#[test]
fn missing_target_releases_the_finalizer_with_a_warning() {
    let o = Observations {
        deleting: true,
        target: TargetState::Missing,
        ..obs(0)
    };
    let d = run(&spec(), &progressing(20, Some(0)), &o);
    assert_eq!(d.actions, vec![Action::RemoveFinalizer]);
    assert!(d.events.iter().any(|e| e.warning && e.reason == "TargetNotFound"));
}

#[test]
fn revert_deadline_releases_the_finalizer_with_a_warning() {
    let status = run(&spec(), &settled(Phase::Succeeded, "r1"), &deleting(0, ready(0))).status;
    let d = run(&spec(), &status, &deleting(601, rolling(2)));
    assert_eq!(d.actions, vec![Action::RevertTarget, Action::RemoveFinalizer]);
    assert_eq!(reasons(&d), ["RevertIncomplete"]);
    assert!(d.events[0].warning);
}

#[test]
fn deletion_proceeds_while_suspended() {
    let mut s = spec();
    s.suspend = true;
    let d = run(&s, &settled(Phase::Succeeded, "r1"), &deleting(0, ready(2)));
    assert_eq!(d.actions, vec![Action::RevertTarget, Action::RemoveFinalizer]);
}

#[test]
fn without_the_finalizer_there_is_nothing_to_do() {
    let o = Observations {
        has_finalizer: false,
        ..deleting(0, ready(0))
    };
    let d = decide(&spec(), &settled(Phase::Succeeded, "r1"), &o);
    assert!(d.actions.is_empty());
    assert_eq!(d.status.phase, Phase::Succeeded);
}
