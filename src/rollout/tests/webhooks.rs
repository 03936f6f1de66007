//! Webhooks: gates (with deadlines), pre-rollout and rollout checks,
//! rollback signals and post-rollout calls.

use std::time::Duration;

use super::*;
use crate::api::{CanaryWebhook, DeadlineAction, Phase, WebhookType};
use crate::rollout::{Action, HookResult, Weights};

use WebhookType::{ConfirmPromotion, ConfirmRollout, ConfirmTrafficIncrease, PreRollout, Rollback, Rollout};

fn hook(name: &str, kind: WebhookType) -> CanaryWebhook {
    CanaryWebhook {
        name: name.into(),
        type_: kind,
        url: format!("http://loadtester/{name}"),
        ..CanaryWebhook::default()
    }
}

fn with_hooks(hooks: Vec<CanaryWebhook>) -> CanarySpec {
    let mut s = spec();
    s.analysis.webhooks = hooks;
    s
}

fn with_deadline(mut gate: CanaryWebhook, deadline: &str, action: Option<DeadlineAction>) -> CanaryWebhook {
    gate.deadline = Some(DurationString::new(deadline));
    gate.on_deadline = action;
    gate
}

fn canary_up(secs: i64) -> Observations {
    with_target(obs(secs), "r2", ready(2))
}

/// Decides the way the reconciler does: the webhooks the decision asks for
/// are answered from `answers` (name → passed), and it decides again. A
/// webhook type asked for but missing from `answers` fails the test, so
/// tests also pin which webhooks are called.
fn decide_with(
    spec: &CanarySpec,
    status: &CanaryStatus,
    o: &Observations,
    answers: &[(WebhookType, &[(&str, bool)])],
) -> (Decision, Vec<WebhookType>) {
    let mut o = o.clone();
    let mut asked = Vec::new();
    loop {
        let d = decide(spec, status, &o);
        if d.needs.is_empty() {
            return (run(spec, status, &o), asked);
        }
        for kind in d.needs {
            let (_, results) = answers
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap_or_else(|| panic!("{kind:?} webhooks asked for but not expected"));
            let results = results
                .iter()
                .map(|(name, passed)| HookResult {
                    name: name.to_string(),
                    passed: *passed,
                    message: if *passed { "HTTP 200" } else { "HTTP 403: closed" }.into(),
                })
                .collect();
            o.hooks.insert(kind, results);
            asked.push(kind);
        }
    }
}

#[test]
fn a_closed_confirm_rollout_gate_holds_a_new_revision_in_waiting() {
    let spec = with_hooks(vec![hook("approve", ConfirmRollout)]);
    let mut status = settled(Phase::Succeeded, "r1");
    let closed: &[(&str, bool)] = &[("approve", false)];

    let (d, asked) = decide_with(&spec, &status, &canary_up(0), &[(ConfirmRollout, closed)]);
    assert_eq!(asked, [ConfirmRollout]);
    assert_eq!(d.status.phase, Phase::Waiting);
    assert_eq!(
        d.status.last_applied_spec, "r1",
        "the revision is not adopted before it starts"
    );
    assert_eq!(reasons(&d), ["WaitingForGate"]);
    let wait = d.status.waiting_for.clone().expect("a recorded wait");
    assert_eq!(
        (wait.type_, wait.webhooks),
        (ConfirmRollout, vec!["approve".to_string()])
    );
    assert_eq!(wait.since, Time(at(0)));
    assert_eq!(wait.deadline, None);
    // Asked again within the gate poll, not a whole 1m interval later.
    assert_eq!(d.requeue_after, Some(Duration::from_secs(10)));
    assert!(!d.actions.contains(&Action::ScaleTargetUp));
    status = d.status;

    let (d, _) = decide_with(&spec, &status, &canary_up(10), &[(ConfirmRollout, closed)]);
    assert_eq!(d.status.phase, Phase::Waiting);
    assert!(d.events.is_empty(), "the wait is announced once: {:?}", d.events);
    assert_eq!(
        d.status.waiting_for.as_ref().map(|w| w.since.clone()),
        Some(Time(at(0)))
    );
    status = d.status;

    let (d, _) = decide_with(
        &spec,
        &status,
        &canary_up(20),
        &[(ConfirmRollout, &[("approve", true)])],
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.last_applied_spec, "r2");
    assert_eq!(d.status.waiting_for, None);
    assert_eq!(reasons(&d), ["GateOpened", "Progressing"]);
    assert!(d.actions.contains(&Action::ScaleTargetUp));
}

