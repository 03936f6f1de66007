//! `make demo`: a canary rollout and a rollback, live, on the local control
//! plane (`e2e/cluster.sh up` must have run; `e2e/demo.sh` does it all).
//!
//! The Deployment and Canary are `examples/gatewayapi/podinfo.yaml` itself,
//! with only what a laptop demo must change ([`DEMO_OVERRIDES`]).
//!
//! Environment:
//! - `SERIN_DEMO_CHECK=1`: plain output without the closing hints, for CI
//!   (`e2e/tests/demo.rs`). The demo never prompts in either mode; it exits
//!   non-zero unless the rollout succeeded AND the bad version was rolled back
//!   by a failed metric check.
//! - `SERIN_DEMO_NAMESPACE`: an existing, empty namespace the caller manages.
//!   Without it the demo (re)creates namespace `demo`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use serin::api::{Canary, Phase, Verdict};
use serin_e2e::simulator::{ERROR_RATE_ANNOTATION, SimConfig, Simulator};
use serin_e2e::{TestContext, env, examples, fixtures, wait};

const DEFAULT_NAMESPACE: &str = "demo";
const EXAMPLE: &str = "gatewayapi/podinfo.yaml";
/// The example's image tags, before and after.
const GOOD: &str = "ghcr.io/stefanprodan/podinfo:6.7.1";
const BAD: &str = "ghcr.io/stefanprodan/podinfo:6.7.2";
const T: Duration = Duration::from_secs(180);

/// What the demo changes in the example, and why: the example is paced for
/// production (1-minute steps and query windows) and names the in-cluster
/// Prometheus; the demo runs in a minute against the local Prometheus.
const DEMO_OVERRIDES: &str = "namespace, spec.metricsServer (the local Prometheus), \
                              analysis.interval 3s, each metric's interval 10s";

struct Demo {
    ctx: TestContext,
    check: bool,
}

