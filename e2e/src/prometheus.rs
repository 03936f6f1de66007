//! The real Prometheus that `cluster.sh` starts: an instant-query client,
//! and an exporter a test serves on loopback and registers as a scrape
//! target through file-based service discovery.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::env;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub struct Prometheus {
    http: reqwest::Client,
    url: String,
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<QueryData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: Vec<VectorItem>,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl Prometheus {
    pub fn from_env() -> Self {
        Self {
            http: reqwest::Client::new(),
            url: env::prometheus_url(),
        }
    }

    /// Runs an instant query and returns its vector result.
    pub async fn query(&self, promql: &str) -> anyhow::Result<Vec<Sample>> {
        let resp = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .with_context(|| format!("querying Prometheus at {}", self.url))?;
        let body: QueryResponse = resp.json().await.context("decoding the Prometheus response")?;
        if body.status != "success" {
            bail!(
                "Prometheus rejected {promql:?}: {}",
                body.error.unwrap_or_default()
            );
        }
        let data = body.data.context("Prometheus response without data")?;
        if data.result_type != "vector" {
            bail!(
                "expected a vector result for {promql:?}, got {}",
                data.result_type
            );
        }
        data.result
            .into_iter()
            .map(|item| {
                let value = item
                    .value
                    .1
                    .parse()
                    .with_context(|| format!("sample value {:?}", item.value.1))?;
                Ok(Sample {
                    labels: item.metric,
                    value,
                })
            })
            .collect()
    }
}

/// Serves `/metrics` on 127.0.0.1 with a body the test controls, and is a
/// Prometheus scrape target for as long as it lives.
pub struct Exporter {
    pub id: String,
    pub address: String,
    body: Arc<RwLock<String>>,
    sd_file: PathBuf,
    server: JoinHandle<()>,
}

impl Exporter {
    pub async fn start(initial: &str) -> anyhow::Result<Self> {
        let body = Arc::new(RwLock::new(initial.to_string()));
        let app = Router::new()
            .route("/metrics", get(serve_metrics))
            .with_state(body.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the exporter")?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let id = format!("exporter-{}", env::unique_suffix());
        let sd_file = env::prometheus_sd_dir().join(format!("{id}.json"));
        let target = serde_json::json!([{ "targets": [address], "labels": { "e2e_exporter": id } }]);
        // Write then rename, so Prometheus never reads a half-written file.
        let tmp = sd_file.with_extension("tmp");
        std::fs::write(&tmp, target.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &sd_file).with_context(|| format!("renaming to {}", sd_file.display()))?;
        Ok(Self {
            id,
            address,
            body,
            sd_file,
            server,
        })
    }

    pub fn set_body(&self, text: &str) {
        if let Ok(mut body) = self.body.write() {
            *body = text.to_string();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sd_file);
        self.server.abort();
    }
}

async fn serve_metrics(State(body): State<Arc<RwLock<String>>>) -> String {
    body.read().map(|b| b.clone()).unwrap_or_default()
}
