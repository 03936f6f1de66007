//! serin under the Helm chart's RBAC and nothing else. The chart's rendered
//! ClusterRole, its leader-election Role and its ServiceAccount are applied to
//! the cluster, a token for that ServiceAccount is requested through the
//! TokenRequest API, and serin gets a kubeconfig holding only that token. A
//! rule missing from the chart then fails a rollout test with a 403.
//!
//! The ClusterRole is cluster-wide and shared by the tests running in
//! parallel, so it is rendered and applied once per test binary, with
//! server-side apply (idempotent across binaries and reruns).

use std::fmt::Debug;
use std::path::PathBuf;

use anyhow::{Context, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::{env, helm};

/// The release the harness renders; its objects are named after it.
pub const RELEASE: &str = "serin-e2e";
/// Where the release's ServiceAccount and leader Lease live.
pub const RELEASE_NAMESPACE: &str = "serin-e2e-system";
/// Every router on, as a cluster running all of serin's routers would install it.
const VALUES: &str =
    "providers.gatewayapi=true,providers.istio=true,providers.smi=true,leaderElection.enabled=true";
/// Longer than any test binary runs.
const TOKEN_SECONDS: i64 = 6 * 3600;
const FIELD_MANAGER: &str = "serin-e2e";

/// The chart's identity: a kubeconfig for its ServiceAccount, and its
/// leader-election Role for namespaces other than the release's.
pub struct ChartIdentity {
    pub kubeconfig: PathBuf,
    lease_role: Role,
    lease_binding: RoleBinding,
}

static IDENTITY: OnceCell<ChartIdentity> = OnceCell::const_new();

/// The chart's identity, set up on first use in this test binary.
pub async fn identity(client: &Client) -> anyhow::Result<&'static ChartIdentity> {
    IDENTITY.get_or_try_init(|| set_up(client)).await
}

impl ChartIdentity {
    /// Grants the chart's Lease rules in `namespace` too, as installing the
    /// release there would (tests keep their Leases in their own namespace).
    pub async fn allow_leases_in(&self, client: &Client, namespace: &str) -> anyhow::Result<()> {
        if namespace == RELEASE_NAMESPACE {
            return Ok(());
        }
        let mut role = self.lease_role.clone();
        role.metadata.namespace = Some(namespace.to_string());
        apply(Api::namespaced(client.clone(), namespace), &role).await?;
        let mut binding = self.lease_binding.clone();
        binding.metadata.namespace = Some(namespace.to_string());
        apply(Api::namespaced(client.clone(), namespace), &binding).await?;
        Ok(())
    }
}

/// The chart's RBAC objects and ServiceAccount as `helm template` renders them.
pub async fn render() -> anyhow::Result<Vec<Value>> {
    let yaml = helm::template(
        "serin",
        RELEASE,
        RELEASE_NAMESPACE,
        &[
            "--set",
            VALUES,
            "--show-only",
            "templates/rbac.yaml",
            "--show-only",
            "templates/serviceaccount.yaml",
        ],
    )
    .await?;
    helm::documents(&yaml)
}

