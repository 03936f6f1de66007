//! `make demo`: a canary rollout and a rollback, live, on the local control
//! plane (`e2e/cluster.sh up` must have run; `e2e/demo.sh` does it all).

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use serin::api::{Canary, Phase};
use serin_e2e::simulator::{ERROR_RATE_ANNOTATION, SimConfig, Simulator};
use serin_e2e::{TestContext, env, fixtures, wait};

const NAMESPACE: &str = "demo";
const T: Duration = Duration::from_secs(180);

fn say(text: &str) {
    println!("\n\x1b[1m== {text}\x1b[0m");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = serin_e2e::namespace::client().await;
    fresh_namespace(&client).await?;
    let ctx = TestContext::new(client, NAMESPACE);

    say("Installing serin's CRDs, a podinfo Deployment, and starting serin");
    let serin = fixtures::podinfo_with_serin(&ctx, "ghcr.io/stefanprodan/podinfo:6.7.0", 2).await?;
    let metrics = json!([
        { "name": "request-success-rate", "interval": "10s", "minRequests": 20, "thresholdRange": { "min": 99 } },
        { "name": "request-duration", "interval": "10s", "minRequests": 20, "thresholdRange": { "max": 500 } }
    ]);
    let mut canary = fixtures::gatewayapi_canary(
        "podinfo",
        "3s",
        json!({ "stepWeight": 20, "maxWeight": 60, "threshold": 2, "metrics": metrics }),
    );
    canary["spec"]["metricsServer"] = json!(env::prometheus_url());
    fixtures::create_canary(&ctx, canary).await?;
    println!("serin logs: {}", serin.log.display());
    fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
    fixtures::wait_for_no_pods(&ctx, "podinfo", T).await?;
    println!("podinfo-primary runs 6.7.0 and gets all traffic; podinfo is scaled to zero.");

    say(
        "Simulated users: 50 requests/s through the HTTPRoute (and 10/s of load test on the canary), scraped by Prometheus",
    );
    let _sim = Simulator::start(
        &ctx,
        "podinfo",
        SimConfig {
            rps: 50.0,
            canary_direct_rps: 10.0,
            ..SimConfig::default()
        },
    )
    .await?;

    say("A new version (6.7.1): serin shifts traffic step by step while the metrics stay healthy");
    fixtures::set_image(&ctx, "podinfo", "ghcr.io/stefanprodan/podinfo:6.7.1").await?;
    watch().await?;
    fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;

    say("A bad version (6.7.2) that fails 10% of its requests: serin rolls it back by itself");
    let patch = json!({ "spec": { "template": {
        "metadata": { "annotations": { ERROR_RATE_ANNOTATION: "0.1" } },
        "spec": { "containers": [{ "name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.7.2" }] }
    } } });
    let deployments: Api<Deployment> = ctx.api();
    deployments
        .patch("podinfo", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    watch().await?;
    let failed = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
    let status = failed.status.unwrap_or_default();
    say("Why it rolled back (status.message and status.lastAnalysis)");
    println!("{}", status.message.unwrap_or_default());
    for check in &status.last_analysis {
        println!("  {:<22} {:?}: {}", check.name, check.verdict, check.message);
    }

    println!(
        "\nThe control plane and Prometheus keep running; serin and the simulated users stop with this demo.\n\
         To explore:\n  eval \"$(e2e/cluster.sh env)\"\n  kubectl -n {NAMESPACE} get canaries,deployments,httproutes\n  \
         kubectl -n {NAMESPACE} get events --field-selector involvedObject.kind=Canary\n  \
         target/debug/kubectl-serin -n {NAMESPACE} get podinfo\n  \
         target/debug/serin controller --metrics-addr 127.0.0.1:0   # run serin again\n\
         To stop it all: make cluster-down"
    );
    Ok(())
}

async fn fresh_namespace(client: &kube::Client) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if let Some(old) = namespaces.get_opt(NAMESPACE).await? {
        // Canaries carry a finalizer only a running serin removes: drop it.
        let canaries: Api<Canary> = Api::namespaced(client.clone(), NAMESPACE);
        for canary in canaries.list(&Default::default()).await?.items {
            let name = canary.metadata.name.unwrap_or_default();
            let patch = json!({ "metadata": { "finalizers": null } });
            canaries
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        namespaces.delete(NAMESPACE, &Default::default()).await?;
        let uid = old.metadata.uid.unwrap_or_default();
        wait::for_deletion(&namespaces, NAMESPACE, &uid, T).await?;
    }
    let namespace: Namespace = serde_json::from_value(json!({ "metadata": { "name": NAMESPACE } }))?;
    namespaces.create(&PostParams::default(), &namespace).await?;
    Ok(())
}

/// `kubectl serin get podinfo --watch` in the foreground, until the rollout ends.
async fn watch() -> anyhow::Result<()> {
    let plugin = env::serin_bin().with_file_name("kubectl-serin");
    let status = tokio::process::Command::new(&plugin)
        .args(["-n", NAMESPACE, "get", "podinfo", "--watch"])
        .stdin(Stdio::null())
        .status()
        .await
        .with_context(|| format!("running {}", plugin.display()))?;
    anyhow::ensure!(status.code().is_some(), "kubectl-serin was killed");
    Ok(())
}