impl Demo {
    fn say(&self, text: &str) {
        if self.check {
            println!("\n== {text}");
        } else {
            println!("\n\x1b[1m== {text}\x1b[0m");
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let check = std::env::var("SERIN_DEMO_CHECK").is_ok_and(|v| v == "1");
    let client = serin_e2e::namespace::client().await;
    let namespace = match std::env::var("SERIN_DEMO_NAMESPACE") {
        Ok(namespace) if !namespace.is_empty() => namespace,
        _ => {
            fresh_namespace(&client, DEFAULT_NAMESPACE).await?;
            DEFAULT_NAMESPACE.to_string()
        }
    };
    let demo = Demo {
        ctx: TestContext::new(client, &namespace),
        check,
    };
    run(&demo).await?;
    if check {
        println!("\ndemo check passed: the rollout succeeded and the bad version was rolled back");
    } else {
        explore_hints(&namespace);
    }
    Ok(())
}

async fn run(demo: &Demo) -> anyhow::Result<()> {
    let ctx = &demo.ctx;
    let (deployment, canary) = example(&ctx.namespace)?;
    // New versions go to the example's own container, whatever it is called.
    let container = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .map(|c| c.name.clone())
        .context("the example's Deployment has no container")?;
    demo.say(&format!(
        "Installing serin's CRDs, examples/{EXAMPLE} (demo overrides: {DEMO_OVERRIDES}), and starting serin"
    ));
    serin_e2e::crds::install_serin(&ctx.client).await?;
    fixtures::install_gateway_api(&ctx.client).await?;
    ctx.api::<Deployment>()
        .create(&PostParams::default(), &deployment)
        .await?;
    let serin = serin_e2e::serin::SerinProcess::controller(ctx, &[]).await?;
    ctx.api::<Canary>()
        .create(&PostParams::default(), &canary)
        .await?;
    println!("serin logs: {}", serin.log.display());
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Initialized, T).await?;
    fixtures::wait_for_no_pods(ctx, "podinfo", T).await?;
    println!("podinfo-primary runs the example's image and gets all traffic; podinfo is scaled to zero.");

    demo.say(
        "Simulated users: 50 requests/s through the HTTPRoute (and 10/s of load test on the canary), scraped by Prometheus",
    );
    let _sim = Simulator::start(
        ctx,
        "podinfo",
        SimConfig {
            rps: 50.0,
            canary_direct_rps: 10.0,
            ..SimConfig::default()
        },
    )
    .await?;

    demo.say("A new version (6.7.1): serin shifts traffic step by step while the metrics stay healthy");
    patch_podinfo(ctx, &container, GOOD, None).await?;
    watch(ctx).await?;
    fixtures::wait_for_phase(ctx, "podinfo", Phase::Succeeded, T).await?;
    ensure_primary_runs(ctx, GOOD).await?;

    demo.say("A bad version (6.7.2) that fails 10% of its requests: serin rolls it back by itself");
    patch_podinfo(ctx, &container, BAD, Some("0.1")).await?;
    watch(ctx).await?;
    let failed = fixtures::wait_for_phase(ctx, "podinfo", Phase::Failed, T).await?;
    let status = failed.status.unwrap_or_default();
    demo.say("Why it rolled back (status.message and status.lastAnalysis)");
    println!("{}", status.message.clone().unwrap_or_default());
    for check in &status.last_analysis {
        println!("  {:<22} {:?}: {}", check.name, check.verdict, check.message);
    }
    // A rollback for any other reason (a progress deadline, say) would not show what the demo claims.
    ensure!(
        status
            .last_analysis
            .iter()
            .any(|c| c.name == "request-success-rate" && c.verdict == Verdict::Fail),
        "the rollback was not caused by a failed request-success-rate check: {status:?}"
    );
    ensure_primary_runs(ctx, GOOD).await?;
    Ok(())
}

/// The example's Deployment and Canary, with [`DEMO_OVERRIDES`] applied.
fn example(namespace: &str) -> anyhow::Result<(Deployment, Canary)> {
    let file = examples::root().join(EXAMPLE);
    let mut deployment = None;
    let mut canary = None;
    for mut doc in examples::documents(&file)? {
        doc["metadata"]["namespace"] = json!(namespace);
        match examples::kind(&doc) {
            "Deployment" => {
                deployment = Some(serde_json::from_value(doc).context("the example's Deployment")?)
            }
            "Canary" => canary = Some(demo_canary(doc)?),
            other => bail!("{}: unexpected kind {other:?}", file.display()),
        }
    }
    match (deployment, canary) {
        (Some(d), Some(c)) => Ok((d, c)),
        _ => bail!("{} must hold one Deployment and one Canary", file.display()),
    }
}

fn demo_canary(mut doc: Value) -> anyhow::Result<Canary> {
    doc["spec"]["metricsServer"] = json!(env::prometheus_url());
    let analysis = &mut doc["spec"]["analysis"];
    analysis["interval"] = json!("3s");
    let metrics = analysis["metrics"]
        .as_array_mut()
        .context("the example's Canary has no analysis.metrics")?;
    for metric in metrics {
        metric["interval"] = json!("10s");
    }
    serde_json::from_value(doc).context("the example's Canary")
}

/// A new image for `container` of Deployment `podinfo`, optionally with a simulated error rate.
async fn patch_podinfo(
    ctx: &TestContext,
    container: &str,
    image: &str,
    error_rate: Option<&str>,
) -> anyhow::Result<()> {
    let mut template = json!({ "spec": { "containers": [{ "name": container, "image": image }] } });
    if let Some(rate) = error_rate {
        template["metadata"] = json!({ "annotations": { ERROR_RATE_ANNOTATION: rate } });
    }
    let patch = json!({ "spec": { "template": template } });
    ctx.api::<Deployment>()
        .patch("podinfo", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    Ok(())
}

async fn ensure_primary_runs(ctx: &TestContext, image: &str) -> anyhow::Result<()> {
    let primary = ctx.api::<Deployment>().get("podinfo-primary").await?;
    let running = fixtures::image_of(&primary);
    ensure!(
        running.as_deref() == Some(image),
        "podinfo-primary runs {running:?}, expected {image}"
    );
    Ok(())
}

/// `kubectl serin get podinfo --watch` in the foreground, until the rollout
/// ends. It must exit 0: a watch that breaks fails the demo, and one that
/// never sees the end is stopped after [`T`].
async fn watch(ctx: &TestContext) -> anyhow::Result<()> {
    let plugin = serin_e2e::plugin::bin();
    let mut child = tokio::process::Command::new(&plugin)
        .args(["-n", &ctx.namespace, "get", "podinfo", "--watch"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {}", plugin.display()))?;
    let status = tokio::time::timeout(T, child.wait())
        .await
        .with_context(|| format!("`kubectl serin get --watch` did not end within {T:?}"))??;
    ensure!(
        status.success(),
        "`kubectl serin get podinfo --watch` failed: {status}"
    );
    Ok(())
}

fn explore_hints(namespace: &str) {
    let plugin = serin_e2e::plugin::bin();
    let serin = env::serin_bin();
    println!(
        "\nThe control plane and Prometheus keep running; serin and the simulated users stop with this demo.\n\
         To explore:\n  eval \"$(e2e/cluster.sh env)\"\n  kubectl -n {namespace} get canaries,deployments,httproutes\n  \
         kubectl -n {namespace} get events --field-selector involvedObject.kind=Canary\n  \
         {} -n {namespace} get podinfo\n  \
         {} controller --metrics-addr 127.0.0.1:0   # run serin again\n\
         To stop it all: make cluster-down",
        plugin.display(),
        serin.display()
    );
}

async fn fresh_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if let Some(old) = namespaces.get_opt(name).await? {
        // Canaries carry a finalizer only a running serin removes: drop it.
        let canaries: Api<Canary> = Api::namespaced(client.clone(), name);
        for canary in canaries.list(&Default::default()).await?.items {
            let canary_name = canary.metadata.name.unwrap_or_default();
            let patch = json!({ "metadata": { "finalizers": null } });
            canaries
                .patch(&canary_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        namespaces.delete(name, &Default::default()).await?;
        let uid = old.metadata.uid.unwrap_or_default();
        wait::for_deletion(&namespaces, name, &uid, T).await?;
    }
    let namespace: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    namespaces.create(&PostParams::default(), &namespace).await?;
    Ok(())
}
