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

/// A loopback proxy in front of Prometheus that answers only requests with
/// the right bearer token, and can be stopped and started again to play a
/// metrics server that goes away (connections refused) and comes back.
pub struct AuthProxy {
    pub address: String,
    upstream: String,
    token: String,
    pub authorized: Arc<std::sync::atomic::AtomicU64>,
    server: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct ProxyState {
    http: reqwest::Client,
    upstream: String,
    token: String,
    authorized: Arc<std::sync::atomic::AtomicU64>,
}

impl AuthProxy {
    pub async fn start(token: &str) -> anyhow::Result<Self> {
        let mut proxy = Self {
            address: String::new(),
            upstream: env::prometheus_url(),
            token: token.to_string(),
            authorized: Arc::default(),
            server: None,
        };
        proxy.listen("127.0.0.1:0").await?;
        Ok(proxy)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Closes the listening socket: clients now get "connection refused".
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let address = self.address.clone();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match self.listen(&address).await {
                Ok(()) => return Ok(()),
                // The aborted server may still hold the port for a moment.
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn listen(&mut self, address: &str) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .context("binding the proxy")?;
        self.address = listener.local_addr()?.to_string();
        let state = ProxyState {
            http: reqwest::Client::new(),
            upstream: self.upstream.clone(),
            token: self.token.clone(),
            authorized: self.authorized.clone(),
        };
        let app = Router::new()
            .route("/api/v1/query", get(proxy_query))
            .with_state(state);
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Ok(())
    }
}

impl Drop for AuthProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn proxy_query(
    State(state): State<ProxyState>,
    headers: axum::http::HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> (axum::http::StatusCode, String) {
    let expected = format!("Bearer {}", state.token);
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        );
    }
    state
        .authorized
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = format!("{}/api/v1/query?{}", state.upstream, query.unwrap_or_default());
    match state.http.get(url).send().await {
        Ok(resp) => {
            let status = axum::http::StatusCode::from_u16(resp.status().as_u16())
                .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
            (status, resp.text().await.unwrap_or_default())
        }
        Err(err) => (axum::http::StatusCode::BAD_GATEWAY, err.to_string()),
    }
}
