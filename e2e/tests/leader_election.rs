//! Leader election on a real API server: of two replicas exactly one leads; a crashed leader is replaced
//! once its lease expires, not before; a leader that stops gracefully releases the lease so a successor
//! takes over without waiting for it to expire. Two replicas never lead at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use serin::ops::{LeaderConfig, LeaderElector};
use serin_e2e::{TestContext, wait, with_namespace};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

const LEASE: &str = "serin-leader";
const LEASE_DURATION: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(500);
/// Room for API round trips and a busy machine on top of the protocol's own delays.
const SLACK: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_millis(50);

struct Replica {
    identity: String,
    is_leader: watch::Receiver<bool>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Replica {
    fn start(ctx: &TestContext, identity: &str) -> anyhow::Result<Self> {
        let config = LeaderConfig {
            lease_duration: LEASE_DURATION,
            renew_period: RENEW,
            retry_period: RETRY,
            ..LeaderConfig::new(&ctx.namespace, LEASE, identity)
        };
        let elector = LeaderElector::new(ctx.client.clone(), config)?;
        let is_leader = elector.is_leader();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(elector.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            identity: identity.to_string(),
            is_leader,
            stop,
            task,
        })
    }

    fn leads(&self) -> bool {
        leading(&self.is_leader)
    }

    /// Kills the replica without letting it release the lease, as a crash would.
    async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    async fn stop_gracefully(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(LEASE_DURATION + SLACK, self.task)
            .await
            .context("elector did not stop after shutdown")?
            .context("elector task failed")?;
        ensure!(
            !*self.is_leader.borrow(),
            "{} still claims to lead after stopping",
            self.identity
        );
        Ok(())
    }
}

/// A closed channel means the elector is gone, whatever it last said.
fn leading(rx: &watch::Receiver<bool>) -> bool {
    rx.has_changed().is_ok() && *rx.borrow()
}

/// Sets `overlap` if two electors ever claim to lead at the same time, on every change of any of them.
fn watch_for_overlap(mut receivers: Vec<watch::Receiver<bool>>, overlap: Arc<AtomicBool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if receivers.iter().filter(|rx| leading(rx)).count() > 1 {
                overlap.store(true, Ordering::SeqCst);
            }
            receivers.retain(|rx| rx.has_changed().is_ok());
            if receivers.is_empty() {
                return;
            }
            let changes = receivers.iter_mut().map(|rx| Box::pin(rx.changed()));
            let _ = futures::future::select_all(changes).await;
        }
    })
}

async fn lease_spec(api: &Api<Lease>) -> anyhow::Result<LeaseSpec> {
    api.get(LEASE).await?.spec.context("the Lease has no spec")
}

fn renew_time(spec: &LeaseSpec) -> anyhow::Result<Timestamp> {
    Ok(spec.renew_time.as_ref().context("the Lease has no renewTime")?.0)
}

fn acquire_time(spec: &LeaseSpec) -> anyhow::Result<Timestamp> {
    Ok(spec
        .acquire_time
        .as_ref()
        .context("the Lease has no acquireTime")?
        .0)
}

/// Waits until exactly one of `replicas` leads and returns its index.
async fn sole_leader(replicas: &[&Replica], timeout: Duration) -> anyhow::Result<usize> {
    wait::poll_until("exactly one leader", timeout, POLL, || async {
        let leaders: Vec<usize> = (0..replicas.len()).filter(|&i| replicas[i].leads()).collect();
        match leaders.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => bail!("{} replicas lead at once", many.len()),
        }
    })
    .await
}

#[tokio::test]
async fn one_leader_takes_over_from_a_crashed_one_and_a_graceful_stop_releases_the_lease() {
    with_namespace("leader", |ctx| async move {
        let leases: Api<Lease> = ctx.api();
        let a = Replica::start(&ctx, "replica-a")?;
        let b = Replica::start(&ctx, "replica-b")?;
        let overlap = Arc::new(AtomicBool::new(false));
        let monitor = watch_for_overlap(vec![a.is_leader.clone(), b.is_leader.clone()], overlap.clone());

        // Exactly one leads, and the Lease names it.
        let first = sole_leader(&[&a, &b], LEASE_DURATION + SLACK).await?;
        let (leader, follower) = if first == 0 { (a, b) } else { (b, a) };
        ensure!(
            !follower.leads(),
            "{} leads alongside {}",
            follower.identity,
            leader.identity
        );
        let spec = lease_spec(&leases).await?;
        ensure!(
            spec.holder_identity.as_deref() == Some(leader.identity.as_str()),
            "the Lease names {:?}, not the leader {}",
            spec.holder_identity,
            leader.identity
        );

        // The leader keeps renewing while the follower stands by.
        let acquired = acquire_time(&spec)?;
        wait::poll_until(
            "two renewals of the lease",
            RENEW * 2 + SLACK * 2,
            POLL,
            || async {
                let spec = lease_spec(&leases).await?;
                let renewed = renew_time(&spec)? >= acquired + SignedDuration::try_from(RENEW * 2)?;
                Ok(renewed.then_some(()))
            },
        )
        .await?;
        ensure!(
            leader.leads() && !follower.leads(),
            "leadership changed without a failure"
        );

        // A crash leaves the lease held; the follower takes it once it expires, and not before.
        let crashed_identity = leader.identity.clone();
        leader.crash().await;
        let last_renewal = renew_time(&lease_spec(&leases).await?)?;
        wait::poll_until(
            "the follower to take over the crashed leader's lease",
            LEASE_DURATION + RETRY + SLACK,
            POLL,
            || async { Ok(follower.leads().then_some(())) },
        )
        .await?;
        let spec = lease_spec(&leases).await?;
        ensure!(
            spec.holder_identity.as_deref() == Some(follower.identity.as_str()),
            "after the crash of {crashed_identity} the Lease names {:?}",
            spec.holder_identity
        );
        let taken = acquire_time(&spec)?;
        let expired = last_renewal + SignedDuration::try_from(LEASE_DURATION)?;
        ensure!(
            taken > expired,
            "taken over at {taken}, before the lease expired at {expired}"
        );
        ensure!(
            spec.lease_transitions == Some(1),
            "transitions: {:?}",
            spec.lease_transitions
        );

        // A graceful stop clears the holder, so a new replica leads without waiting for expiry.
        let new_leader = follower;
        let new_leader_identity = new_leader.identity.clone();
        new_leader.stop_gracefully().await?;
        let released = lease_spec(&leases).await?;
        ensure!(
            released.holder_identity.as_deref().unwrap_or_default().is_empty(),
            "{new_leader_identity} stopped but the Lease still names {:?}",
            released.holder_identity
        );
        let c = Replica::start(&ctx, "replica-c")?;
        sole_leader(&[&c], LEASE_DURATION + SLACK).await?;
        let spec = lease_spec(&leases).await?;
        ensure!(
            spec.holder_identity.as_deref() == Some("replica-c"),
            "holder {:?}",
            spec.holder_identity
        );
        let taken = acquire_time(&spec)?;
        let would_expire = renew_time(&released)? + SignedDuration::try_from(LEASE_DURATION)?;
        ensure!(
            taken < would_expire,
            "replica-c took the lease at {taken}, not before the released lease would have expired at \
             {would_expire}"
        );
        c.stop_gracefully().await?;

        monitor.abort();
        ensure!(
            !overlap.load(Ordering::SeqCst),
            "two replicas led at the same time"
        );
        Ok(())
    })
    .await;
}
