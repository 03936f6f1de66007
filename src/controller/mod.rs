//! `serin controller`: watches Canaries and everything they depend on, and
//! drives each rollout.

mod apply;
mod backoff;
mod context;
mod error;
mod freshness;
mod hooks;
mod observe;
mod reconcile;
mod routing_watch;
mod targets;
mod watch;

use std::sync::Arc;

use futures::StreamExt;
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Config, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch as tokio_watch;

pub use self::error::ReconcileError;
pub use self::observe::FINALIZER;
use crate::api::Canary;
use crate::applied::Applied;
use crate::cli::ControllerArgs;
use crate::error::Error;
use crate::ops::{Health, LeaderConfig, LeaderElector, Metrics, default_identity};

/// Buffer of the shared watch streams: how far a slow subscriber may lag.
const SHARED_BUFFER: usize = 1024;
/// How long a stop waits for in-flight reconciles.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn run(args: ControllerArgs) -> Result<(), Error> {
    let client = connect().await?;
    if args.check {
        return Ok(());
    }
    let canaries: Api<Canary> = scoped(&client, args.namespace.as_deref());
    if let Err(err) = canaries.list(&kube::api::ListParams::default().limit(1)).await {
        return Err(Error::CrdMissing(err));
    }

    // One signal, many listeners: the controller, the elector and the server.
    let (stop_tx, stop_rx) = tokio_watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let metrics = Arc::new(Metrics::new(&args.provider));
    let health = Health::new();
    let listener = crate::ops::server::bind(args.metrics_addr)
        .await
        .map_err(Error::Server)?;
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(crate::ops::server::serve_on(
        listener,
        metrics.clone(),
        health.clone(),
        stopped(),
    ));

    let identity = default_identity();
    let (leader, elector_task) = if args.leader_elect {
        let namespace = args
            .leader_election_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let config = LeaderConfig::new(namespace, args.leader_election_id.clone(), identity.clone());
        let elector = LeaderElector::new(client.clone(), config).map_err(Error::Leader)?;
        let leader = elector.is_leader();
        (leader, Some(tokio::spawn(elector.run(stopped()))))
    } else {
        // A lone replica always leads; the value outlives the dropped sender.
        let (_, rx) = tokio_watch::channel(true);
        (rx, None)
    };

    let (deployments, deployment_events) = shared_cache::<Deployment>(&client, args.namespace.as_deref())?;
    let (config_maps, config_map_events) = shared_cache::<ConfigMap>(&client, args.namespace.as_deref())?;
    let (secrets, secret_events) = shared_cache::<Secret>(&client, args.namespace.as_deref())?;

    let applied = Arc::new(crate::applied::Applied::default());
    let (canary_store, canary_writer) = reflector::store();
    let targets = Arc::new(targets::Targets::default());
    let indexed = targets.clone();
    let canary_events = watcher(canaries, watcher::Config::default().any_semantic())
        .backoff(backoff::Reconnect::default())
        .modify(|canary| canary.metadata.managed_fields = None)
        .map_ok(move |event| {
            indexed.observe(&event);
            event
        })
        .reflect(canary_writer)
        .applied_objects();
    let controller = Controller::for_stream(canary_events, canary_store.clone());
    let ctx = Arc::new(context::Context {
        client: client.clone(),
        deployments: deployments.clone(),
        config_maps: config_maps.clone(),
        secrets: secrets.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "serin".into(),
                instance: Some(identity),
            },
        ),
        metrics,
        webhooks: crate::webhook::Caller::new(),
        written: Default::default(),
        scaled: Default::default(),
        event_webhook: args.event_webhook.clone(),
        notifier: crate::notify::Notifier::new(),
        default_provider: args.provider.clone(),
        metrics_server: args.metrics_server.clone(),
        applied: applied.clone(),
        leader: leader.clone(),
    });

    {
        let (health, stores) = (
            health.clone(),
            (deployments.clone(), config_maps.clone(), secrets.clone()),
        );
        tokio::spawn(async move {
            let _ = stores.0.wait_until_ready().await;
            let _ = stores.1.wait_until_ready().await;
            let _ = stores.2.wait_until_ready().await;
            health.set_ready(true);
        });
    }

    let (c2, d2, c3, d3) = (
        canary_store.clone(),
        deployments.clone(),
        canary_store.clone(),
        deployments.clone(),
    );
    let leadership = futures::stream::unfold(leader, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });
    let controller =
        routing_watch::watch_routing_kinds(controller, &client, args.namespace.as_deref(), &applied);
    let running = controller
        .owns_stream(owned_metadata::<Service>(
            scoped(&client, args.namespace.as_deref()),
            applied,
        ))
        .watches_shared_stream(deployment_events, move |dep| {
            dep.namespace()
                .map(|ns| targets.canaries_for(&ns, &dep.name_any()))
                .unwrap_or_default()
        })
        .watches_shared_stream(config_map_events, move |cm| {
            watch::canaries_for_config(&c2, &d2, cm.namespace(), &cm.name_any(), false)
        })
        .watches_shared_stream(secret_events, move |s| {
            watch::canaries_for_config(&c3, &d3, s.namespace(), &s.name_any(), true)
        })
        .with_config(kube::runtime::controller::Config::default().concurrency(args.max_concurrent_reconciles))
        .trigger_backoff(backoff::Reconnect::default())
        .reconcile_all_on(leadership)
        .graceful_shutdown_on(stopped())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "reconcile ended with an error");
            }
        });
    // A graceful stop waits for in-flight reconciles, and kube's runner also
    // waits for the Canary cache to fill, which never happens if the stop
    // came first. Actions are idempotent, so after a grace period stopping
    // mid-reconcile is safe.
    let grace = async {
        stopped().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = running => {}
        () = grace => tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running after the grace period; stopping"),
    }
    tracing::info!("shutting down");
    // The controller has stopped: the lease can go to a successor now.
    if let Some(task) = elector_task {
        let _ = task.await;
    }
    if let Ok(Err(err)) = server.await {
        tracing::warn!(error = %err, "the metrics server ended with an error");
    }
    Ok(())
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Objects serin owns are watched by metadata only: what a reconcile needs
/// is a trigger, plus the resourceVersions that let [`Applied`] skip
/// rewriting objects nobody changed.
fn owned_metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    applied: Arc<Applied>,
) -> impl futures::Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    watcher(api, watcher::Config::default())
        .backoff(backoff::Reconnect::default())
        .map_ok(move |event| {
            applied.observe(&event);
            event
        })
        .touched_objects()
}

