//! The Helm charts: they lint clean, serin's CRDs are the generated ones, and
//! what both charts render for several value sets is accepted by a real API
//! server (`kubectl apply --dry-run=server`) with RBAC free of wildcards; the
//! load tester's Role allows only its gate-state ConfigMap. That serin's RBAC
//! is also sufficient is proved by every other e2e test: they run serin as the
//! chart's ServiceAccount (`serin_e2e::rbac`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use serin_e2e::{helm, with_namespace};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Metrics the Grafana dashboard must chart.
const DASHBOARD_METRICS: [&str; 6] = [
    "flagger_canary_weight",
    "flagger_canary_status",
    "serin_canary_phase",
    "flagger_canary_metric_analysis",
    "serin_canary_gate_waiting_seconds",
    "serin_reconcile_duration_seconds",
];

fn yaml_files(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("file name")?
                .to_string();
            files.insert(name, std::fs::read_to_string(&path)?);
        }
    }
    Ok(files)
}

#[test]
fn chart_crds_are_the_generated_crds() -> anyhow::Result<()> {
    let generated = yaml_files(&helm::chart("serin").join("../../crds"))?;
    let chart = yaml_files(&helm::chart("serin").join("crds"))?;
    ensure!(!generated.is_empty(), "no generated CRDs found");
    ensure!(
        generated.keys().eq(chart.keys()),
        "charts/serin/crds has {:?}, crds/ has {:?}: copy crds/*.yaml into charts/serin/crds",
        chart.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>()
    );
    for (name, text) in &generated {
        ensure!(
            chart.get(name) == Some(text),
            "charts/serin/crds/{name} differs from crds/{name}: copy crds/*.yaml into charts/serin/crds"
        );
    }
    Ok(())
}

