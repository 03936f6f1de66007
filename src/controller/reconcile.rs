//! One reconcile: observe from caches → decide (pure) → carry out the
//! actions → record events → write status once.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::apply::{Applier, FIELD_MANAGER};
use super::context::Context;
use super::error::ReconcileError;
use super::hooks;
use super::observe::observe;
use crate::analysis;
use crate::api::Canary;
use crate::rollout::{self, Event, Readiness, TargetState};
use crate::router;

/// How long a follower waits before checking whether it leads now.
const FOLLOWER_RECHECK: Duration = Duration::from_secs(5);
const TRANSIENT_RETRY: Duration = Duration::from_secs(5);
/// Fallback only: the watch event of our own status write normally comes first.
const STALE_RECHECK: Duration = Duration::from_secs(1);

pub async fn reconcile(canary: Arc<Canary>, ctx: Arc<Context>) -> Result<Requeue, ReconcileError> {
    if !*ctx.leader.borrow() {
        return Ok(Requeue::requeue(FOLLOWER_RECHECK));
    }
    let _timer = ctx.metrics.reconcile_timer();
    match reconcile_inner(&canary, &ctx).await {
        Ok(requeue) => Ok(requeue),
        Err(err) => {
            ctx.metrics.reconcile_error(err.reason());
            let event = Event {
                warning: true,
                reason: err.reason().to_string(),
                message: crate::error::chain(&err),
            };
            publish(&ctx, &canary, &event).await;
            if err.needs_user()
                && let Err(write) = report_not_ready(&ctx, &canary, &event).await
            {
                tracing::warn!(canary = %canary.name_any(), error = %crate::error::chain(&write), "could not report the error in status");
            }
            if let Some(namespace) = canary.namespace() {
                let status = canary.status.clone().unwrap_or_default();
                hooks::notify(&ctx, &canary, &namespace, &status, std::slice::from_ref(&event)).await;
            }
            Err(err)
        }
    }
}

pub fn error_policy(canary: Arc<Canary>, err: &ReconcileError, _ctx: Arc<Context>) -> Requeue {
    tracing::warn!(canary = %canary.name_any(), namespace = ?canary.namespace(), error = %crate::error::chain(err), "reconcile failed");
    if err.is_invalid_spec() {
        Requeue::await_change()
    } else {
        Requeue::requeue(TRANSIENT_RETRY)
    }
}

