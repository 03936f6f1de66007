//! The `kubectl serin` plugin against the real control plane with serin
//! running: `get --watch` follows a rollout, the operator commands change it,
//! `status --wait` reports how it ended, and `lint`/`migrate` work on files.

use std::time::Duration;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use serin::api::Phase;
use serin_e2e::plugin::{self, Background};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, fixtures, with_namespace};

const T: Duration = Duration::from_secs(60);

async fn start(ctx: &TestContext, interval: &str) -> anyhow::Result<SerinProcess> {
    fixtures::initialized_podinfo(ctx, interval, json!({ "stepWeight": 10, "maxWeight": 50 })).await
}

#[tokio::test]
async fn get_watch_follows_a_rollout_until_it_succeeds() {
    with_namespace("cli-watch", |ctx| async move {
        let _serin = start(&ctx, "1s").await?;
        let table = plugin::run(&ctx, &["get"], T).await?;
        assert_eq!(table.code, Some(0), "{table:?}");
        assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
        assert!(
            table.stdout.contains("podinfo") && table.stdout.contains("Initialized"),
            "{}",
            table.stdout
        );

        let watch = Background::start(&ctx, &["get", "podinfo", "--watch"])?;
        watch.wait_for_line("Initialized", T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        let (code, lines) = watch.finish(T).await?;
        assert_eq!(code, Some(0), "{lines:#?}");
        // Not a terminal: one line per change, the weights in order.
        let mut last = 0;
        for weight in ["10%/90%", "20%/80%", "30%/70%", "40%/60%", "50%/50%"] {
            let at = lines
                .iter()
                .position(|l| l.contains(weight) && l.contains("Progressing"))
                .ok_or_else(|| anyhow::anyhow!("no line with {weight}: {lines:#?}"))?;
            assert!(at >= last, "{weight} out of order: {lines:#?}");
            last = at;
        }
        assert!(
            lines.iter().any(|l| l.contains("| 3/5 |")),
            "step column: {lines:#?}"
        );
        let final_line = lines.last().cloned().unwrap_or_default();
        assert!(final_line.contains("Succeeded"), "{lines:#?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_resume_and_status_wait_on_success() {
    with_namespace("cli-pause", |ctx| async move {
        let _serin = start(&ctx, "1s").await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 10", T, |s| s.canary_weight >= 10).await?;
        let paused = plugin::run(&ctx, &["pause", "podinfo"], T).await?;
        assert_eq!(paused.code, Some(0), "{paused:?}");
        assert!(
            paused.stdout.contains("requested pause") && paused.stdout.contains("phase: Progressing"),
            "{paused:?}"
        );
        let held = fixtures::wait_for_status(&ctx, "podinfo", "a paused message", T, |s| {
            s.message.as_deref().is_some_and(|m| m.contains("paused"))
        })
        .await?
        .status
        .unwrap_or_default()
        .canary_weight;
        fixtures::holds_for(
            &ctx,
            "podinfo",
            "the weight to hold",
            Duration::from_secs(3),
            |s| s.canary_weight == held,
        )
        .await?;
        let resumed = plugin::run(&ctx, &["resume", "podinfo"], T).await?;
        assert!(resumed.stdout.contains("serin.dev/pause removed"), "{resumed:?}");
        let status = plugin::run(&ctx, &["status", "podinfo", "--wait", "--timeout", "60s"], T).await?;
        assert_eq!(status.code, Some(0), "{status:?}");
        assert!(status.stdout.contains("phase:          Succeeded"), "{status:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn abort_makes_status_wait_fail_and_retry_succeeds() {
    with_namespace("cli-abort", |ctx| async move {
        let _serin = start(&ctx, "1s").await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "weight 20", T, |s| s.canary_weight >= 20).await?;
        let waiting = Background::start(&ctx, &["status", "podinfo", "--wait"])?;
        let aborted = plugin::run(&ctx, &["abort", "podinfo"], T).await?;
        assert!(aborted.stdout.contains("requested abort"), "{aborted:?}");
        let (code, lines) = waiting.finish(T).await?;
        assert_eq!(code, Some(1), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("Failed")), "{lines:#?}");
        let status = plugin::run(&ctx, &["status", "podinfo"], T).await?;
        assert_eq!(status.code, Some(1), "{status:?}");

        let retried = plugin::run(&ctx, &["retry", "podinfo"], T).await?;
        assert!(retried.stdout.contains("requested retry"), "{retried:?}");
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn status_wait_times_out_and_promote_finishes_the_rollout() {
    with_namespace("cli-promote", |ctx| async move {
        let _serin = start(&ctx, "1h").await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_status(&ctx, "podinfo", "the first step", T, |s| s.canary_weight == 10).await?;
        let status = plugin::run(&ctx, &["status", "podinfo", "--wait", "--timeout", "2s"], T).await?;
        assert_eq!(status.code, Some(2), "{status:?}");
        let promoted = plugin::run(&ctx, &["promote", "podinfo"], T).await?;
        assert!(promoted.stdout.contains("requested promote"), "{promoted:?}");
        let status = plugin::run(&ctx, &["status", "podinfo", "--wait", "--timeout", "60s"], T).await?;
        assert_eq!(status.code, Some(0), "{status:?}");
        Ok(())
    })
    .await;
}

const FLAGGER: &str = r#"
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  finalizers: [finalizer.flagger.app]
spec:
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}
  service:
    port: 9898
    gatewayRefs: [{name: public-gateway, namespace: gateways}]
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    metrics:
      - name: latency
        templateRef: {name: latency}
        thresholdRange: {max: 500}
    webhooks:
      - name: load-test
        url: http://flagger-loadtester.test/
        metadata: {cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary:9898/"}
    alerts:
      - name: on-call
        severity: error
        providerRef: {name: on-call}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: latency}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: histogram_quantile(0.99, rate(x[{{ interval }}]))
---
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: on-call}
spec: {type: slack, secretRef: {name: on-call-url}}
"#;

fn serin_resource(kind: &str) -> ApiResource {
    let plural = match kind {
        "Canary" => "canaries",
        "MetricTemplate" => "metrictemplates",
        _ => "alertproviders",
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("serin.dev", "v1beta1", kind), plural)
}

#[tokio::test]
async fn migrate_output_passes_lint_and_the_api_server() {
    with_namespace("cli-files", |ctx| async move {
        serin_e2e::crds::install_serin(&ctx.client).await?;
        let dir = std::env::temp_dir().join(format!("kubectl-serin-{}", ctx.namespace));
        std::fs::create_dir_all(&dir)?;
        let flagger = dir.join("flagger.yaml");
        std::fs::write(&flagger, FLAGGER)?;
        let path = flagger.to_string_lossy().to_string();

        let lint = plugin::run(&ctx, &["lint", &path], T).await?;
        assert_eq!(lint.code, Some(1), "Flagger manifests are not serin's: {lint:?}");
        assert!(
            lint.stdout.contains(&format!("{path}:1: apiVersion:")),
            "{lint:?}"
        );

        let migrated = plugin::run(&ctx, &["migrate", &path], T).await?;
        assert_eq!(migrated.code, Some(0), "{migrated:?}");
        assert!(
            migrated.stderr.contains("not carried over: spec.ingressRef"),
            "{migrated:?}"
        );
        assert!(
            migrated.stderr.contains("not carried over: metadata.finalizers"),
            "{migrated:?}"
        );
        let out = dir.join("serin.yaml");
        std::fs::write(&out, &migrated.stdout)?;
        let lint = plugin::run(&ctx, &["lint", &out.to_string_lossy()], T).await?;
        assert_eq!(lint.code, Some(0), "{lint:?}");

        // The API server accepts every converted document (server-side dry run).
        let mut kinds = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&migrated.stdout) {
            let mut object: DynamicObject = serde::Deserialize::deserialize(doc)?;
            object.metadata.namespace = Some(ctx.namespace.clone());
            let kind = object.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
            let api: Api<DynamicObject> =
                Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &serin_resource(&kind));
            api.create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &object,
            )
            .await?;
            kinds.push(kind);
        }
        assert_eq!(kinds, ["Canary", "MetricTemplate", "AlertProvider"]);

        // A typo is caught offline, read from stdin, with file:doc: path: message.
        let typo = migrated.stdout.replacen("threshold: 5", "treshold: 5", 1);
        let lint = plugin::run_with_stdin(&ctx, &["lint", "-"], Some(&typo), T).await?;
        assert_eq!(lint.code, Some(1), "{lint:?}");
        assert!(
            lint.stdout
                .contains("<stdin>:1: spec.analysis.treshold: unknown field \"treshold\""),
            "{lint:?}"
        );
        let nothing = plugin::run_with_stdin(&ctx, &["migrate", "-"], Some(&typo), T).await?;
        assert_eq!(nothing.code, Some(1), "{nothing:?}");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    })
    .await;
}

/// kubectl finds the plugin on PATH (`kubectl serin ...`), `-A` lists every
/// namespace, and a Canary that does not exist is exit code 3.
#[tokio::test]
async fn kubectl_runs_the_plugin_from_path() {
    with_namespace("cli-path", |ctx| async move {
        serin_e2e::crds::install_serin(&ctx.client).await?;
        fixtures::create_canary(
            &ctx,
            fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 10 })),
        )
        .await?;
        let plugin_dir = plugin::bin()
            .parent()
            .map(std::path::Path::to_path_buf)
            .ok_or_else(|| anyhow::anyhow!("plugin path has no directory"))?;
        let path = std::env::join_paths(std::iter::once(plugin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))?;
        let out = tokio::time::timeout(
            T,
            tokio::process::Command::new("kubectl")
                .args(["serin", "get", "-n", &ctx.namespace])
                .env("PATH", &path)
                .env("KUBECONFIG", serin_e2e::env::kubeconfig())
                .output(),
        )
        .await??;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "kubectl serin get: {out:?}");
        assert!(
            stdout.starts_with("NAME") && stdout.contains("podinfo"),
            "{stdout}"
        );

        let all = plugin::run(&ctx, &["get", "-A"], T).await?;
        assert_eq!(all.code, Some(0), "{all:?}");
        assert!(
            all.stdout
                .lines()
                .any(|l| l.contains(&ctx.namespace) && l.contains("podinfo")),
            "get -A names the namespace: {}",
            all.stdout
        );

        let missing = plugin::run(&ctx, &["status", "no-such-canary"], T).await?;
        assert_eq!(missing.code, Some(3), "{missing:?}");
        assert!(missing.stderr.contains("no-such-canary"), "{missing:?}");
        Ok(())
    })
    .await;
}

