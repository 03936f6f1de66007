//! A fresh namespace per test, removed afterwards; on failure its contents
//! are dumped first.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::{dump, env};

/// What a test gets: a client, its own namespace, and a place to register
/// log files that belong in the failure dump.
#[derive(Clone)]
pub struct TestContext {
    pub client: Client,
    pub namespace: String,
    logs: Arc<Mutex<Vec<PathBuf>>>,
}

impl TestContext {
    /// A context for a namespace the caller manages (the demo); tests use [`with_namespace`].
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        TestContext {
            client,
            namespace: namespace.into(),
            logs: Arc::default(),
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Adds a log file (for example a serin process's) to the failure dump.
    pub fn register_log(&self, path: PathBuf) {
        if let Ok(mut logs) = self.logs.lock() {
            logs.push(path);
        }
    }

    pub fn logs(&self) -> Vec<PathBuf> {
        self.logs.lock().map(|logs| logs.clone()).unwrap_or_default()
    }
}

pub async fn client() -> Client {
    env::kubeconfig();
    Client::try_default()
        .await
        .expect("a Kubernetes client from KUBECONFIG")
}

/// Runs `test` in a namespace named `<prefix>-<unique>`. A test fails by
/// returning an error or panicking; either way the namespace is dumped to
/// stderr (which the test runner shows for failed tests), then deleted.
pub async fn with_namespace<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(TestContext) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    init_tracing();
    let client = client().await;
    let name = format!("{prefix}-{}", env::unique_suffix());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("serin.dev/e2e".to_string(), "true".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create test namespace");
    let ctx = TestContext {
        client,
        namespace: name.clone(),
        logs: Arc::default(),
    };

    let outcome = AssertUnwindSafe(test(ctx.clone())).catch_unwind().await;
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        dump::namespace(&ctx).await;
    }
    // Namespace deletion finishes in the background; tests never reuse a name.
    if let Err(err) = namespaces.delete(&name, &DeleteParams::background()).await {
        eprintln!("could not delete namespace {name}: {err}");
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!("test in namespace {name} failed: {err:#}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_test_writer()
        .try_init();
}
