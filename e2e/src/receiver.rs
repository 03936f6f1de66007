//! A loopback HTTP server standing in for webhook receivers: it records
//! every request per path and answers as the test says (a status, or never).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

/// How a path answers.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Keeps the connection open without answering, like a hung service.
    Hang,
}

#[derive(Default)]
struct Shared {
    answers: HashMap<String, Answer>,
    received: Vec<(String, Value)>,
    /// `Authorization` header of each request, per path, in arrival order.
    authorizations: Vec<(String, Option<String>)>,
}

/// Dropping it stops the server.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Every path answers 200 until told otherwise.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { addr, shared, task })
    }

    /// The URL of `path` (without a leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        self.lock().answers.insert(path.to_string(), answer);
    }

    /// Bodies received on `path`, oldest first.
    pub fn received(&self, path: &str) -> Vec<Value> {
        self.lock()
            .received
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// `Authorization` headers received on `path`, oldest first (`None` when absent).
    pub fn authorizations(&self, path: &str) -> Vec<Option<String>> {
        self.lock()
            .authorizations
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, header)| header.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let answer = {
        let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let body =
            serde_json::from_slice(&body).unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
        shared.received.push((path.clone(), body));
        let authorization = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        shared.authorizations.push((path.clone(), authorization));
        shared.answers.get(&path).copied().unwrap_or(Answer::Status(200))
    };
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK
        }
    }
}
