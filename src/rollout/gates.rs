//! Webhooks as the decision sees them: gates that hold a rollout (with
//! optional deadlines), checks that count as failed checks, and rollback
//! signals. The reconciler calls them on demand (see `Turn::hooks`).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::settings::Settings;
use super::turn::{Turn, after, show};
use crate::api::{DeadlineAction, GateWait, MetricCheck, Verdict, WebhookType};

/// How often a closed gate is asked again, at most: an approval should not
/// wait a whole (possibly long) analysis interval to be noticed.
pub const GATE_POLL: Duration = Duration::from_secs(10);

pub(super) enum Gate {
    /// Every gate of the type answered with success (or the Canary has none).
    Open,
    /// Some gate is closed: the wait is recorded in `status.waitingFor` and a
    /// look again is scheduled.
    Closed,
    /// A deadline passed with `onDeadline: fail`; the message says which.
    Expired(String),
    /// The gates have not been asked yet: the decision is incomplete.
    Pending,
}

/// Asks the gates of `kind` and keeps `status.waitingFor` in step with the answer.
pub(super) fn gate(turn: &mut Turn<'_>, settings: &Settings, kind: WebhookType) -> Gate {
    let Some(results) = turn.hooks(kind) else {
        return Gate::Pending;
    };
    let closed: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.as_str())
        .collect();
    let waited = turn.status.waiting_for.clone().filter(|w| w.type_ == kind);
    if closed.is_empty() {
        if waited.is_some() {
            turn.status.waiting_for = None;
            let names = results
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            turn.normal("GateOpened", format!("{} gate {names} opened", kind.as_str()));
        }
        return Gate::Open;
    }

    let since = waited.as_ref().map_or(turn.now, |w| w.since.0);
    let deadline = earliest_deadline(turn, kind, &closed, since);
    let names = closed.join(", ");
    if let Some((at, action, name)) = &deadline
        && turn.now >= *at
    {
        let waited_for = show_wait(turn.now, since);
        return match action {
            DeadlineAction::Fail => Gate::Expired(format!(
                "{} gate {name} did not open within its deadline (waited {waited_for})",
                kind.as_str()
            )),
            DeadlineAction::Proceed => {
                turn.status.waiting_for = None;
                turn.normal(
                    "GateDeadlinePassed",
                    format!(
                        "{} gate {name} did not open within its deadline (waited {waited_for}): proceeding as \
                         its onDeadline says",
                        kind.as_str()
                    ),
                );
                Gate::Open
            }
        };
    }

    if waited.is_none() {
        let until = match &deadline {
            Some((at, action, _)) => format!(
                " until {} (then {})",
                show(*at),
                match action {
                    DeadlineAction::Fail => "fail",
                    DeadlineAction::Proceed => "proceed",
                }
            ),
            None => String::new(),
        };
        turn.normal(
            "WaitingForGate",
            format!("Waiting for {} gate {names} to open{until}", kind.as_str()),
        );
    }
    turn.status.waiting_for = Some(GateWait {
        type_: kind,
        webhooks: closed.iter().map(|n| n.to_string()).collect(),
        since: Time(since),
        deadline: deadline.as_ref().map(|(at, _, _)| Time(*at)),
    });
    let poll = after(turn.now, settings.interval.min(GATE_POLL));
    turn.requeue_at(poll);
    if let Some((at, _, _)) = deadline {
        turn.requeue_at(at);
    }
    Gate::Closed
}

/// The first deadline among the closed gates, with what happens then.
fn earliest_deadline(
    turn: &Turn<'_>,
    kind: WebhookType,
    closed: &[&str],
    since: Timestamp,
) -> Option<(Timestamp, DeadlineAction, String)> {
    turn.webhooks(kind)
        .filter(|w| closed.contains(&w.name.as_str()))
        .filter_map(|w| {
            let wait = w.deadline.as_ref()?.parse().ok()?;
            Some((
                after(since, wait),
                w.on_deadline.unwrap_or_default(),
                w.name.clone(),
            ))
        })
        .min_by_key(|(at, _, _)| *at)
}

/// A description of a wait for messages, e.g. `2m5s`.
fn show_wait(now: Timestamp, since: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(since.as_second()).max(0);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Failures of the check webhooks of `kind` (pre-rollout, rollout), one
/// message each, and a check per webhook for `status.lastAnalysis`.
pub(super) fn check_hooks(turn: &mut Turn<'_>, kind: WebhookType) -> Option<(Vec<String>, Vec<MetricCheck>)> {
    let results = turn.hooks(kind)?;
    let now = turn.now;
    let failures = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} webhook {} failed: {}", kind.as_str(), r.name, r.message))
        .collect();
    let checks = results
        .iter()
        .map(|r| MetricCheck {
            name: format!("{} webhook {}", kind.as_str(), r.name),
            value: None,
            min: None,
            max: None,
            verdict: if r.passed { Verdict::Pass } else { Verdict::Fail },
            message: r.message.clone(),
            time: Time(now),
        })
        .collect();
    Some((failures, checks))
}

/// Whether a rollback webhook asks to roll back: `Some(None)` no, `Some(Some(name))`
/// yes, `None` not asked yet.
pub(super) fn rollback_requested(turn: &mut Turn<'_>) -> Option<Option<String>> {
    let results = turn.hooks(WebhookType::Rollback)?;
    Some(results.iter().find(|r| r.passed).map(|r| r.name.clone()))
}
