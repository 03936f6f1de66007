//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one writes.
//!
//! Every change to the Lease is a compare-and-swap: a replace carries the resourceVersion that was read,
//! and a create fails if the Lease exists. Two candidates racing for a free lease therefore cannot both
//! win. A leader that cannot renew steps down `renew deadline` (lease duration minus renew period) after
//! its last successful renewal started, measured on its monotonic clock, well before any other replica
//! may consider the lease expired; the margin covers the time workers need to notice the change.
//!
//! Expiry is judged on `renewTime` written by the holder against the reader's wall clock, so replicas
//! need clocks synchronised to well within the renew period (NTP on cluster nodes gives that).

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::lease::{self, Verdict};
use crate::error::chain;

/// Which Lease to use, who we are, and how fast to act.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per replica (see [`default_identity`]); two replicas with one identity would both lead.
    pub identity: String,
    /// How long a claim lasts after a renewal.
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_period: Duration,
    /// How often a follower retries, and the leader retries a failed renewal.
    pub retry_period: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "invalid leader election timings: need 0 < retry period ({retry:?}) <= renew period ({renew:?}) < \
         lease duration ({lease:?}), and a lease duration of at least 1s"
    )]
    Timings {
        lease: Duration,
        renew: Duration,
        retry: Duration,
    },
    #[error("leader election needs a non-empty lease namespace, lease name and identity")]
    MissingName,
}

impl LeaderConfig {
    /// Defaults: lease 15s, renew every 5s, retry every 2s.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_period: Duration::from_secs(5),
            retry_period: Duration::from_secs(2),
        }
    }

    pub fn validate(&self) -> Result<(), LeaderError> {
        if self.namespace.is_empty() || self.name.is_empty() || self.identity.is_empty() {
            return Err(LeaderError::MissingName);
        }
        let ordered = Duration::ZERO < self.retry_period
            && self.retry_period <= self.renew_period
            && self.renew_period < self.lease_duration;
        if !ordered || self.lease_duration < Duration::from_secs(1) {
            return Err(LeaderError::Timings {
                lease: self.lease_duration,
                renew: self.renew_period,
                retry: self.retry_period,
            });
        }
        Ok(())
    }

    /// How long after a renewal started the leader may go on leading without another one.
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration.saturating_sub(self.renew_period)
    }
}

/// `<hostname>-<pid>`: the pod name in Kubernetes (HOSTNAME), and unique among processes on one host.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "serin".to_string());
    format!("{host}-{}", std::process::id())
}

/// Where a campaign stands between attempts.
#[derive(Default)]
struct Campaign {
    /// Start of the last successful acquisition or renewal, while leading.
    renewed: Option<Instant>,
    /// The holder last seen, to log changes rather than every retry.
    last_holder: Option<String>,
}

/// What one attempt to acquire or renew found.
enum Outcome {
    Leading,
    Held(String),
    /// Another writer changed the Lease between our read and our write; nothing is known about who won.
    LostRace,
}

/// One replica's candidacy. Take [`Self::is_leader`] receivers before handing the elector to `run`.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderConfig,
    is_leader: watch::Sender<bool>,
}

