//! Bounded waits. Tests never sleep to synchronise: they watch, or poll a
//! check until it holds or a deadline passes, and then fail saying what they
//! waited for.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, anyhow};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Polls `check` every `every` until it returns `Some`, for at most `timeout`.
/// The last error or "not yet" is reported when the deadline passes.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => "not yet".to_string(),
            Err(err) => format!("{err:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(anyhow!(
                "timed out after {timeout:?} waiting for {what}; last check: {last}"
            ));
        }
        tokio::time::sleep(every).await;
    }
}

/// Watches one object until `condition` holds, for at most `timeout`.
pub async fn for_object<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> anyhow::Result<K>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let what = format!("{} {name}", K::kind(&K::DynamicType::default()));
    let found = tokio::time::timeout(timeout, await_condition(api.clone(), name, condition))
        .await
        .map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
        .with_context(|| format!("watching {what}"))?;
    found.ok_or_else(|| anyhow!("{what} was deleted while waiting for it"))
}

/// Watches one object until it is gone, for at most `timeout`.
pub async fn for_deletion<K>(api: &Api<K>, name: &str, uid: &str, timeout: Duration) -> anyhow::Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let what = format!("deletion of {} {name}", K::kind(&K::DynamicType::default()));
    let condition = kube::runtime::wait::conditions::is_deleted(uid);
    tokio::time::timeout(timeout, await_condition(api.clone(), name, condition))
        .await
        .map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
        .with_context(|| format!("watching {what}"))?;
    Ok(())
}
