//! Calling a Canary's webhooks with Flagger's contract: a JSON POST of
//! `{name, namespace, phase, checksum, metadata}`, success when the answer's
//! status is 202 or below, a per-hook timeout (default 10s) and retries.

mod client;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use client::{
    Answer, BODY_LIMIT, Caller, DEFAULT_TIMEOUT, MAX_ANSWER_MESSAGE, QUOTE_LIMIT, judge_answer, quote,
    read_head,
};

use crate::api::{Canary, CanaryStatus, CanaryWebhook, WebhookType};
use crate::rollout::HookResult;

/// The body of every webhook call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payload {
    pub name: String,
    pub namespace: String,
    pub phase: String,
    /// Identifies one revision with one set of configs, so a receiver can tell rollouts apart.
    pub checksum: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Payload {
    /// The payload for `hook`, sent while the Canary is in `phase`.
    pub fn new(canary: &Canary, namespace: &str, phase: &str, hook: &CanaryWebhook) -> Self {
        let status = canary.status.clone().unwrap_or_default();
        Payload {
            name: canary.metadata.name.clone().unwrap_or_default(),
            namespace: namespace.to_string(),
            phase: phase.to_string(),
            checksum: checksum(&status),
            metadata: hook.metadata.clone(),
        }
    }
}

/// Hash of the revision under rollout and the checksums of its configs.
pub fn checksum(status: &CanaryStatus) -> String {
    let mut hash = Sha256::new();
    hash.update(status.last_applied_spec.as_bytes());
    for (name, sum) in &status.tracked_configs {
        hash.update([0]);
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(sum.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Calls every webhook of `kind` on the Canary, all at once, and returns
/// their answers in spec order.
pub async fn call_all(
    caller: &Caller,
    canary: &Canary,
    namespace: &str,
    phase: &str,
    kind: WebhookType,
) -> Vec<HookResult> {
    let calls = canary
        .spec
        .analysis
        .webhooks
        .iter()
        .filter(|hook| hook.type_ == kind)
        .map(|hook| {
            let payload = Payload::new(canary, namespace, phase, hook);
            async move { caller.call(hook, &payload).await }
        });
    futures::future::join_all(calls).await
}

/// The payload metadata Flagger sends to event webhooks.
pub fn event_metadata(
    message: &str,
    warning: bool,
    reason: &str,
    at: jiff::Timestamp,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("eventMessage".to_string(), message.to_string()),
        (
            "eventType".to_string(),
            if warning { "Warning" } else { "Normal" }.to_string(),
        ),
        ("eventReason".to_string(), reason.to_string()),
        ("timestamp".to_string(), at.as_millisecond().to_string()),
    ])
}

#[cfg(test)]
mod tests;
