//! `serin loadtester` as a child process, and a loopback HTTP target that counts what it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::time::Instant;

use crate::TestContext;
use crate::serin::SerinProcess;

/// A running `serin loadtester` on a free loopback port.
pub struct Loadtester {
    pub process: SerinProcess,
    /// e.g. `http://127.0.0.1:41234`.
    pub base: String,
    http: reqwest::Client,
}

impl Loadtester {
    /// Starts `serin loadtester --addr 127.0.0.1:0 <extra>` and waits until it listens.
    pub async fn start(ctx: &TestContext, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_as(ctx, &crate::env::kubeconfig(), extra).await
    }

    /// As [`Loadtester::start`], with the identity of `kubeconfig`.
    pub async fn start_as(ctx: &TestContext, kubeconfig: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let mut args = vec![
            "--log-level",
            "info,serin=debug",
            "loadtester",
            "--addr",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let process = SerinProcess::start_with(ctx, kubeconfig, &args)?;
        let line = process
            .wait_for_log(&["listening on "], Duration::from_secs(30))
            .await?;
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("no address in {line:?}"))?;
        Ok(Self {
            process,
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    /// POSTs a JSON body; returns the status code and body text.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, String)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }
}

#[derive(Default)]
struct Arrivals {
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// A loopback HTTP server answering 200 to anything, counting requests and when they arrived.
pub struct CountingTarget {
    pub url: String,
    arrivals: Arc<Mutex<Arrivals>>,
}

impl CountingTarget {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let seen = arrivals.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                if let Ok(mut a) = seen.lock() {
                    let now = Instant::now();
                    a.count += 1;
                    a.first.get_or_insert(now);
                    a.last = Some(now);
                }
                "ok"
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url: format!("http://{addr}/"),
            arrivals,
        })
    }

    pub fn count(&self) -> u64 {
        self.arrivals.lock().map(|a| a.count).unwrap_or(0)
    }

    /// Time from the first request to the last one, if any arrived.
    pub fn span(&self) -> Option<Duration> {
        let a = self.arrivals.lock().ok()?;
        Some(a.last? - a.first?)
    }

    /// How long since the last request arrived.
    pub fn quiet_for(&self) -> Option<Duration> {
        let a = self.arrivals.lock().ok()?;
        Some(a.last?.elapsed())
    }
}
