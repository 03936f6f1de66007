//! `serin-bench N`: the scale benchmark (run by e2e/bench.sh, not a test).
//!
//! Creates N Deployments with a gatewayapi Canary each in namespace `bench`
//! of a running local cluster, starts serin under the Helm chart's RBAC,
//! waits until all are initialized, measures an idle window, then bumps
//! every image at once and waits until all have promoted. It prints one
//! JSON line of figures (see `Figures`); e2e/bench.sh turns them into the
//! table in e2e/README.md (`serin-bench table RESULTS`).
//!
//! Environment: KUBECONFIG and SERIN_E2E_HELM (from `e2e/cluster.sh env`),
//! SERIN_BIN (a release build), SERIN_BENCH_AUDIT_LOG (the API server's
//! audit log, written for serin's ServiceAccount only).

mod measure;
mod observe;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use serin::api::{Canary, Phase};
use serin_e2e::{crds, fixtures, rbac};
use tokio::process::Command;
use tokio::time::Instant;

use measure::{READ_VERBS, TICKS_PER_SECOND, WRITE_VERBS, percentile};

const NAMESPACE: &str = "bench";
/// Requests in flight while creating or bumping objects.
const CONCURRENCY: usize = 32;
/// Idle window after every Canary is initialized: what a quiet serin costs.
const IDLE: Duration = Duration::from_secs(20);
const STEP_WEIGHT: i32 = 20;
const MAX_WEIGHT: i32 = 60;
const USER: &str = "system:serviceaccount:serin-e2e-system:serin-e2e";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("table") {
        return table::print(&args.nth(1).context("usage: serin-bench table RESULTS.jsonl")?);
    }
    let n: usize = args
        .next()
        .context("usage: serin-bench N [INTERVAL_SECONDS]")?
        .parse()?;
    let interval: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let serin_bin = serin_e2e::env::serin_bin();
    let audit_log = PathBuf::from(std::env::var("SERIN_BENCH_AUDIT_LOG").context("SERIN_BENCH_AUDIT_LOG")?);
    // Budgets: a run that cannot finish reports what it measured until then.
    let budget = |var: &str| -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(match std::env::var(var) {
            Ok(v) => v.parse().with_context(|| format!("{var}={v}"))?,
            Err(_) => 1800 + n as u64,
        }))
    };
    let (init_budget, rollout_budget) = (
        budget("SERIN_BENCH_INIT_BUDGET_S")?,
        budget("SERIN_BENCH_ROLLOUT_BUDGET_S")?,
    );

    let client = Client::try_default().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces.create(&PostParams::default(), &ns).await?;
    crds::install_serin(&client).await?;
    fixtures::install_gateway_api(&client).await?;
    let identity = rbac::identity(&client).await?;

    let t_setup = Instant::now();
    create_all(&client, n, interval).await?;
    eprintln!(
        "created {n} Deployments and Canaries in {:.0?}",
        t_setup.elapsed()
    );

    let observer = observe::Observer::start(client.clone(), NAMESPACE);
    let log = std::env::temp_dir().join(format!("serin-bench-{n}.log"));
    let mut serin = Command::new(&serin_bin)
        .args([
            "--log-level",
            "info",
            "controller",
            "--namespace",
            NAMESPACE,
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", &identity.kubeconfig)
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(&log)?)
        .kill_on_drop(true)
        .spawn()
        .context("starting serin")?;
    let pid = serin.id().context("serin's pid")?;
    let samples = measure::sample_process(pid, Duration::from_millis(250));
    let t_start = Instant::now();

    let all_initialized = observer
        .wait_until("all initialized", init_budget, n, |c| {
            c.phase == Phase::Initialized
        })
        .await;
    let init_time = t_start.elapsed();
    let initialized = observer.names(|c| c.phase == Phase::Initialized);
    eprintln!(
        "{} of {n} initialized {init_time:.0?} after serin started",
        initialized.len()
    );

    // The idle window.
    let idle_from = (Instant::now(), measure::file_len(&audit_log));
    tokio::time::sleep(IDLE).await;
    let idle_to = (Instant::now(), measure::file_len(&audit_log));
    let idle_requests = measure::audit_counts(&audit_log, idle_from.1, idle_to.1, USER)?;

    // Everyone at once.
    let bump_from = (Instant::now(), measure::file_len(&audit_log));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "app", "image": "podinfo:2" }] } } } });
    // Only initialized Canaries roll out: a run out of budget bumps what it has.
    let rolling = initialized.len();
    futures::stream::iter(initialized.into_iter().map(|name| {
        let (deployments, patch, observer) = (deployments.clone(), patch.clone(), &observer);
        async move {
            observer.bumped(&name);
            deployments
                .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
                .with_context(|| format!("bumping {name}"))
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await?;
    let bump_took = bump_from.0.elapsed();
    eprintln!("bumped {rolling} images in {bump_took:.1?}");

    let all_promoted = observer
        .wait_until("all promoted", rollout_budget, rolling, |c| {
            c.phase == Phase::Succeeded
        })
        .await;
    let promoted = observer.names(|c| c.phase == Phase::Succeeded).len();
    let done = (Instant::now(), measure::file_len(&audit_log));
    let rollout_requests = measure::audit_counts(&audit_log, bump_from.1, done.1, USER)?;
    let api_reactions = measure::api_reactions(&audit_log, bump_from.1, done.1, USER)?;
    let _ = serin.kill().await;

    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let rss_in = |from: Instant, to: Instant| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| s.at >= from && s.at <= to)
            .map(|s| s.rss_kib as f64 / 1024.0)
            .collect()
    };
    let cpu_at = |at: Instant| -> f64 {
        samples
            .iter()
            .rev()
            .find(|s| s.at <= at)
            .map(|s| s.cpu_ticks as f64 / TICKS_PER_SECOND)
            .unwrap_or(0.0)
    };
    let peak_rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0;
    let steady_rss = percentile(&rss_in(idle_from.0, idle_to.0), 50.0).unwrap_or(0.0);
    let reactions = observer.reactions();
    let drifts = observer.step_drifts(Duration::from_secs(interval));
    let promoted_after = observer.last_success_after(bump_from.0);

    let sum = |counts: &std::collections::BTreeMap<String, u64>, verbs: &[&str]| -> u64 {
        counts
            .iter()
            .filter(|(k, _)| verbs.iter().any(|v| k.split(' ').next() == Some(*v)))
            .map(|(_, c)| *c)
            .sum()
    };
    let steps = observer.steps_after(bump_from.0).max(1) as u64;
    let figures = json!({
        "n": n,
        "initialized": rolling,
        "promoted": promoted,
        "complete": all_initialized && all_promoted,
        "steps": steps,
        "interval_s": interval,
        "date": jiff_now(),
        "peak_rss_mib": round1(peak_rss),
        "steady_rss_mib": round1(steady_rss),
        "cpu_s_total": round1(cpu_at(done.0)),
        "cpu_s_rollout": round1(cpu_at(done.0) - cpu_at(bump_from.0)),
        "cpu_s_idle_window": round1(cpu_at(idle_to.0) - cpu_at(idle_from.0)),
        "init_s": round1(init_time.as_secs_f64()),
        "bump_s": round1(bump_took.as_secs_f64()),
        "reaction_p50_ms": percentile(&reactions, 50.0).map(|v| (v * 1000.0).round()),
        "reaction_p99_ms": percentile(&reactions, 99.0).map(|v| (v * 1000.0).round()),
        "reactions": reactions.len(),
        "api_reaction_p50_ms": percentile(&api_reactions, 50.0).map(|v| (v * 1000.0).round()),
        "api_reaction_p99_ms": percentile(&api_reactions, 99.0).map(|v| (v * 1000.0).round()),
        "api_reactions": api_reactions.len(),
        "drift_p50_ms": percentile(&drifts, 50.0).map(|v| (v * 1000.0).round()),
        "drift_p99_ms": percentile(&drifts, 99.0).map(|v| (v * 1000.0).round()),
        "drifts": drifts.len(),
        "all_promoted_s": promoted_after.map(|d| round1(d.as_secs_f64())),
        "idle_requests": sum(&idle_requests, &WRITE_VERBS) + sum(&idle_requests, &READ_VERBS),
        "requests_per_step": round2((sum(&rollout_requests, &WRITE_VERBS) + sum(&rollout_requests, &READ_VERBS)) as f64 / steps as f64),
        "writes_per_step": round2(sum(&rollout_requests, &WRITE_VERBS) as f64 / steps as f64),
        "reads_per_step": round2(sum(&rollout_requests, &READ_VERBS) as f64 / steps as f64),
        "writes_per_rollout": round2(sum(&rollout_requests, &WRITE_VERBS) as f64 / rolling.max(1) as f64),
        "rollout_requests": rollout_requests,
        "idle_requests_by_kind": idle_requests,
    });
    println!("{figures}");
    if observer.failed() > 0 {
        bail!("{} Canaries failed; see {}", observer.failed(), log.display());
    }
    Ok(())
}

fn name(i: usize) -> String {
    format!("app-{i:05}")
}

async fn create_all(client: &Client, n: usize, interval: u64) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let canaries: Api<Canary> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter((0..n).map(|i| {
        let (deployments, canaries) = (deployments.clone(), canaries.clone());
        async move {
            let name = name(i);
            let mut deployment = fixtures::deployment(&name, "podinfo:1", 1);
            if let Some(container) = deployment
                .spec
                .as_mut()
                .and_then(|s| s.template.spec.as_mut())
                .and_then(|p| p.containers.first_mut())
            {
                container.name = "app".into();
            }
            deployments.create(&PostParams::default(), &deployment).await?;
            let mut canary = fixtures::gatewayapi_canary(
                &name,
                &format!("{interval}s"),
                json!({ "stepWeight": STEP_WEIGHT, "maxWeight": MAX_WEIGHT }),
            );
            canary["spec"]["progressDeadlineSeconds"] = json!(1800);
            let canary: Canary = serde_json::from_value(canary)?;
            canaries.create(&PostParams::default(), &canary).await?;
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await?;
    Ok(())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn jiff_now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}