/// `get` shows each metric's last value and verdict and the gate being
/// waited on, read from a real rollout held at a closed promotion gate.
#[tokio::test]
async fn get_shows_metric_values_and_the_gate_waited_on() {
    with_namespace("cli-analysis", |ctx| async move {
        let receiver = serin_e2e::receiver::Receiver::start().await?;
        receiver.answer("gate", serin_e2e::receiver::Answer::Status(403));
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let analysis = json!({
            "stepWeight": 50, "maxWeight": 50,
            "metrics": [{ "name": "success-rate", "query": "vector(100)", "thresholdRange": { "min": 99 } }],
            "webhooks": [{ "name": "ship-it", "type": "confirm-promotion", "url": receiver.url("gate") }],
        });
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", analysis);
        canary["spec"]["metricsServer"] = json!(serin_e2e::env::prometheus_url());
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::WaitingPromotion, T).await?;

        let table = plugin::run(&ctx, &["get"], T).await?;
        assert_eq!(table.code, Some(0), "{table:?}");
        let row = table
            .stdout
            .lines()
            .find(|l| l.starts_with("podinfo"))
            .unwrap_or_default();
        assert!(
            row.contains("WaitingPromotion") && row.contains("50%/50%"),
            "{row}"
        );
        assert!(
            row.contains("success-rate=100 ok"),
            "metric value and verdict: {row}"
        );
        assert!(
            row.contains("confirm-promotion [ship-it]"),
            "the gate waited on: {row}"
        );
        Ok(())
    })
    .await;
}