impl LeaderElector {
    pub fn new(client: Client, config: LeaderConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            is_leader: watch::Sender::new(false),
        })
    }

    /// `true` while this replica leads. Once `run` has returned the value is `false` and the channel is
    /// closed; treat a closed channel as not leading.
    pub fn is_leader(&self) -> watch::Receiver<bool> {
        self.is_leader.subscribe()
    }

    /// Campaigns, leads and renews until `shutdown` completes, then steps down and releases the lease so
    /// a successor takes over at once. API errors are retried, never fatal. Stop the work gated on
    /// [`Self::is_leader`] before completing `shutdown`, so nothing writes after the release.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let span = tracing::info_span!(
            "leader_election",
            lease = %format!("{}/{}", self.config.namespace, self.config.name),
            identity = %self.config.identity,
        );
        self.campaign(shutdown).instrument(span).await;
    }

    async fn campaign(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let deadline = self.config.renew_deadline();
        let mut state = Campaign::default();
        loop {
            let started = Instant::now();
            let limit = state
                .renewed
                .map_or(started + self.config.lease_duration, |t| t + deadline);
            let attempt = tokio::select! {
                () = &mut shutdown => break,
                attempt = tokio::time::timeout_at(limit, self.try_acquire_or_renew()) => attempt,
            };
            let next = self.settle_attempt(attempt, started, &mut state);
            if state.renewed.is_some_and(|t| Instant::now() >= t + deadline) {
                tracing::warn!("could not renew the lease in time; stepping down");
                state.renewed = None;
                self.is_leader.send_replace(false);
            }
            // Wake at the renew deadline at the latest, so a leader never outlives it unnoticed.
            let mut wake = Instant::now() + next;
            if let Some(t) = state.renewed {
                wake = wake.min(t + deadline);
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        if state.renewed.is_some() {
            tracing::info!("shutting down: stepping down");
        }
        self.is_leader.send_replace(false);
        // Even a follower may hold the lease if its last write landed after a timeout; release checks.
        match tokio::time::timeout(self.config.lease_duration, self.release()).await {
            Ok(Ok(true)) => tracing::info!("released the lease"),
            Ok(Ok(false)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %chain(&err), "could not release the lease; it will expire");
            }
            Err(_) => tracing::warn!("releasing the lease timed out; it will expire"),
        }
    }

    /// Updates leadership from one attempt that started at `started`; returns when to try next.
    fn settle_attempt(
        &self,
        attempt: Result<Result<Outcome, kube::Error>, tokio::time::error::Elapsed>,
        started: Instant,
        state: &mut Campaign,
    ) -> Duration {
        match attempt {
            Ok(Ok(Outcome::Leading)) => {
                if state.renewed.is_none() {
                    tracing::info!("became leader");
                    self.is_leader.send_replace(true);
                }
                state.renewed = Some(started);
                state.last_holder = Some(self.config.identity.clone());
                return self.config.renew_period;
            }
            Ok(Ok(Outcome::Held(holder))) => {
                if state.renewed.take().is_some() {
                    tracing::warn!(%holder, "lost leadership: another replica holds the lease");
                    self.is_leader.send_replace(false);
                } else if state.last_holder.as_deref() != Some(holder.as_str()) {
                    tracing::info!(%holder, "standing by: another replica leads");
                }
                state.last_holder = Some(holder);
            }
            // Leadership stands until the renew deadline, as with any failed renewal.
            Ok(Ok(Outcome::LostRace)) => tracing::debug!("the lease changed under us; retrying"),
            Ok(Err(err)) => tracing::warn!(error = %chain(&err), "lease request failed"),
            Err(_) => tracing::warn!("lease request timed out"),
        }
        self.config.retry_period
    }

    async fn try_acquire_or_renew(&self) -> Result<Outcome, kube::Error> {
        let identity = &self.config.identity;
        let duration = self.config.lease_duration;
        let current = self.api.get_opt(&self.config.name).await?;
        let now = Timestamp::now();
        let Some(mut existing) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(lease::claimed(None, identity, now, duration)),
            };
            return settle(self.api.create(&PostParams::default(), &lease).await);
        };
        match lease::verdict(existing.spec.as_ref(), identity, now, duration) {
            Verdict::Held { holder } => Ok(Outcome::Held(holder)),
            Verdict::Renew | Verdict::Acquire => {
                existing.spec = Some(lease::claimed(existing.spec.as_ref(), identity, now, duration));
                // `existing` carries the resourceVersion we read: the replace fails if anyone wrote since.
                let replaced = self
                    .api
                    .replace(&self.config.name, &PostParams::default(), &existing)
                    .await;
                settle(replaced)
            }
        }
    }

    /// Gives the lease up if we hold it. Returns whether it did.
    async fn release(&self) -> Result<bool, kube::Error> {
        let Some(mut existing) = self.api.get_opt(&self.config.name).await? else {
            return Ok(false);
        };
        let Some(spec) = existing.spec.as_ref() else {
            return Ok(false);
        };
        if lease::holder(spec) != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        existing.spec = Some(lease::released(spec));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &existing)
            .await
        {
            Ok(_) => Ok(true),
            // Someone wrote since we read it, so it is no longer ours to release.
            Err(err) if is_conflict(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

fn settle(result: Result<Lease, kube::Error>) -> Result<Outcome, kube::Error> {
    match result {
        Ok(_) => Ok(Outcome::Leading),
        Err(err) if is_conflict(&err) => Ok(Outcome::LostRace),
        Err(err) => Err(err),
    }
}

/// A create that found the object, or a replace whose resourceVersion is stale.
fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.is_conflict() || status.is_already_exists())
}

#[cfg(test)]
mod tests;
