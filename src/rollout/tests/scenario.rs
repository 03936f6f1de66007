//! Whole rollouts, decision after decision, as the reconciler drives them.

use super::*;
use crate::api::{CanaryStatus, Phase};
use crate::rollout::{Action, Weights, analysis_due};

/// One reconcile at `secs`: the checks run (and pass) only when a step is due.
fn tick(spec: &crate::api::CanarySpec, status: &mut CanaryStatus, secs: i64, target: &str) -> Decision {
    let mut o = with_target(obs(secs), target, ready(2));
    if analysis_due(spec, status, o.now) {
        o = passed(o);
    }
    advance(spec, status, &o)
}

#[test]
fn step_weights_rollout_from_creation_to_success() {
    let mut s = spec();
    s.analysis.step_weight = None;
    s.analysis.max_weight = None;
    s.analysis.step_weights = Some(vec![5, 25, 60]);
    let mut status = CanaryStatus::default();

    assert_eq!(tick(&s, &mut status, 0, "r1").status.phase, Phase::Initialized);
    assert_eq!(tick(&s, &mut status, 10, "r2").status.phase, Phase::Progressing);

    let mut weights = Vec::new();
    let mut secs = 20;
    while status.phase == Phase::Progressing {
        let d = tick(&s, &mut status, secs, "r2");
        for a in &d.actions {
            if let Action::ApplyRouting(w) = a {
                weights.push(w.canary);
            }
        }
        secs += 60;
        assert!(secs < 1000, "analysis never ended");
    }
    weights.dedup();
    assert_eq!(weights, [5, 25, 60]);
    assert_eq!(status.phase, Phase::Promoting);

    let d = tick(&s, &mut status, secs, "r2");
    assert_eq!(d.status.phase, Phase::Finalising);
    let d = tick(&s, &mut status, secs, "r2");
    assert_eq!(d.status.phase, Phase::Succeeded);
    assert_eq!(d.status.last_promoted_spec, "r2");
    assert_eq!(
        d.actions,
        vec![
            Action::ApplyRouting(Weights::ALL_PRIMARY),
            Action::ScaleTargetToZero,
            Action::PostRollout
        ]
    );
}

#[test]
fn every_idle_reconcile_mid_analysis_writes_the_same_status() {
    let mut status = progressing(0, None);
    tick(&spec(), &mut status, 0, "r2");
    let before = status.clone();
    for secs in [5, 20, 59] {
        let d = run(&spec(), &before, &with_target(obs(secs), "r2", ready(2)));
        assert_eq!(d.status, before);
    }
}