/// One watch per kind feeds both a cache (read by reconciles) and the
/// controller's triggers, so nothing is listed or fetched twice.
fn shared_cache<K>(
    client: &Client,
    namespace: Option<&str>,
) -> Result<(Store<K>, reflector::ReflectHandle<K>), Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store_shared::<K>(SHARED_BUFFER);
    let events = writer
        .subscribe()
        .ok_or(Error::Internal("a shared store without subscribers"))?;
    let stream = watcher(
        scoped::<K>(client, namespace),
        watcher::Config::default().any_semantic(),
    )
    .backoff(backoff::Reconnect::default())
    // Nothing reads managedFields from the caches, and at thousands of
    // Deployments they are a large share of the memory.
    .modify(|object| object.meta_mut().managed_fields = None)
    .reflect_shared(writer)
    .for_each(|_| futures::future::ready(()));
    tokio::spawn(stream);
    Ok((reader, events))
}

/// Builds a client from KUBECONFIG or the in-cluster config and proves the
/// API server answers, so a misconfigured deployment fails at start-up.
pub async fn connect() -> Result<Client, Error> {
    let config = Config::infer().await.map_err(Error::KubeConfig)?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(Error::KubeClient)?;
    let info = client
        .apiserver_version()
        .await
        .map_err(|source| Error::ApiServerUnreachable {
            url: url.clone(),
            source,
        })?;
    tracing::info!(
        server_version = %info.git_version,
        platform = %info.platform,
        url = %url,
        "connected to Kubernetes API server"
    );
    Ok(client)
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutdown signal received");
}
