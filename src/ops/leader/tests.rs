//! The elector against an in-memory Lease endpoint whose writes can be made to fail or hang, to check the
//! paths a real API server rarely shows: stepping down in time, and losing the lease to another writer.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::{Body as AxumBody, to_bytes};
use axum::http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tokio::time::Instant;

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writes {
    Work,
    Fail,
    Hang,
}

#[derive(Default)]
struct Store {
    lease: Option<Lease>,
    version: u64,
    writes: Option<Writes>,
}

/// One namespace, one Lease; creates and replaces are compare-and-swap on resourceVersion, as in the
/// API server.
#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<Store>>);

impl FakeApi {
    fn client(&self) -> Client {
        let api = self.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(req).await) }
        });
        Client::new(service, "test")
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.lock().expect("store lock")
    }

    fn set_writes(&self, writes: Writes) {
        self.store().writes = Some(writes);
    }

    fn holder(&self) -> Option<String> {
        let store = self.store();
        let spec = store.lease.as_ref()?.spec.as_ref()?;
        lease::holder(spec).map(str::to_string)
    }

    /// Another replica writes itself into the lease, as if it had won it.
    fn steal(&self, identity: &str) {
        let mut store = self.store();
        store.version += 1;
        let version = store.version.to_string();
        if let Some(lease) = store.lease.as_mut() {
            lease.metadata.resource_version = Some(version);
            lease.spec = Some(lease::claimed(
                lease.spec.as_ref(),
                identity,
                Timestamp::now(),
                LEASE,
            ));
        }
    }

    async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let method = req.method().clone();
        let body = to_bytes(AxumBody::new(req.into_body()), 1 << 20)
            .await
            .unwrap_or_default();
        let writes = self.store().writes.unwrap_or(Writes::Work);
        if method != Method::GET && writes == Writes::Hang {
            return std::future::pending().await;
        }
        if method != Method::GET && writes == Writes::Fail {
            return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
        }
        let mut store = self.store();
        match method {
            Method::GET => match &store.lease {
                Some(lease) => json(StatusCode::OK, lease),
                None => status(StatusCode::NOT_FOUND, "NotFound"),
            },
            Method::POST | Method::PUT => {
                let Ok(mut lease) = serde_json::from_slice::<Lease>(&body) else {
                    return status(StatusCode::BAD_REQUEST, "BadRequest");
                };
                let current = store.lease.as_ref().map(|l| l.metadata.resource_version.clone());
                match (&method, current) {
                    (&Method::POST, Some(_)) => return status(StatusCode::CONFLICT, "AlreadyExists"),
                    (&Method::PUT, Some(rv)) if rv != lease.metadata.resource_version => {
                        return status(StatusCode::CONFLICT, "Conflict");
                    }
                    (&Method::PUT, None) => return status(StatusCode::NOT_FOUND, "NotFound"),
                    _ => {}
                }
                store.version += 1;
                lease.metadata.resource_version = Some(store.version.to_string());
                store.lease = Some(lease.clone());
                json(StatusCode::OK, &lease)
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        }
    }
}

fn json(code: StatusCode, lease: &Lease) -> Response<Body> {
    let body = serde_json::to_vec(lease).unwrap_or_default();
    Response::builder()
        .status(code)
        .body(Body::from(body))
        .expect("response")
}

fn status(code: StatusCode, reason: &str) -> Response<Body> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": reason, "reason": reason, "code": code.as_u16(),
    });
    Response::builder()
        .status(code)
        .body(Body::from(body.to_string().into_bytes()))
        .expect("response")
}

const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(200);