#[test]
fn without_gates_no_webhook_is_called() {
    let spec = with_hooks(vec![hook("load", Rollout)]);
    let (d, asked) = decide_with(&spec, &settled(Phase::Succeeded, "r1"), &canary_up(0), &[]);
    assert!(asked.is_empty());
    assert_eq!(d.status.phase, Phase::Progressing);
}

#[test]
fn a_confirm_rollout_deadline_fails_the_waiting_revision() {
    let gate = with_deadline(hook("approve", ConfirmRollout), "5m", None);
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("approve", false)];
    let (d, _) = decide_with(
        &spec,
        &settled(Phase::Succeeded, "r1"),
        &canary_up(0),
        &[(ConfirmRollout, closed)],
    );
    let wait = d.status.waiting_for.clone().expect("waiting");
    assert_eq!(wait.deadline, Some(Time(at(300))));
    assert!(d.events[0].message.contains("(then fail)"), "{:?}", d.events);

    let (d, _) = decide_with(&spec, &d.status, &canary_up(299), &[(ConfirmRollout, closed)]);
    assert_eq!(d.status.phase, Phase::Waiting);
    assert_eq!(
        d.requeue_after,
        Some(Duration::from_secs(1)),
        "wakes at the deadline"
    );

    let (d, _) = decide_with(&spec, &d.status, &canary_up(300), &[(ConfirmRollout, closed)]);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(
        d.status.last_applied_spec, "r2",
        "not tried again until it changes"
    );
    assert_eq!(d.status.waiting_for, None);
    assert_eq!(reasons(&d), ["RolloutNotConfirmed"]);
    assert!(
        d.events[0]
            .message
            .contains("did not open within its deadline (waited 5m)")
    );
    assert!(!d.actions.contains(&Action::ScaleTargetUp));
}

#[test]
fn a_deadline_with_proceed_starts_the_analysis() {
    let gate = with_deadline(
        hook("approve", ConfirmRollout),
        "1m",
        Some(DeadlineAction::Proceed),
    );
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("approve", false)];
    let (d, _) = decide_with(
        &spec,
        &settled(Phase::Succeeded, "r1"),
        &canary_up(0),
        &[(ConfirmRollout, closed)],
    );
    let (d, _) = decide_with(&spec, &d.status, &canary_up(61), &[(ConfirmRollout, closed)]);
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(reasons(&d), ["GateDeadlinePassed", "Progressing"]);
}

#[test]
fn an_abort_while_waiting_fails_the_revision() {
    let spec = with_hooks(vec![hook("approve", ConfirmRollout)]);
    let closed: &[(&str, bool)] = &[("approve", false)];
    let (d, _) = decide_with(
        &spec,
        &settled(Phase::Succeeded, "r1"),
        &canary_up(0),
        &[(ConfirmRollout, closed)],
    );
    let mut o = canary_up(5);
    o.requests.abort = Some("a1".into());
    let (d, asked) = decide_with(&spec, &d.status, &o, &[]);
    assert!(asked.is_empty(), "an abort needs no gate");
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(
        d.status
            .handled_requests
            .get("serin.dev/abort")
            .map(String::as_str),
        Some("a1")
    );
}

#[test]
fn a_withdrawn_waiting_revision_ends_the_wait() {
    let spec = with_hooks(vec![hook("approve", ConfirmRollout)]);
    let closed: &[(&str, bool)] = &[("approve", false)];
    let (d, _) = decide_with(
        &spec,
        &settled(Phase::Succeeded, "r1"),
        &canary_up(0),
        &[(ConfirmRollout, closed)],
    );
    let (d, asked) = decide_with(&spec, &d.status, &with_target(obs(5), "r1", ready(0)), &[]);
    assert!(asked.is_empty());
    assert_eq!(d.status.phase, Phase::Initialized);
    assert_eq!(d.status.waiting_for, None);
}

#[test]
fn a_failing_pre_rollout_webhook_counts_a_failed_check_and_skips_rollout_hooks() {
    let spec = with_hooks(vec![hook("acceptance", PreRollout), hook("load", Rollout)]);
    let (d, asked) = decide_with(
        &spec,
        &progressing(0, None),
        &passed(canary_up(0)),
        &[(PreRollout, &[("acceptance", false)])],
    );
    assert_eq!(asked, [PreRollout]);
    assert_eq!(d.status.failed_checks, 1);
    assert_eq!(d.status.canary_weight, 0);
    assert_eq!(reasons(&d), ["CheckFailed"]);
    assert!(
        d.events[0]
            .message
            .contains("pre-rollout webhook acceptance failed: HTTP 403")
    );
    let check = &d.status.last_analysis[0];
    assert_eq!(check.name, "pre-rollout webhook acceptance");
    assert_eq!(check.verdict, crate::api::Verdict::Fail);

    // Threshold 2: the second failure rolls back.
    let (d, _) = decide_with(
        &spec,
        &d.status,
        &passed(canary_up(60)),
        &[(PreRollout, &[("acceptance", false)])],
    );
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(d.actions.contains(&Action::PostRollout));
}

