//! Webhooks at the edge of a reconcile: the decision asks for the answers it
//! needs, post-rollout hooks run when a rollout ends, and every event goes
//! to the event webhooks.

use jiff::Timestamp;

use super::context::Context;
use crate::api::{Canary, CanaryStatus, CanaryWebhook, Phase, WebhookType};
use crate::notify;
use crate::rollout::{self, Decision, Event, Observations};
use crate::webhook::{self, Payload};

/// Reason of the Warning event for a notification that could not be sent.
pub const ALERT_FAILED: &str = "AlertFailed";

/// More rounds than there are webhook types: each round answers at least one.
const MAX_ROUNDS: usize = 9;

/// Decides, calling the webhooks the decision asks for and deciding again
/// with their answers. A slow webhook delays only this Canary: reconciles of
/// different Canaries run concurrently.
pub async fn decide(
    ctx: &Context,
    canary: &Canary,
    namespace: &str,
    spec: &crate::api::CanarySpec,
    status: &CanaryStatus,
    obs: &mut Observations,
) -> Option<Decision> {
    let workload = &spec.target_ref.name;
    for _ in 0..MAX_ROUNDS {
        let decision = rollout::decide(spec, status, obs);
        if decision.needs.is_empty() {
            return Some(decision);
        }
        for kind in decision.needs {
            let results =
                webhook::call_all(&ctx.webhooks, canary, namespace, status.phase.as_str(), kind).await;
            for result in &results {
                ctx.metrics
                    .count_webhook_call(namespace, workload, kind, result.passed);
                tracing::debug!(canary = %canary.metadata.name.as_deref().unwrap_or_default(), %namespace,
                    webhook = %result.name, r#type = kind.as_str(), passed = result.passed, message = %result.message,
                    "webhook answered");
            }
            obs.hooks.insert(kind, results);
        }
    }
    tracing::error!(canary = ?canary.metadata.name, %namespace, "the decision kept asking for webhooks; skipping this reconcile");
    None
}

/// Calls the post-rollout webhooks; their failures only become events.
pub async fn post_rollout(ctx: &Context, canary: &Canary, namespace: &str, phase: Phase) -> Vec<Event> {
    let kind = WebhookType::PostRollout;
    let workload = &canary.spec.target_ref.name;
    let results = webhook::call_all(&ctx.webhooks, canary, namespace, phase.as_str(), kind).await;
    results
        .into_iter()
        .map(|result| {
            ctx.metrics
                .count_webhook_call(namespace, workload, kind, result.passed);
            let (warning, reason, verb) = if result.passed {
                (false, "PostRolloutHookPassed", "passed")
            } else {
                (true, "PostRolloutHookFailed", "failed")
            };
            Event {
                warning,
                reason: reason.to_string(),
                message: format!("post-rollout webhook {} {verb}: {}", result.name, result.message),
            }
        })
        .collect()
}

/// Sends each event to the Canary's event webhooks, or to the controller's
/// `--event-webhook` when the Canary has none, and the notable ones to its
/// alerts. Event webhook failures are logged only; alert failures become
/// Warning events. `status` is the status just written.
pub async fn notify(
    ctx: &Context,
    canary: &Canary,
    namespace: &str,
    status: &CanaryStatus,
    events: &[Event],
) {
    alert(ctx, canary, status, events).await;
    let phase = status.phase;
    let own: Vec<&CanaryWebhook> = canary
        .spec
        .analysis
        .webhooks
        .iter()
        .filter(|w| w.type_ == WebhookType::Event)
        .collect();
    let global = ctx.event_webhook.as_ref().map(|url| CanaryWebhook {
        name: "event-webhook".to_string(),
        type_: WebhookType::Event,
        url: url.clone(),
        ..CanaryWebhook::default()
    });
    let hooks: Vec<&CanaryWebhook> = if own.is_empty() {
        global.iter().collect()
    } else {
        own
    };
    if hooks.is_empty() {
        return;
    }
    let workload = &canary.spec.target_ref.name;
    for event in events {
        let now = Timestamp::now();
        for hook in &hooks {
            let mut payload = Payload::new(canary, namespace, phase.as_str(), hook);
            payload.metadata.extend(webhook::event_metadata(
                &event.message,
                event.warning,
                &event.reason,
                now,
            ));
            let result = ctx.webhooks.call(hook, &payload).await;
            ctx.metrics
                .count_webhook_call(namespace, workload, WebhookType::Event, result.passed);
            if !result.passed {
                tracing::warn!(canary = ?canary.metadata.name, %namespace, webhook = %hook.name,
                    message = %result.message, "event webhook failed");
            }
        }
    }
}

/// Sends the notifications of `events` to the Canary's `analysis.alerts`.
/// A failed send becomes an `AlertFailed` Warning event on the Canary; that
/// event is published directly, not returned, so it is never alerted on.
async fn alert(ctx: &Context, canary: &Canary, status: &CanaryStatus, events: &[Event]) {
    if canary.spec.analysis.alerts.is_empty() {
        return;
    }
    // The reconciler fills in the controller's default provider; the
    // notification names the provider actually routing traffic.
    let mut resolved;
    let canary = if canary.spec.provider.is_none() {
        resolved = canary.clone();
        resolved.spec.provider = Some(ctx.default_provider.clone());
        &resolved
    } else {
        canary
    };
    for notification in events
        .iter()
        .filter_map(|e| notify::from_event(canary, status, e))
    {
        for outcome in ctx.notifier.send(&ctx.client, canary, &notification).await {
            let Err(error) = outcome.result else {
                continue;
            };
            let message = format!(
                "alert {} via AlertProvider {}: {}",
                outcome.alert,
                outcome.provider,
                crate::error::chain(&error)
            );
            tracing::warn!(canary = ?canary.metadata.name, %message, "alert failed");
            let event = Event {
                warning: true,
                reason: ALERT_FAILED.to_string(),
                message,
            };
            super::reconcile::publish(ctx, canary, &event).await;
        }
    }
}

/// Publishes the current gate wait and adds finished waits to the total.
pub fn record_gate_metrics(
    ctx: &Context,
    namespace: &str,
    workload: &str,
    before: &CanaryStatus,
    after: &CanaryStatus,
    now: Timestamp,
) {
    let seconds_since = |since: Timestamp| (now.as_millisecond() - since.as_millisecond()) as f64 / 1000.0;
    if let Some(old) = &before.waiting_for {
        let same_wait = after
            .waiting_for
            .as_ref()
            .is_some_and(|new| new.type_ == old.type_ && new.since == old.since);
        if !same_wait {
            ctx.metrics
                .add_gate_wait(namespace, workload, old.type_, seconds_since(old.since.0));
        }
    }
    let waiting = after
        .waiting_for
        .as_ref()
        .map(|w| (w.type_, seconds_since(w.since.0)));
    ctx.metrics.set_gate_waiting(namespace, workload, waiting);
}
