//! A gatewayapi Canary on the real control plane: initialization, a full
//! progressive rollout read from the HTTPRoute, and promotion.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures::{self, route_weights};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{wait, with_namespace};

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn gatewayapi_canary_initializes_steps_weights_and_promotes() {
    with_namespace("gwapi", |ctx| async move {
        let serin = fixtures::podinfo_with_serin(&ctx, "podinfo:6.0.0", 2).await?;
        let deployments: Api<Deployment> = ctx.api();
        let services: Api<Service> = ctx.api();
        let routes = fixtures::http_routes(&ctx.client, &ctx.namespace);
        fixtures::create_canary(
            &ctx,
            fixtures::gatewayapi_canary("podinfo", "2s", json!({ "stepWeight": 20, "maxWeight": 60 })),
        )
        .await?;

        // 1. Initialization.
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, ROLLOUT_TIMEOUT).await?;
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(fixtures::image_of(&primary).as_deref(), Some("podinfo:6.0.0"));
        for name in ["podinfo", "podinfo-primary", "podinfo-canary"] {
            services.get(name).await?;
        }
        let apex = services.get("podinfo").await?;
        let selector = apex.spec.and_then(|s| s.selector).unwrap_or_default();
        assert_eq!(
            selector.get("app").map(String::as_str),
            Some("podinfo-primary"),
            "apex selects the primary"
        );
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        let target = wait::poll_until(
            "the target scaled to zero",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || {
                let deployments = deployments.clone();
                async move {
                    let target = deployments.get("podinfo").await?;
                    Ok((fixtures::replicas_of(&target) == Some(0)).then_some(target))
                }
            },
        )
        .await?;
        assert_eq!(fixtures::replicas_of(&target), Some(0));

        // 2. A new image walks the weights 20, 40, 60, promotes and returns to the primary.
        let log = WeightLog::default();
        let recorder = tokio::spawn(record_canary_weights(routes.clone(), log.clone()));
        let bumped = std::time::Instant::now();
        fixtures::set_image(&ctx, "podinfo", "podinfo:6.0.1").await?;
        wait::poll_until(
            "the canary scaled up",
            ROLLOUT_TIMEOUT,
            Duration::from_millis(10),
            || {
                let deployments = deployments.clone();
                async move {
                    Ok(fixtures::replicas_of(&deployments.get("podinfo").await?)
                        .is_some_and(|r| r > 0)
                        .then_some(()))
                }
            },
        )
        .await?;
        // A figure for the README, not an assertion: tests do not time things.
        eprintln!(
            "reaction: image bump -> canary scaled up in {} ms",
            bumped.elapsed().as_millis()
        );
        let canary = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, ROLLOUT_TIMEOUT).await?;
        recorder.abort();
        let weights = log.lock().map(|w| w.clone()).unwrap_or_default();
        let steps: Vec<i64> = weights.iter().copied().filter(|w| *w > 0).collect();
        assert_eq!(
            steps,
            vec![20, 40, 60],
            "canary weights read from the HTTPRoute: {weights:?}"
        );
        assert_eq!(
            weights.last(),
            Some(&0),
            "traffic returns to the primary: {weights:?}"
        );
        let primary = deployments.get("podinfo-primary").await?;
        assert_eq!(
            fixtures::image_of(&primary).as_deref(),
            Some("podinfo:6.0.1"),
            "primary runs the new image"
        );
        assert_eq!(route_weights(&routes.get("podinfo").await?), Some((100, 0)));
        assert_eq!(
            fixtures::replicas_of(&deployments.get("podinfo").await?),
            Some(0),
            "canary scaled to zero"
        );
        let status = canary.status.unwrap_or_default();
        assert_eq!(status.last_promoted_spec, status.last_applied_spec);
        assert_eq!(status.canary_weight, 0);

        // 3. The route is watched: a hand edit of its weights is put back.
        let mut route = routes.get("podinfo").await?;
        set_route_weights(&mut route, 50, 50);
        routes.replace("podinfo", &PostParams::default(), &route).await?;
        wait::poll_until("serin to restore 100/0", Duration::from_secs(15), Duration::from_millis(100), || {
            let routes = routes.clone();
            async move { Ok((route_weights(&routes.get("podinfo").await?) == Some((100, 0))).then_some(())) }
        })
        .await?;

        // Services too, though an idle reconcile does not rewrite them:
        // a changed selector is put back, a deleted Service comes back.
        let services: Api<Service> = ctx.api();
        let patch = json!({ "spec": { "selector": { "app": "someone-else" } } });
        services
            .patch("podinfo-primary", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        services.delete("podinfo-canary", &Default::default()).await?;
        wait::poll_until(
            "serin to restore its Services",
            Duration::from_secs(15),
            Duration::from_millis(100),
            || {
                let services = services.clone();
                async move {
                    let primary = services.get("podinfo-primary").await?;
                    let selector = primary.spec.and_then(|s| s.selector).unwrap_or_default();
                    let canary_back = services.get_opt("podinfo-canary").await?.is_some();
                    Ok(
                        (selector.get("app").map(String::as_str) == Some("podinfo-primary") && canary_back)
                            .then_some(()),
                    )
                }
            },
        )
        .await?;

        // 4. /metrics reports the canary under Flagger's names.
        let metrics = scrape_metrics(&serin).await?;
        let namespace_label = format!("namespace=\"{}\"", ctx.namespace);
        for series in [
            "flagger_canary_status{",
            "flagger_canary_weight{",
            "serin_canary_phase{",
        ] {
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with(series) && l.contains(&namespace_label)),
                "/metrics has no {series}...{namespace_label} series"
            );
        }
        assert!(
            metrics.lines().any(|l| l.starts_with("serin_canary_phase{")
                && l.contains("phase=\"Succeeded\"")
                && l.ends_with(" 1")),
            "serin_canary_phase shows Succeeded"
        );
        Ok(())
    })
    .await;
}

