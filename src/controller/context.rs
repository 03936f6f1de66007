//! What every reconcile shares: the client, the caches of watched objects,
//! the event recorder and the metrics.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use tokio::sync::watch;

use crate::ops::Metrics;

pub struct Context {
    pub client: Client,
    pub deployments: Store<Deployment>,
    pub config_maps: Store<ConfigMap>,
    pub secrets: Store<Secret>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Provider for Canaries that name none.
    pub default_provider: String,
    /// Prometheus for builtin metrics when neither the Canary nor a MetricTemplate names one.
    pub metrics_server: String,
    pub webhooks: crate::webhook::Caller,
    /// Receives every event of Canaries that have no event webhook of their own.
    pub event_webhook: Option<String>,
    /// Sends `analysis.alerts` notifications through AlertProviders.
    pub notifier: crate::notify::Notifier,
    /// Resource versions of serin's own status writes, to spot outdated cached copies.
    pub written: super::freshness::Written,
    /// Resource versions of serin's own scale patches of targets: while the
    /// cached Deployment predates one, the scale is not sent again.
    pub scaled: super::freshness::Written,
    /// What serin last applied to the objects it owns, so unchanged ones are not rewritten.
    pub applied: Arc<crate::applied::Applied>,
    /// Only the leader acts; others keep their caches warm.
    pub leader: watch::Receiver<bool>,
}