#[test]
fn pre_rollout_runs_on_the_first_step_only_and_rollout_hooks_on_every_step() {
    let spec = with_hooks(vec![hook("acceptance", PreRollout), hook("load", Rollout)]);
    let answers: &[(WebhookType, &[(&str, bool)])] = &[
        (PreRollout, &[("acceptance", true)]),
        (Rollout, &[("load", true)]),
    ];
    let (d, asked) = decide_with(&spec, &progressing(0, None), &passed(canary_up(0)), answers);
    assert_eq!(asked, [PreRollout, Rollout]);
    assert_eq!(d.status.canary_weight, 10);
    let (d, asked) = decide_with(&spec, &d.status, &passed(canary_up(60)), answers);
    assert_eq!(asked, [Rollout]);
    assert_eq!(d.status.canary_weight, 20);
    // Between steps nothing is called.
    let (_, asked) = decide_with(&spec, &d.status, &canary_up(70), answers);
    assert!(asked.is_empty());
}

#[test]
fn a_failing_rollout_webhook_halts_like_a_failed_metric() {
    let spec = with_hooks(vec![hook("load", Rollout)]);
    let (d, _) = decide_with(
        &spec,
        &progressing(10, Some(0)),
        &passed(canary_up(60)),
        &[(Rollout, &[("load", false)])],
    );
    assert_eq!(d.status.failed_checks, 1);
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.actions, vec![Action::ApplyRouting(Weights::canary(10))]);
}

#[test]
fn a_closed_traffic_increase_gate_holds_the_weight_without_failing() {
    let spec = with_hooks(vec![hook("more", ConfirmTrafficIncrease)]);
    let (d, asked) = decide_with(
        &spec,
        &progressing(10, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmTrafficIncrease, &[("more", false)])],
    );
    assert_eq!(asked, [ConfirmTrafficIncrease]);
    assert_eq!(d.status.canary_weight, 10);
    assert_eq!(d.status.failed_checks, 0);
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(
        d.status.waiting_for.as_ref().map(|w| w.type_),
        Some(ConfirmTrafficIncrease)
    );
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("waiting since")
    );

    // Between steps the wait stays recorded.
    let (d, _) = decide_with(&spec, &d.status, &canary_up(70), &[]);
    assert!(d.status.waiting_for.is_some());

    let (d, _) = decide_with(
        &spec,
        &d.status,
        &passed(canary_up(120)),
        &[(ConfirmTrafficIncrease, &[("more", true)])],
    );
    assert_eq!(d.status.canary_weight, 20);
    assert_eq!(d.status.waiting_for, None);
    assert_eq!(reasons(&d), ["GateOpened", "Advanced"]);
}

#[test]
fn a_closed_promotion_gate_waits_then_promotes_as_soon_as_it_opens() {
    let spec = with_hooks(vec![hook("ship", ConfirmPromotion)]);
    let closed: &[(&str, bool)] = &[("ship", false)];
    let (d, _) = decide_with(
        &spec,
        &progressing(50, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmPromotion, closed)],
    );
    assert_eq!(d.status.phase, Phase::WaitingPromotion);
    assert_eq!(d.status.canary_weight, 50, "traffic stays split while waiting");
    assert_eq!(reasons(&d), ["WaitingForGate"]);
    assert_eq!(d.requeue_after, Some(Duration::from_secs(10)));

    // Between steps the gate is polled; the analysis keeps running at steps.
    let (d, asked) = decide_with(&spec, &d.status, &canary_up(70), &[(ConfirmPromotion, closed)]);
    assert_eq!(asked, [ConfirmPromotion]);
    assert_eq!(d.status.phase, Phase::WaitingPromotion);
    let (d, _) = decide_with(
        &spec,
        &d.status,
        &failing(canary_up(120), "error rate 9%"),
        &[(ConfirmPromotion, closed)],
    );
    assert_eq!(d.status.failed_checks, 1);
    assert_eq!(d.status.phase, Phase::WaitingPromotion);

    let (d, _) = decide_with(
        &spec,
        &d.status,
        &canary_up(125),
        &[(ConfirmPromotion, &[("ship", true)])],
    );
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(d.status.waiting_for, None);
    assert!(d.actions.contains(&Action::PromoteToPrimary));
}