async fn set_up(client: &Client) -> anyhow::Result<ChartIdentity> {
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(RELEASE_NAMESPACE.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    apply(Api::all(client.clone()), &namespace).await?;

    let (mut lease_role, mut lease_binding, mut account) = (None, None, None);
    for doc in render().await? {
        match helm::kind(&doc) {
            "ClusterRole" => {
                apply(Api::<ClusterRole>::all(client.clone()), &parse(doc)?).await?;
            }
            "ClusterRoleBinding" => {
                apply(Api::<ClusterRoleBinding>::all(client.clone()), &parse(doc)?).await?;
            }
            "Role" => {
                let role: Role = parse(doc)?;
                apply(Api::namespaced(client.clone(), RELEASE_NAMESPACE), &role).await?;
                lease_role = Some(role);
            }
            "RoleBinding" => {
                let binding: RoleBinding = parse(doc)?;
                apply(Api::namespaced(client.clone(), RELEASE_NAMESPACE), &binding).await?;
                lease_binding = Some(binding);
            }
            "ServiceAccount" => {
                let sa: ServiceAccount = parse(doc)?;
                apply(Api::namespaced(client.clone(), RELEASE_NAMESPACE), &sa).await?;
                account = sa.metadata.name;
            }
            other => bail!("unexpected {other} among the chart's RBAC objects"),
        }
    }
    let account = account.context("the chart rendered no ServiceAccount")?;
    let token = token_for(client, &account).await?;
    let kubeconfig = write_kubeconfig(&token, RELEASE_NAMESPACE)?;
    Ok(ChartIdentity {
        kubeconfig,
        lease_role: lease_role.context("the chart rendered no leader-election Role")?,
        lease_binding: lease_binding.context("the chart rendered no leader-election RoleBinding")?,
    })
}

fn parse<K: DeserializeOwned>(doc: Value) -> anyhow::Result<K> {
    let kind = helm::kind(&doc).to_string();
    serde_json::from_value(doc).with_context(|| format!("reading the rendered {kind}"))
}

async fn apply<K>(api: Api<K>, object: &K) -> anyhow::Result<()>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let name = object
        .meta()
        .name
        .clone()
        .context("a rendered object has no name")?;
    let kind = K::kind(&K::DynamicType::default()).to_string();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .with_context(|| format!("applying {kind} {name}"))?;
    Ok(())
}

/// A kubeconfig for the existing ServiceAccount `namespace/account` that
/// holds only a TokenRequest token for it: a process started with it has
/// exactly the RBAC bound to that account (the load tester chart's test).
pub async fn kubeconfig_for(client: &Client, namespace: &str, account: &str) -> anyhow::Result<PathBuf> {
    let token = token_in(client, namespace, account).await?;
    write_kubeconfig(&token, namespace)
}

async fn token_for(client: &Client, account: &str) -> anyhow::Result<String> {
    token_in(client, RELEASE_NAMESPACE, account).await
}

async fn token_in(client: &Client, namespace: &str, account: &str) -> anyhow::Result<String> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..Default::default()
        }),
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let response = api
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for ServiceAccount {namespace}/{account}"))?;
    match response.status.and_then(|s| s.token) {
        Some(token) if !token.is_empty() => Ok(token),
        _ => bail!("the TokenRequest for {account} returned no token"),
    }
}

/// A kubeconfig with the test cluster's server and CA and only `token`.
fn write_kubeconfig(token: &str, namespace: &str) -> anyhow::Result<PathBuf> {
    let admin_path = env::kubeconfig();
    let admin = Kubeconfig::read_from(&admin_path).with_context(|| format!("reading {admin_path}"))?;
    let context_name = admin
        .current_context
        .clone()
        .context("the kubeconfig has no current context")?;
    let cluster_name = admin
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .with_context(|| format!("context {context_name} not found in {admin_path}"))?;
    let cluster = admin
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .with_context(|| format!("cluster {cluster_name} not found in {admin_path}"))?;
    let mut cluster_entry =
        json!({ "server": cluster.server.clone().context("the cluster has no server URL")? });
    if let Some(data) = &cluster.certificate_authority_data {
        cluster_entry["certificate-authority-data"] = json!(data);
    } else if let Some(file) = &cluster.certificate_authority {
        cluster_entry["certificate-authority"] = json!(file);
    } else {
        bail!("the cluster in {admin_path} has no CA");
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "e2e", "cluster": cluster_entry }],
        "users": [{ "name": RELEASE, "user": { "token": token } }],
        "contexts": [{ "name": RELEASE, "context": { "cluster": "e2e", "user": RELEASE, "namespace": namespace } }],
        "current-context": RELEASE,
    });
    let path = std::env::temp_dir().join(format!(
        "serin-e2e-chart-rbac-{}.kubeconfig",
        env::unique_suffix()
    ));
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
