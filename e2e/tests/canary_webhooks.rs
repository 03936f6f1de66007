//! Webhooks on the real control plane: failing pre-rollout checks, event and
//! post-rollout receivers, gate deadlines, and a hanging webhook that must
//! not hold back other Canaries.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};
use serin::api::{Phase, WebhookType};
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::receiver::{Answer, Receiver};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, wait, with_namespace};

const T: Duration = Duration::from_secs(60);

async fn start(ctx: &TestContext, analysis: Value) -> anyhow::Result<SerinProcess> {
    fixtures::initialized_podinfo(ctx, "1s", analysis).await
}

fn hook(name: &str, kind: &str, url: String) -> Value {
    json!({ "name": name, "type": kind, "url": url, "timeout": "5s" })
}

#[tokio::test]
async fn a_failing_pre_rollout_webhook_rolls_back_at_the_threshold() {
    with_namespace("wh-pre", |ctx| async move {
        let receiver = Receiver::start().await?;
        receiver.answer("pre", Answer::Status(500));
        let analysis = json!({
            "stepWeight": 10, "maxWeight": 30, "threshold": 2,
            "webhooks": [hook("acceptance", "pre-rollout", receiver.url("pre"))]
        });
        let _serin = start(&ctx, analysis).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;

        fixtures::wait_for_status(&ctx, "podinfo", "one failed check", T, |s| {
            s.phase == Phase::Progressing && s.failed_checks == 1
        })
        .await?;
        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let status = failed.status.unwrap_or_default();
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("failed checks threshold reached 2/2")
                && message.contains("pre-rollout webhook acceptance failed: HTTP 500"),
            "{message}"
        );
        assert_eq!(status.canary_weight, 0);
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));

        let calls = receiver.received("pre");
        assert!(calls.len() >= 2, "one call per step: {calls:?}");
        assert_eq!(calls[0]["name"], "podinfo");
        assert_eq!(calls[0]["namespace"], ctx.namespace.as_str());
        assert_eq!(calls[0]["phase"], "Progressing");
        assert!(calls[0]["checksum"].as_str().is_some_and(|c| !c.is_empty()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn event_and_post_rollout_webhooks_hear_every_transition() {
    with_namespace("wh-events", |ctx| async move {
        let receiver = Receiver::start().await?;
        let analysis = json!({
            "stepWeight": 25, "maxWeight": 50,
            "webhooks": [
                hook("events", "event", receiver.url("events")),
                hook("cleanup", "post-rollout", receiver.url("post")),
            ]
        });
        let _serin = start(&ctx, analysis).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;

        // Event webhooks are called after the status write: wait for the last one.
        let reasons = wait::poll_until(
            "the Succeeded event webhook call",
            T,
            Duration::from_millis(200),
            || {
                let events = receiver.received("events");
                async move {
                    let reasons: Vec<String> = events
                        .iter()
                        .filter_map(|e| e["metadata"]["eventReason"].as_str().map(String::from))
                        .collect();
                    Ok(reasons.iter().any(|r| r == "Succeeded").then_some(reasons))
                }
            },
        )
        .await?;
        let transitions = [
            "Initializing",
            "Initialized",
            "Progressing",
            "Advanced",
            "Promoting",
            "Finalising",
            "Succeeded",
        ];
        let mut at = 0;
        for wanted in transitions {
            let found = reasons[at..].iter().position(|r| r == wanted);
            assert!(
                found.is_some(),
                "no {wanted} event after position {at} in {reasons:?}"
            );
            at += found.unwrap_or_default();
        }
        // Every Kubernetes event serin recorded reached the webhook too.
        for reason in fixtures::event_reasons(&ctx, "podinfo").await? {
            assert!(reasons.contains(&reason), "{reason} missing from {reasons:?}");
        }
        // Transient reconcile errors (a conflict on a first write, say) are events too: look at a known one.
        let events = receiver.received("events");
        let first = events
            .iter()
            .find(|e| e["metadata"]["eventReason"] == "Initialized")
            .ok_or_else(|| anyhow::anyhow!("no Initialized event in {events:?}"))?;
        assert_eq!(first["name"], "podinfo");
        assert!(
            first["metadata"]["eventMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(first["metadata"]["eventType"], "Normal");
        assert!(
            first["metadata"]["timestamp"]
                .as_str()
                .is_some_and(|t| t.parse::<i64>().is_ok())
        );

        let post = receiver.received("post");
        assert_eq!(post.len(), 1, "{post:?}");
        assert_eq!(post[0]["phase"], "Succeeded");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_gate_deadline_fails_the_canary_and_the_wait_shows_meanwhile() {
    with_namespace("wh-deadline", |ctx| async move {
        let receiver = Receiver::start().await?;
        receiver.answer("gate", Answer::Status(403));
        let mut gate = hook("ship-it", "confirm-promotion", receiver.url("gate"));
        gate["deadline"] = json!("8s");
        gate["onDeadline"] = json!("fail");
        let analysis = json!({ "stepWeight": 25, "maxWeight": 50, "webhooks": [gate] });
        let serin = start(&ctx, analysis).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;

        let waiting = fixtures::wait_for_status(&ctx, "podinfo", "a recorded gate wait", T, |s| {
            s.phase == Phase::WaitingPromotion && s.waiting_for.is_some()
        })
        .await?;
        let status = waiting.status.unwrap_or_default();
        let wait = status.waiting_for.clone().unwrap_or_else(|| unreachable!());
        assert_eq!(wait.type_, WebhookType::ConfirmPromotion);
        assert_eq!(wait.webhooks, ["ship-it"]);
        let deadline_after = wait
            .deadline
            .clone()
            .map(|d| d.0.as_second() - wait.since.0.as_second());
        assert_eq!(deadline_after, Some(8));
        assert_eq!(status.canary_weight, 50, "traffic stays split while waiting");
        assert!(status.message.unwrap_or_default().contains("waiting since"));

        let metrics = wait::poll_until("the gate wait on /metrics", T, Duration::from_millis(200), || {
            let serin = &serin;
            async move {
                let text = serin.get_ops("/metrics").await?.text().await?;
                let waiting = text.lines().any(|l| {
                    l.starts_with("serin_canary_gate_waiting_seconds{")
                        && l.contains("webhook_type=\"confirm-promotion\"")
                        && l.rsplit(' ')
                            .next()
                            .and_then(|v| v.parse::<f64>().ok())
                            .is_some_and(|v| v > 0.0)
                });
                Ok(waiting.then_some(text))
            }
        })
        .await?;
        assert!(metrics.contains("serin_webhook_calls_total{"), "{metrics}");

        let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        let status = failed.status.unwrap_or_default();
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("confirm-promotion gate ship-it did not open within its deadline"),
            "{message}"
        );
        assert_eq!(status.waiting_for, None);
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        let text = serin.get_ops("/metrics").await?.text().await?;
        assert!(
            text.lines()
                .any(|l| l.starts_with("serin_canary_gate_wait_seconds_total{")
                    && l.rsplit(' ')
                        .next()
                        .and_then(|v| v.parse::<f64>().ok())
                        .is_some_and(|v| v >= 7.0)),
            "{text}"
        );
        Ok(())
    })
    .await;
}

/// The longest a 1s-interval Canary may take between two step transitions
/// when it is "on time": the interval plus generous slack for a loaded CI
/// machine, and still a tenth of the hung webhook's 1-minute timeout.
const STEP_GAP_LIMIT: Duration = Duration::from_secs(6);

/// Watches Canary `name` until it succeeds and returns each distinct
/// `(canary weight, phase)` with when it was first seen.
async fn record_states(
    api: Api<serin::api::Canary>,
    name: &str,
    limit: Duration,
) -> anyhow::Result<Vec<(Duration, i32, Phase)>> {
    use futures::TryStreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = Box::pin(watcher(api, config).applied_objects());
    let start = tokio::time::Instant::now();
    let mut states: Vec<(Duration, i32, Phase)> = Vec::new();
    let watch = async {
        while let Some(canary) = stream.try_next().await? {
            let status = canary.status.unwrap_or_default();
            let state = (status.canary_weight, status.phase);
            if states.last().map(|(_, w, p)| (*w, *p)) != Some(state) {
                states.push((start.elapsed(), state.0, state.1));
            }
            match status.phase {
                Phase::Succeeded => return Ok(()),
                Phase::Failed => anyhow::bail!("Canary {name} failed: {:?}", status.message),
                _ => {}
            }
        }
        anyhow::bail!("the watch of Canary {name} ended")
    };
    let outcome = tokio::time::timeout(limit, watch).await;
    match outcome {
        Ok(outcome) => outcome.map(|()| states),
        Err(_) => anyhow::bail!("Canary {name} did not succeed within {limit:?}: {states:?}"),
    }
}

#[tokio::test]
async fn a_hanging_webhook_delays_only_its_own_canary() {
    with_namespace("wh-hang", |ctx| async move {
        let receiver = Receiver::start().await?;
        receiver.answer("hang", Answer::Hang);
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let deployments: Api<Deployment> = ctx.api();
        deployments
            .create(
                &Default::default(),
                &fixtures::deployment("other", "podinfo:1", 1),
            )
            .await?;
        let mut hung = hook("load", "rollout", receiver.url("hang"));
        hung["timeout"] = json!("1m");
        let slow = json!({ "stepWeight": 10, "maxWeight": 50, "webhooks": [hung] });
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("podinfo", "1s", slow)).await?;
        let fast = json!({ "stepWeight": 10, "maxWeight": 50 });
        fixtures::create_canary(&ctx, fixtures::gatewayapi_canary("other", "1s", fast)).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        fixtures::wait_for_phase(&ctx, "other", Phase::Initialized, T).await?;

        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        wait::poll_until(
            "the hanging webhook to be called",
            T,
            Duration::from_millis(100),
            || {
                let calls = receiver.received("hang").len();
                async move { Ok((calls > 0).then_some(())) }
            },
        )
        .await?;
        // Five 1s steps and a promotion, each on time, well inside the hung call's minute.
        let (states, bumped) = tokio::join!(
            record_states(ctx.api(), "other", Duration::from_secs(40)),
            fixtures::set_image(&ctx, "other", "podinfo:2"),
        );
        bumped?;
        let states = states?;
        let stepped: Vec<&(Duration, i32, Phase)> = states.iter().skip_while(|(_, w, _)| *w == 0).collect();
        let weights: std::collections::BTreeSet<i32> = stepped.iter().map(|(_, w, _)| *w).collect();
        assert!(
            weights.len() >= 5,
            "every step of 10 up to 50 was seen: {states:?}"
        );
        for pair in stepped.windows(2) {
            let gap = pair[1].0.saturating_sub(pair[0].0);
            assert!(
                gap <= STEP_GAP_LIMIT,
                "{:?} -> {:?} took {gap:?}, more than the 1s interval + slack: {states:?}",
                pair[0],
                pair[1]
            );
        }
        let done = ctx.api::<serin::api::Canary>().get("other").await?;
        let slow = ctx.api::<serin::api::Canary>().get("podinfo").await?;
        let slow = slow.status.unwrap_or_default();
        assert_eq!(
            (slow.phase, slow.canary_weight),
            (Phase::Progressing, 0),
            "still held by its webhook"
        );
        assert_eq!(receiver.received("hang").len(), 1);
        assert!(
            done.status
                .is_some_and(|s| s.last_promoted_spec == s.last_applied_spec)
        );
        Ok(())
    })
    .await;
}