#[test]
fn a_promotion_gate_deadline_rolls_back() {
    let gate = with_deadline(hook("ship", ConfirmPromotion), "2m", Some(DeadlineAction::Fail));
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("ship", false)];
    let (d, _) = decide_with(
        &spec,
        &progressing(50, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmPromotion, closed)],
    );
    let (d, _) = decide_with(&spec, &d.status, &canary_up(180), &[(ConfirmPromotion, closed)]);
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions[0], Action::ApplyRouting(Weights::ALL_PRIMARY));
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("confirm-promotion gate ship did not open")
    );
}

#[test]
fn an_open_rollback_hook_rolls_back_at_the_next_step() {
    let spec = with_hooks(vec![hook("rollback", Rollback), hook("load", Rollout)]);
    // Not due: nothing asked.
    let (_, asked) = decide_with(&spec, &progressing(20, Some(0)), &canary_up(30), &[]);
    assert!(asked.is_empty());
    let (d, asked) = decide_with(
        &spec,
        &progressing(20, Some(0)),
        &passed(canary_up(60)),
        &[(Rollback, &[("rollback", true)])],
    );
    assert_eq!(
        asked,
        [Rollback],
        "the rollout hooks are not called once a rollback is asked for"
    );
    assert_eq!(d.status.phase, Phase::Failed);
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("rollback requested by webhook rollback")
    );
}

#[test]
fn a_closed_rollback_hook_lets_the_step_run() {
    let spec = with_hooks(vec![hook("rollback", Rollback)]);
    let (d, _) = decide_with(
        &spec,
        &progressing(20, Some(0)),
        &passed(canary_up(60)),
        &[(Rollback, &[("rollback", false)])],
    );
    assert_eq!(d.status.canary_weight, 30);
}

#[test]
fn post_rollout_follows_a_promotion() {
    let mut status = progressing(0, Some(0));
    status.phase = Phase::Finalising;
    let d = run(&spec(), &status, &canary_up(60));
    assert_eq!(d.status.phase, Phase::Succeeded);
    assert_eq!(d.actions.last(), Some(&Action::PostRollout));
}

#[test]
fn a_traffic_increase_deadline_rolls_back_at_the_step_after_it() {
    let gate = with_deadline(
        hook("more", ConfirmTrafficIncrease),
        "90s",
        Some(DeadlineAction::Fail),
    );
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("more", false)];
    let (d, _) = decide_with(
        &spec,
        &progressing(10, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmTrafficIncrease, closed)],
    );
    assert_eq!(d.status.phase, Phase::Progressing);
    // 60 s into a 90 s deadline: still waiting, weight held.
    let (d, _) = decide_with(
        &spec,
        &d.status,
        &passed(canary_up(120)),
        &[(ConfirmTrafficIncrease, closed)],
    );
    assert_eq!((d.status.phase, d.status.canary_weight), (Phase::Progressing, 10));
    let (d, _) = decide_with(
        &spec,
        &d.status,
        &passed(canary_up(180)),
        &[(ConfirmTrafficIncrease, closed)],
    );
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(d.actions[0], Action::ApplyRouting(Weights::ALL_PRIMARY));
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("confirm-traffic-increase gate more did not open"),
        "{:?}",
        d.status.message
    );
}

#[test]
fn a_traffic_increase_deadline_with_proceed_advances() {
    let gate = with_deadline(
        hook("more", ConfirmTrafficIncrease),
        "90s",
        Some(DeadlineAction::Proceed),
    );
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("more", false)];
    let (d, _) = decide_with(
        &spec,
        &progressing(10, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmTrafficIncrease, closed)],
    );
    assert_eq!(d.status.canary_weight, 10);
    let (d, _) = decide_with(
        &spec,
        &d.status,
        &passed(canary_up(180)),
        &[(ConfirmTrafficIncrease, closed)],
    );
    assert_eq!((d.status.phase, d.status.canary_weight), (Phase::Progressing, 20));
    assert_eq!(d.status.waiting_for, None);
    assert!(reasons(&d).contains(&"GateDeadlinePassed"), "{:?}", reasons(&d));
}

#[test]
fn a_promotion_gate_deadline_with_proceed_promotes() {
    let gate = with_deadline(
        hook("ship", ConfirmPromotion),
        "2m",
        Some(DeadlineAction::Proceed),
    );
    let spec = with_hooks(vec![gate]);
    let closed: &[(&str, bool)] = &[("ship", false)];
    let (d, _) = decide_with(
        &spec,
        &progressing(50, Some(0)),
        &passed(canary_up(60)),
        &[(ConfirmPromotion, closed)],
    );
    assert_eq!(d.status.phase, Phase::WaitingPromotion);
    let (d, _) = decide_with(&spec, &d.status, &canary_up(180), &[(ConfirmPromotion, closed)]);
    assert_eq!(d.status.phase, Phase::Promoting);
    assert!(d.actions.contains(&Action::PromoteToPrimary));
}