fn set_route_weights(route: &mut DynamicObject, primary: i64, canary: i64) {
    let Some(rules) = route
        .data
        .pointer_mut("/spec/rules")
        .and_then(|r| r.as_array_mut())
    else {
        return;
    };
    for backend in rules
        .iter_mut()
        .filter_map(|r| r.get_mut("backendRefs")?.as_array_mut())
        .flatten()
    {
        let weight = match backend.get("name").and_then(|n| n.as_str()) {
            Some(name) if name.ends_with("-primary") => primary,
            _ => canary,
        };
        backend["weight"] = json!(weight);
    }
}

/// Reads serin's /metrics, checking /readyz and /healthz on the way.
async fn scrape_metrics(serin: &SerinProcess) -> anyhow::Result<String> {
    let ready = serin.get_ops("/readyz").await?;
    assert!(
        ready.status().is_success(),
        "/readyz once the caches are synced: {}",
        ready.status()
    );
    let health = serin.get_ops("/healthz").await?;
    assert!(health.status().is_success(), "/healthz: {}", health.status());
    Ok(serin.get_ops("/metrics").await?.text().await?)
}

type WeightLog = Arc<Mutex<Vec<i64>>>;

/// Watches the HTTPRoute and records every distinct canary weight it takes,
/// until the caller aborts the task.
async fn record_canary_weights(routes: Api<DynamicObject>, log: WeightLog) {
    let config = watcher::Config::default().fields("metadata.name=podinfo");
    let mut stream = std::pin::pin!(watcher(routes, config).applied_objects());
    while let Some(Ok(route)) = stream.next().await {
        if let (Some((_, canary)), Ok(mut weights)) = (route_weights(&route), log.lock())
            && weights.last() != Some(&canary)
        {
            weights.push(canary);
        }
    }
}