struct Running {
    is_leader: watch::Receiver<bool>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start(api: &FakeApi, identity: &str) -> Running {
    let config = LeaderConfig {
        lease_duration: LEASE,
        renew_period: RENEW,
        retry_period: RETRY,
        ..LeaderConfig::new("test", "serin-leader", identity)
    };
    let elector = LeaderElector::new(api.client(), config).expect("valid config");
    let is_leader = elector.is_leader();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(elector.run(async move {
        let _ = stopped.await;
    }));
    Running {
        is_leader,
        stop,
        task,
    }
}

async fn until(rx: &mut watch::Receiver<bool>, leading: bool) -> Instant {
    tokio::time::timeout(LEASE * 3, rx.wait_for(|v| *v == leading))
        .await
        .expect("leadership changes in time")
        .expect("elector still running");
    Instant::now()
}

/// Runs until the elector leads, makes its renewals misbehave, and returns how long it kept leading.
async fn leads_for_after_renewals(writes: Writes) -> Duration {
    let api = FakeApi::default();
    let mut running = start(&api, "me");
    let became = until(&mut running.is_leader, true).await;
    api.set_writes(writes);
    until(&mut running.is_leader, false).await - became
}

#[tokio::test]
async fn a_leader_whose_renewals_fail_steps_down_before_its_lease_expires() {
    let led = leads_for_after_renewals(Writes::Fail).await;
    assert!(
        led >= RENEW,
        "stepped down after {led:?}, before even trying to renew"
    );
    assert!(led < LEASE, "led for {led:?}, past the lease duration");
}

#[tokio::test]
async fn a_leader_whose_renewals_hang_steps_down_before_its_lease_expires() {
    let led = leads_for_after_renewals(Writes::Hang).await;
    assert!(
        led >= RENEW,
        "stepped down after {led:?}, before even trying to renew"
    );
    assert!(led < LEASE, "led for {led:?}, past the lease duration");
}

#[tokio::test]
async fn a_leader_that_stepped_down_but_still_holds_the_lease_resumes() {
    let api = FakeApi::default();
    let mut running = start(&api, "me");
    until(&mut running.is_leader, true).await;
    api.set_writes(Writes::Fail);
    until(&mut running.is_leader, false).await;
    api.set_writes(Writes::Work);
    until(&mut running.is_leader, true).await;
    assert_eq!(api.holder().as_deref(), Some("me"));
}

#[tokio::test]
async fn a_leader_whose_lease_was_taken_steps_down_at_its_next_renewal() {
    let api = FakeApi::default();
    let mut running = start(&api, "me");
    let became = until(&mut running.is_leader, true).await;
    api.steal("other");
    let led = until(&mut running.is_leader, false).await - became;
    assert!(led < RENEW + RETRY * 2, "noticed the loss only after {led:?}");
    assert_eq!(api.holder().as_deref(), Some("other"));
}

#[tokio::test]
async fn shutdown_steps_down_and_releases_the_lease() {
    let api = FakeApi::default();
    let mut running = start(&api, "me");
    until(&mut running.is_leader, true).await;
    let _ = running.stop.send(());
    tokio::time::timeout(LEASE, running.task)
        .await
        .expect("stops in time")
        .expect("no panic");
    assert!(!*running.is_leader.borrow());
    assert_eq!(api.holder(), None);
}

#[tokio::test]
async fn only_one_of_two_candidates_leads() {
    let api = FakeApi::default();
    let mut a = start(&api, "a");
    let b = start(&api, "b");
    until(&mut a.is_leader, true).await;
    assert!(!*b.is_leader.borrow(), "both lead");
    assert_eq!(api.holder().as_deref(), Some("a"));
}

#[test]
fn defaults_are_valid_and_leave_a_renew_deadline_before_expiry() {
    let config = LeaderConfig::new("serin-system", "serin-leader", "pod-1");
    assert!(config.validate().is_ok());
    assert_eq!(config.renew_deadline(), Duration::from_secs(10));
}

#[test]
fn timings_must_be_ordered() {
    let base = LeaderConfig::new("ns", "lease", "me");
    let bad = [
        (
            Duration::from_secs(5),
            Duration::from_secs(5),
            Duration::from_secs(1),
        ),
        (
            Duration::from_secs(15),
            Duration::from_secs(5),
            Duration::from_secs(6),
        ),
        (Duration::from_secs(15), Duration::from_secs(5), Duration::ZERO),
        (
            Duration::from_millis(900),
            Duration::from_millis(500),
            Duration::from_millis(100),
        ),
    ];
    for (lease_duration, renew_period, retry_period) in bad {
        let config = LeaderConfig {
            lease_duration,
            renew_period,
            retry_period,
            ..base.clone()
        };
        assert!(
            matches!(config.validate(), Err(LeaderError::Timings { .. })),
            "{config:?}"
        );
    }
}

#[test]
fn names_and_identity_are_required() {
    let config = LeaderConfig::new("ns", "lease", "");
    assert!(matches!(config.validate(), Err(LeaderError::MissingName)));
}

#[test]
fn default_identity_ends_with_the_pid() {
    let identity = default_identity();
    assert!(
        identity.ends_with(&format!("-{}", std::process::id())),
        "{identity}"
    );
    assert!(identity.len() > 2);
}
