//! The operations HTTP server: `/metrics` for Prometheus, `/healthz` and `/readyz` for the kubelet.
//!
//! Readiness says whether this replica works (caches synced, client usable), not whether it leads: a
//! standby replica is healthy and ready, it just does not write.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::metrics::{CONTENT_TYPE, Metrics};

/// Whether the process is ready, and if not, why. Cheap to clone; clones share the state.
#[derive(Clone, Debug)]
pub struct Health {
    /// `None` when ready, else the reason `/readyz` reports.
    not_ready: Arc<RwLock<Option<String>>>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// Starts not ready, so no probe passes before the controller says it can work.
    pub fn new() -> Self {
        Self {
            not_ready: Arc::new(RwLock::new(Some("starting".to_string()))),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.set(if ready {
            None
        } else {
            Some("not ready".to_string())
        });
    }

    /// Marks the process not ready, with a reason `/readyz` shows (e.g. "waiting for the Canary cache").
    pub fn set_not_ready(&self, reason: impl Into<String>) {
        self.set(Some(reason.into()));
    }

    pub fn is_ready(&self) -> bool {
        self.not_ready_reason().is_none()
    }

    pub fn not_ready_reason(&self) -> Option<String> {
        // A poisoned lock still holds the last value written, which is all this needs.
        self.not_ready
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, value: Option<String>) {
        *self.not_ready.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the operations server failed")]
    Serve(#[source] std::io::Error),
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Health,
}

/// The routes, without a listener; tests drive it directly.
pub fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

/// Binds `addr`. Separate from serving so the controller fails at start-up on a taken port, and so tests
/// can bind port 0 and learn the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Binds `addr` and serves until `shutdown` completes, then finishes in-flight requests and returns.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve_on(bind(addr).await?, metrics, health, shutdown).await
}

/// Serves on an already bound listener until `shutdown` completes.
pub async fn serve_on(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    }
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "could not encode metrics\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.health.not_ready_reason() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests;