async fn reconcile_inner(canary: &Canary, ctx: &Context) -> Result<Requeue, ReconcileError> {
    let namespace = canary
        .namespace()
        .ok_or(ReconcileError::MissingField("namespace"))?;
    let mut spec = canary.spec.clone();
    let provider = spec
        .provider
        .get_or_insert_with(|| ctx.default_provider.clone())
        .clone();
    let status = canary.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let name = canary.name_any();
    if ctx
        .written
        .is_stale(&namespace, &name, canary.metadata.resource_version.as_deref())
    {
        tracing::debug!(canary = %name, %namespace, "cached Canary predates our last status write; waiting for the watch");
        return Ok(Requeue::requeue(STALE_RECHECK));
    }

    let mut observed = observe(ctx, canary, &spec, now)?;
    // Events of the checks, published with the decision's so webhooks hear them too.
    let mut events = Vec::new();
    let mut checked = None;
    // Queries cost the metrics server and take time: only for a due step of
    // a canary that can be judged (decide ignores results otherwise).
    if rollout::analysis_due(&spec, &status, now) && canary_ready(&observed.obs.target) {
        let mut with_provider = canary.clone();
        with_provider.spec.provider = Some(provider.clone());
        let outcomes =
            analysis::evaluate(&ctx.client, &with_provider, &provider, &ctx.metrics_server, now).await;
        // Problems only the user can fix get an event of their own, beyond the failed check.
        for error in outcomes
            .iter()
            .filter_map(|o| o.error.as_ref())
            .filter(|e| e.is_config_error())
        {
            events.push(Event {
                warning: true,
                reason: error.reason().to_string(),
                message: error.to_string(),
            });
        }
        let result = analysis::summarise(outcomes.into_iter().map(|o| o.check).collect());
        for check in &result.checks {
            if let Some(value) = check.value {
                ctx.metrics
                    .set_metric_value(&namespace, &spec.target_ref.name, &check.name, value);
            }
        }
        if !result.checks.is_empty() {
            let message = result
                .checks
                .iter()
                .map(|c| c.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            checked = Some(message);
        }
        observed.obs.analysis = Some(result);
    }
    let Some(decision) = hooks::decide(ctx, canary, &namespace, &spec, &status, &mut observed.obs).await
    else {
        return Ok(Requeue::requeue(TRANSIENT_RETRY));
    };

    // Routers read the revision under rollout (session-affinity cookies) from
    // the status: give them the one being written, not the cached one.
    let mut deciding = canary.clone();
    deciding.status = Some(decision.status.clone());
    let applier = Applier {
        ctx,
        canary: &deciding,
        spec: &spec,
        observed: &observed,
        router: router::router_for_canary(canary, &provider, ctx.client.clone(), ctx.applied.clone())?,
        namespace: namespace.clone(),
    };
    events.extend(with_metrics(&decision.events, checked));
    for action in &decision.actions {
        tracing::debug!(canary = %canary.name_any(), %namespace, ?action, "carrying out");
        if *action == rollout::Action::PostRollout {
            // Before the status write, so a crash repeats the call rather than losing it.
            events.extend(hooks::post_rollout(ctx, canary, &namespace, decision.status.phase).await);
            continue;
        }
        applier.run(action).await?;
    }
    for event in &events {
        publish(ctx, canary, event).await;
    }
    // Flagger labels its series with the target's name; dashboards rely on it.
    let workload = &spec.target_ref.name;
    if decision.status.phase != status.phase {
        ctx.metrics
            .record_transition(&namespace, workload, status.phase, decision.status.phase);
        tracing::info!(canary = %canary.name_any(), %namespace, from = status.phase.as_str(), to = decision.status.phase.as_str(), "phase changed");
    }
    ctx.metrics.set_phase(&namespace, workload, decision.status.phase);
    ctx.metrics.set_weights(
        &namespace,
        workload,
        100 - decision.status.canary_weight,
        decision.status.canary_weight,
    );
    // A Canary whose finalizer was just removed may already be gone.
    let finalizer_removed = decision.actions.contains(&rollout::Action::RemoveFinalizer);
    hooks::record_gate_metrics(ctx, &namespace, workload, &status, &decision.status, now);
    if decision.status != status && !finalizer_removed {
        write_status(ctx, canary, &namespace, &decision.status).await?;
    }
    // After the status write: a slow receiver must not hold the rollout's state back.
    hooks::notify(ctx, canary, &namespace, &decision.status, &events).await;
    if finalizer_removed {
        ctx.written.forget(&namespace, &name);
        ctx.metrics.forget(&namespace, workload);
    }
    Ok(decision
        .requeue_after
        .map(Requeue::requeue)
        .unwrap_or_else(Requeue::await_change))
}

/// Puts a problem the user must fix into the `Ready` condition and the
/// status message; the next successful decision sets them back.
async fn report_not_ready(ctx: &Context, canary: &Canary, event: &Event) -> Result<(), ReconcileError> {
    let namespace = canary
        .namespace()
        .ok_or(ReconcileError::MissingField("namespace"))?;
    if ctx.written.is_stale(
        &namespace,
        &canary.name_any(),
        canary.metadata.resource_version.as_deref(),
    ) {
        return Ok(());
    }
    let before = canary.status.clone().unwrap_or_default();
    let mut status = before.clone();
    let conditions = &mut status.conditions;
    rollout::conditions::set(
        conditions,
        rollout::conditions::READY,
        "False",
        &event.reason,
        &event.message,
        Timestamp::now(),
    );
    status.message = Some(event.message.clone());
    if status == before {
        return Ok(());
    }
    write_status(ctx, canary, &namespace, &status).await
}

async fn write_status(
    ctx: &Context,
    canary: &Canary,
    namespace: &str,
    status: &crate::api::CanaryStatus,
) -> Result<(), ReconcileError> {
    let api: Api<Canary> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = json!({
        "apiVersion": Canary::api_version(&()),
        "kind": Canary::kind(&()),
        "status": status,
    });
    let written = api
        .patch_status(
            &canary.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(ReconcileError::api("writing the Canary status"))?;
    ctx.written.record(
        namespace,
        &canary.name_any(),
        written.metadata.resource_version.as_deref(),
    );
    Ok(())
}

pub(super) async fn publish(ctx: &Context, canary: &Canary, event: &Event) {
    let kube_event = KubeEvent {
        type_: if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: event.reason.clone(),
        note: Some(truncate(&event.message, 1000)),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&kube_event, &canary.object_ref(&())).await {
        tracing::warn!(canary = %canary.name_any(), error = %err, "could not record an event");
    }
}

/// The same values status.lastAnalysis and /metrics get, in the event of the
/// step they decided (one event write per step, not two), or in a
/// `MetricsChecked` event of their own when the step decided nothing.
fn with_metrics(decided: &[Event], checked: Option<String>) -> Vec<Event> {
    let mut events = decided.to_vec();
    let Some(checked) = checked else {
        return events;
    };
    match events.first_mut() {
        Some(first) => first.message = format!("{} ({checked})", first.message),
        None => events.push(Event {
            warning: false,
            reason: "MetricsChecked".to_string(),
            message: checked,
        }),
    }
    events
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn canary_ready(target: &TargetState) -> bool {
    matches!(target, TargetState::Found { workload, .. } if workload.readiness == Readiness::Ready && workload.replicas > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, message: &str) -> Event {
        Event {
            warning: false,
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn metric_values_ride_on_the_event_of_the_step_they_decided() {
        let events = with_metrics(
            &[event("Advanced", "Advance canary weight to 20")],
            Some("request-success-rate 99.5 (min 99): Pass".into()),
        );
        assert_eq!(
            events,
            [event(
                "Advanced",
                "Advance canary weight to 20 (request-success-rate 99.5 (min 99): Pass)"
            )]
        );
    }

    #[test]
    fn metric_values_of_a_step_that_decided_nothing_get_an_event_of_their_own() {
        let events = with_metrics(&[], Some("latency no value: Hold".into()));
        assert_eq!(events, [event("MetricsChecked", "latency no value: Hold")]);
        assert_eq!(with_metrics(&[event("Held", "x")], None), [event("Held", "x")]);
    }
}
