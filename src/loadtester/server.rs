//! The HTTP API, compatible with flagger-loadtester's.
//!
//! Status codes are the contract with Canary webhooks: a webhook succeeds on ≤ 202, so 200/202 mean
//! "go on", 403 means "gate closed" (or "namespace not allowed"), 400 a mistake in the webhook's
//! metadata and 500 a failed acceptance test or state write.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use super::access::NamespacePolicy;
use super::metrics::{CONTENT_TYPE, Metrics};
use super::payload::{self, Payload, PayloadError, Task};
use super::state::{Gate, GateStore};
use super::tasks::{Started, Tasks};

/// Everything the handlers share.
pub struct App {
    pub tasks: Tasks,
    pub gates: GateStore,
    pub policy: NamespacePolicy,
    pub metrics: Arc<Metrics>,
    /// The load tester's `--timeout`, the longest a load test may ask for.
    pub timeout: std::time::Duration,
}

type Shared = State<Arc<App>>;

/// A refused request: its status and message (small, unlike a `Response`).
struct Rejection(StatusCode, String);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", post(task))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        // approve/halt answer any method, like Flagger's: they ignore the payload.
        .route("/gate/approve", any(approve))
        .route("/gate/halt", any(halt))
        .route(
            "/gate/check",
            post(|s: Shared, b: Bytes| check(s, b, Gate::Approval)),
        )
        .route(
            "/gate/open",
            post(|s: Shared, b: Bytes| toggle(s, b, Gate::Approval, true)),
        )
        .route(
            "/gate/close",
            post(|s: Shared, b: Bytes| toggle(s, b, Gate::Approval, false)),
        )
        .route(
            "/rollback/check",
            post(|s: Shared, b: Bytes| check(s, b, Gate::Rollback)),
        )
        .route(
            "/rollback/open",
            post(|s: Shared, b: Bytes| toggle(s, b, Gate::Rollback, true)),
        )
        .route(
            "/rollback/close",
            post(|s: Shared, b: Bytes| toggle(s, b, Gate::Rollback, false)),
        )
        .with_state(app)
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (status, body).into_response()
}

/// Parses the payload and applies the namespace allow-list; the error is the response to send.
fn admit(app: &App, body: &[u8]) -> Result<Payload, Rejection> {
    let payload = payload::parse(body).map_err(|e| Rejection(StatusCode::BAD_REQUEST, e.to_string()))?;
    if !app.policy.admits(&payload.namespace) {
        tracing::warn!(canary = %payload.canary(), "request from a namespace that is not allowed");
        return Err(Rejection(
            StatusCode::FORBIDDEN,
            format!(
                "namespace {:?} is not allowed to use this load tester",
                payload.namespace
            ),
        ));
    }
    Ok(payload)
}

async fn task(State(app): Shared, body: Bytes) -> Response {
    let payload = match admit(&app, &body) {
        Ok(payload) => payload,
        Err(Rejection(status, message)) => return text(status, message),
    };
    let canary = payload.canary();
    let task = match Task::from_payload(&payload, app.timeout) {
        Ok(task) => task,
        Err(err) => return bad_task(&canary, &err),
    };
    match task {
        Task::Bash {
            command,
            return_output,
        } => match app.tasks.run_bash(&canary, &command).await {
            Ok(output) if output.success => text(
                StatusCode::OK,
                if return_output {
                    output.stdout
                } else {
                    String::new()
                },
            ),
            Ok(output) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("command failed ({}):\n{}", output.status, output.combined()),
            ),
            Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, crate::error::chain(&err)),
        },
        background => {
            let kind = background.kind();
            match app.tasks.start(&canary, background) {
                Started::New => text(StatusCode::ACCEPTED, format!("{kind} task started")),
                Started::AlreadyRunning => text(StatusCode::ACCEPTED, format!("{kind} task already running")),
            }
        }
    }
}

fn bad_task(canary: &str, err: &PayloadError) -> Response {
    tracing::warn!(canary, error = %err, "rejected a task");
    text(StatusCode::BAD_REQUEST, err.to_string())
}

async fn approve(State(app): Shared) -> Response {
    app.metrics.gate_checked("approve", true);
    text(StatusCode::OK, "approved")
}

async fn halt(State(app): Shared) -> Response {
    app.metrics.gate_checked("halt", false);
    text(StatusCode::FORBIDDEN, "halted")
}

async fn check(State(app): Shared, body: Bytes, gate: Gate) -> Response {
    let payload = match admit(&app, &body) {
        Ok(payload) => payload,
        Err(Rejection(status, message)) => return text(status, message),
    };
    let key = gate.key(&payload.name, &payload.namespace);
    let open = app.gates.is_open(&key).await;
    app.metrics.gate_checked(gate.label(), open);
    if open {
        text(StatusCode::OK, format!("{key} is open"))
    } else {
        text(StatusCode::FORBIDDEN, format!("{key} is closed"))
    }
}

async fn toggle(State(app): Shared, body: Bytes, gate: Gate, open: bool) -> Response {
    let payload = match admit(&app, &body) {
        Ok(payload) => payload,
        Err(Rejection(status, message)) => return text(status, message),
    };
    let key = gate.key(&payload.name, &payload.namespace);
    match app.gates.set(&key, open).await {
        Ok(()) => text(
            StatusCode::ACCEPTED,
            format!("{key} {}", if open { "opened" } else { "closed" }),
        ),
        Err(err) => {
            let message = crate::error::chain(&err);
            tracing::error!(key, error = %message, "could not store gate state");
            text(StatusCode::INTERNAL_SERVER_ERROR, message)
        }
    }
}

async fn metrics(State(app): Shared) -> Response {
    match app.metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not encode metrics");
            text(StatusCode::INTERNAL_SERVER_ERROR, "could not encode metrics")
        }
    }
}