#[test]
fn dashboard_charts_the_canary_metrics() -> anyhow::Result<()> {
    let path = helm::chart("serin").join("dashboards/serin.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .context("dashboard without panels")?
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    for metric in DASHBOARD_METRICS {
        ensure!(
            exprs.iter().any(|e| e.contains(metric)),
            "no panel queries {metric}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn charts_lint_clean() -> anyhow::Result<()> {
    for chart in ["serin", "serin-loadtester"] {
        let dir = helm::chart(chart);
        let out = helm::run(&["lint", "--strict", dir.to_str().context("path")?]).await?;
        ensure!(out.contains("0 chart(s) failed"), "helm lint {chart}: {out}");
    }
    Ok(())
}

/// `kubectl apply --dry-run=server` of `docs`: the API server validates every
/// object (schemas, RBAC references, CRD schemas) without storing anything.
async fn server_dry_run(docs: &[Value]) -> anyhow::Result<String> {
    let mut stream = String::new();
    for doc in docs {
        stream.push_str("---\n");
        stream.push_str(&serde_json::to_string(doc)?);
        stream.push('\n');
    }
    let mut child = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=serin-e2e",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running kubectl (on PATH after `eval \"$(e2e/cluster.sh env)\"`)")?;
    let mut stdin = child.stdin.take().context("kubectl stdin")?;
    stdin.write_all(stream.as_bytes()).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "kubectl apply --dry-run=server failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| helm::kind(d) == kind).collect()
}

fn rules(docs: &[Value]) -> Vec<&Value> {
    docs.iter()
        .filter(|d| matches!(helm::kind(d), "Role" | "ClusterRole"))
        .flat_map(|d| d["rules"].as_array().into_iter().flatten())
        .collect()
}

fn grants(docs: &[Value], resource: &str) -> bool {
    rules(docs).iter().any(|r| {
        r["resources"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x == resource))
    })
}

fn no_wildcards(docs: &[Value]) -> anyhow::Result<()> {
    let rules = rules(docs);
    ensure!(!rules.is_empty(), "no RBAC rules rendered");
    for rule in rules {
        for field in ["apiGroups", "resources", "verbs", "resourceNames"] {
            let wild = rule[field]
                .as_array()
                .is_some_and(|values| values.iter().any(|v| v.as_str().is_some_and(|s| s.contains('*'))));
            ensure!(!wild, "wildcard {field} in rule {rule}");
        }
    }
    Ok(())
}

fn controller_args(docs: &[Value]) -> anyhow::Result<Vec<String>> {
    let deployment = of_kind(docs, "Deployment")
        .into_iter()
        .next()
        .context("no Deployment")?;
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .context("no container args")?;
    Ok(args
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect())
}

/// Renders `chart` with `values`, checks the RBAC has no wildcards and
/// applies the result to the cluster as a server-side dry run. ServiceMonitor
/// objects are left out of the dry run (the test cluster has no Prometheus
/// Operator CRD) and returned for checks of their own.
async fn render_and_dry_run(
    chart: &str,
    release: &str,
    namespace: &str,
    values: &str,
) -> anyhow::Result<Vec<Value>> {
    let yaml = helm::template(chart, release, namespace, &["--include-crds", "--set", values]).await?;
    let docs = helm::documents(&yaml)?;
    no_wildcards(&docs)?;
    let applied: Vec<Value> = docs
        .iter()
        .filter(|d| helm::kind(d) != "ServiceMonitor")
        .cloned()
        .collect();
    let out = server_dry_run(&applied).await?;
    ensure!(
        out.lines().count() == applied.len(),
        "kubectl applied {} of {} objects: {out}",
        out.lines().count(),
        applied.len()
    );
    Ok(docs)
}

#[tokio::test]
async fn default_values_render_and_apply() {
    with_namespace("helm-default", |ctx| async move {
        let docs = render_and_dry_run("serin", "serin", &ctx.namespace, "image.tag=test").await?;
        ensure!(of_kind(&docs, "ClusterRole").len() == 1, "one ClusterRole");
        ensure!(
            of_kind(&docs, "CustomResourceDefinition").len() == 3,
            "serin's three CRDs"
        );
        ensure!(
            !grants(&docs, "httproutes")
                && !grants(&docs, "virtualservices")
                && !grants(&docs, "trafficsplits")
        );
        ensure!(!grants(&docs, "leases"), "no Lease rules without leader election");
        ensure!(of_kind(&docs, "ServiceMonitor").is_empty() && of_kind(&docs, "ConfigMap").is_empty());
        let args = controller_args(&docs)?;
        ensure!(args.contains(&"--provider=kubernetes".to_string()), "{args:?}");
        ensure!(!args.iter().any(|a| a == "--leader-elect"), "{args:?}");
        let deployment = &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
        let container = &deployment["containers"][0];
        ensure!(
            container["image"] == "ghcr.io/serin-dev/serin:test",
            "{}",
            container["image"]
        );
        ensure!(container["securityContext"]["readOnlyRootFilesystem"] == true);
        ensure!(container["securityContext"]["capabilities"]["drop"][0] == "ALL");
        ensure!(deployment["securityContext"]["runAsNonRoot"] == true);
        ensure!(deployment["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault");
        ensure!(container["livenessProbe"]["httpGet"]["path"] == "/healthz");
        ensure!(container["readinessProbe"]["httpGet"]["path"] == "/readyz");
        ensure!(
            container["resources"]["requests"]["cpu"].is_string()
                && container["resources"]["requests"]["memory"].is_string(),
            "the controller asks for CPU and memory: {}",
            container["resources"]
        );
        ensure!(
            args.contains(&"--max-concurrent-reconciles=256".to_string()),
            "{args:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn every_option_renders_and_applies() {
    with_namespace("helm-options", |ctx| async move {
        let values = format!(
            "provider=istio,providers.smi=true,watchNamespace={},replicaCount=2,serviceMonitor.enabled=true,\
             grafanaDashboard.enabled=true,logFormat=text,logLevel=debug,metricsServer=http://prom:9090,\
             maxConcurrentReconciles=32",
            ctx.namespace
        );
        let docs = render_and_dry_run("serin", "serin-all", &ctx.namespace, &values).await?;
        ensure!(
            of_kind(&docs, "ClusterRole").is_empty(),
            "watchNamespace gives a Role, not a ClusterRole"
        );
        ensure!(
            of_kind(&docs, "Role").len() == 2,
            "the watch Role and the leader-election Role"
        );
        ensure!(
            grants(&docs, "virtualservices")
                && grants(&docs, "destinationrules")
                && grants(&docs, "trafficsplits")
        );
        ensure!(!grants(&docs, "httproutes"), "Gateway API only when enabled");
        ensure!(grants(&docs, "leases"), "replicas > 1 elect a leader");
        let args = controller_args(&docs)?;
        for expected in [
            "--provider=istio".to_string(),
            format!("--namespace={}", ctx.namespace),
            "--leader-elect".to_string(),
            format!("--leader-election-namespace={}", ctx.namespace),
            "--log-format=text".to_string(),
            "--log-level=debug".to_string(),
            "--metrics-server=http://prom:9090".to_string(),
            "--max-concurrent-reconciles=32".to_string(),
        ] {
            ensure!(args.contains(&expected), "{expected} missing from {args:?}");
        }
        let monitors = of_kind(&docs, "ServiceMonitor");
        ensure!(monitors.len() == 1, "one ServiceMonitor");
        let service = of_kind(&docs, "Service")
            .into_iter()
            .next()
            .context("no Service")?;
        ensure!(
            monitors[0]["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"],
            "the ServiceMonitor scrapes the metrics Service's port"
        );
        let dashboard = of_kind(&docs, "ConfigMap")
            .into_iter()
            .next()
            .context("no dashboard ConfigMap")?;
        ensure!(dashboard["metadata"]["labels"]["grafana_dashboard"] == "1");
        let json: Value = serde_json::from_str(
            dashboard["data"]["serin.json"]
                .as_str()
                .context("no serin.json")?,
        )?;
        ensure!(json["uid"] == "serin-canaries");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_e2e_identity_is_the_chart_with_every_router() -> anyhow::Result<()> {
    // What every other e2e test runs serin with.
    let docs = serin_e2e::rbac::render().await?;
    no_wildcards(&docs)?;
    for resource in [
        "canaries",
        "deployments",
        "httproutes",
        "virtualservices",
        "trafficsplits",
        "leases",
    ] {
        ensure!(grants(&docs, resource), "the e2e identity lacks {resource}");
    }
    Ok(())
}

/// The identity the other tests run serin as really is limited to the chart's
/// rules: what the chart grants works, anything else is refused with a 403.
#[tokio::test]
async fn the_e2e_identity_is_refused_what_the_chart_does_not_grant() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{DeleteParams, ListParams};
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use kube::{Api, Client, Config};
    use serin::api::Canary;

    with_namespace("helm-rbac", |ctx| async move {
        serin_e2e::crds::install_serin(&ctx.client).await?;
        let identity = serin_e2e::rbac::identity(&ctx.client).await?;
        let kubeconfig = Kubeconfig::read_from(&identity.kubeconfig)?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        let client = Client::try_from(config)?;
        let canaries: Api<Canary> = Api::namespaced(client.clone(), &ctx.namespace);
        canaries
            .list(&ListParams::default())
            .await
            .context("listing Canaries is granted")?;
        let forbidden = |result: Result<(), kube::Error>, what: &str| match result {
            Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
            other => Err(anyhow::anyhow!("{what}: expected a 403, got {other:?}")),
        };
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ctx.namespace);
        forbidden(pods.list(&ListParams::default()).await.map(drop), "listing Pods")?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ctx.namespace);
        forbidden(
            deployments
                .delete("podinfo", &DeleteParams::default())
                .await
                .map(drop),
            "deleting a Deployment",
        )?;
        forbidden(
            canaries
                .delete("podinfo", &DeleteParams::default())
                .await
                .map(drop),
            "deleting a Canary",
        )?;
        Ok(())
    })
    .await;
}

/// The load tester chart renders and applies, and its only permissions are
/// the ones its gate state needs: read and update the one ConfigMap the
/// Deployment is told to use, and create it (which RBAC cannot limit by name).
#[tokio::test]
async fn loadtester_chart_renders_applies_and_is_least_privilege() {
    with_namespace("helm-loadtester", |ctx| async move {
        let values = format!(
            "image.tag=test,namespaceRegexp=^(test|{0})$,allowNamespaces={{{0}}}",
            ctx.namespace
        );
        let docs = render_and_dry_run("serin-loadtester", "lt", &ctx.namespace, &values).await?;
        let mut kinds: Vec<&str> = docs.iter().map(helm::kind).collect();
        kinds.sort_unstable();
        ensure!(
            kinds == ["Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"],
            "unexpected objects (no cluster-wide RBAC allowed): {kinds:?}"
        );
        let state = "lt-gates";
        let deployment = of_kind(&docs, "Deployment")[0];
        let pod = &deployment["spec"]["template"]["spec"];
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_array()
            .context("no container args")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let expected = format!("--state-configmap={}/{state}", ctx.namespace);
        ensure!(
            args.contains(&expected.as_str()),
            "{expected} missing from {args:?}"
        );
        ensure!(
            args.contains(&format!("--allow-namespace={}", ctx.namespace).as_str()),
            "{args:?}"
        );

        let rules = rules(&docs);
        ensure!(rules.len() == 2, "two rules, got {rules:?}");
        for rule in &rules {
            ensure!(rule["apiGroups"] == serde_json::json!([""]), "{rule}");
            ensure!(rule["resources"] == serde_json::json!(["configmaps"]), "{rule}");
        }
        let named: Vec<&&Value> = rules
            .iter()
            .filter(|r| r.get("resourceNames").is_some())
            .collect();
        ensure!(
            named.len() == 1 && named[0]["resourceNames"] == serde_json::json!([state]),
            "read and update only the gate-state ConfigMap: {rules:?}"
        );
        ensure!(
            named[0]["verbs"] == serde_json::json!(["get", "update"]),
            "{}",
            named[0]
        );
        let unnamed: Vec<&&Value> = rules
            .iter()
            .filter(|r| r.get("resourceNames").is_none())
            .collect();
        ensure!(
            unnamed.len() == 1 && unnamed[0]["verbs"] == serde_json::json!(["create"]),
            "only create is unrestricted by name: {rules:?}"
        );

        let binding = of_kind(&docs, "RoleBinding")[0];
        let account = pod["serviceAccountName"]
            .as_str()
            .context("no serviceAccountName")?;
        ensure!(
            binding["roleRef"]["kind"] == "Role"
                && binding["roleRef"]["name"] == of_kind(&docs, "Role")[0]["metadata"]["name"]
        );
        ensure!(
            binding["subjects"][0]["name"] == account,
            "the binding names the pod's ServiceAccount"
        );
        ensure!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] == true);
        Ok(())
    })
    .await;
}
