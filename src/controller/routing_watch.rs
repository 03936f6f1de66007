//! The routing objects serin owns (HTTPRoutes, VirtualServices,
//! DestinationRules, TrafficSplits) are watched by metadata, so a hand edit
//! of the weights is put back at once and an idle reconcile can skip
//! rewriting them (see [`crate::applied`]).
//!
//! A kind whose CRD is not installed (or that serin's RBAC does not let it
//! list) is not watched; it is looked for again every [`RECHECK`], and
//! watched from the moment it can be listed, so CRDs installed after serin
//! started need no restart. Its Canaries work meanwhile, corrected at their
//! next reconcile instead of at once.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::api::ListParams;
use kube::core::PartialObjectMeta;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::{owned_metadata, scoped};
use crate::api::Canary;
use crate::applied::Applied;
use crate::router::gatewayapi_types::HTTPRoute;
use crate::router::istio_types::{DestinationRule, VirtualService};
use crate::router::smi_types::{v1alpha1, v1alpha2, v1alpha3};

/// How often a kind that cannot be listed is looked for again.
const RECHECK: Duration = Duration::from_secs(10);

type Owned<K> = BoxStream<'static, Result<PartialObjectMeta<K>, watcher::Error>>;

/// `controller`, also triggered by every routing kind, once the cluster serves it.
pub(super) fn watch_routing_kinds(
    controller: Controller<Canary>,
    client: &Client,
    namespace: Option<&str>,
    applied: &Arc<Applied>,
) -> Controller<Canary> {
    let kinds = Kinds {
        client: client.clone(),
        namespace: namespace.map(str::to_string),
        applied: applied.clone(),
    };
    controller
        .owns_stream(kinds.once_listable::<HTTPRoute>())
        .owns_stream(kinds.once_listable::<VirtualService>())
        .owns_stream(kinds.once_listable::<DestinationRule>())
        .owns_stream(kinds.traffic_splits())
}

#[derive(Clone)]
struct Kinds {
    client: Client,
    namespace: Option<String>,
    applied: Arc<Applied>,
}

impl Kinds {
    /// A metadata watch of `K` that starts once `K` can be listed.
    fn once_listable<K>(&self) -> Owned<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let kinds = self.clone();
        futures::stream::once(async move {
            let mut reported = false;
            while let Err(err) = kinds.list_one::<K>().await {
                if !reported {
                    tracing::info!(kind = %name_of::<K>(), reason = why_not(&err), error = %err,
                        "not watching this routing kind yet; looking again every {RECHECK:?}");
                    reported = true;
                }
                tokio::time::sleep(RECHECK).await;
            }
            tracing::info!(kind = %name_of::<K>(), "watching owned routing objects");
            kinds.watch::<K>()
        })
        .flatten()
        .boxed()
    }

    /// One watch of TrafficSplits through the first version the cluster
    /// serves: the resourceVersion is the object's whichever version it is
    /// read as, and meshes serve different versions.
    fn traffic_splits(&self) -> Owned<v1alpha2::TrafficSplit> {
        let kinds = self.clone();
        futures::stream::once(async move {
            let mut reported = false;
            loop {
                let err = match kinds.list_one::<v1alpha2::TrafficSplit>().await {
                    Ok(()) => return kinds.watch::<v1alpha2::TrafficSplit>(),
                    Err(err) => err,
                };
                if kinds.list_one::<v1alpha1::TrafficSplit>().await.is_ok() {
                    return as_v1alpha2(kinds.watch::<v1alpha1::TrafficSplit>());
                }
                if kinds.list_one::<v1alpha3::TrafficSplit>().await.is_ok() {
                    return as_v1alpha2(kinds.watch::<v1alpha3::TrafficSplit>());
                }
                if !reported {
                    tracing::info!(kind = "split.smi-spec.io TrafficSplit", reason = why_not(&err), error = %err,
                        "not watching this routing kind yet; looking again every {RECHECK:?}");
                    reported = true;
                }
                tokio::time::sleep(RECHECK).await;
            }
        })
        .flatten()
        .boxed()
    }

    async fn list_one<K>(&self) -> Result<(), kube::Error>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        let api: Api<K> = scoped(&self.client, self.namespace.as_deref());
        api.list_metadata(&ListParams::default().limit(1)).await.map(drop)
    }

    fn watch<K>(&self) -> Owned<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        owned_metadata::<K>(
            scoped(&self.client, self.namespace.as_deref()),
            self.applied.clone(),
        )
        .boxed()
    }
}

/// The controller needs one item type per trigger stream; for a trigger only
/// the metadata (owner references) matters, which is the same in every version.
fn as_v1alpha2<K: Send + 'static>(stream: Owned<K>) -> Owned<v1alpha2::TrafficSplit> {
    stream
        .map_ok(|meta| PartialObjectMeta {
            types: meta.types,
            metadata: meta.metadata,
            _phantom: PhantomData,
        })
        .boxed()
}

fn name_of<K: Resource<DynamicType = ()>>() -> String {
    format!("{}/{} {}", K::group(&()), K::version(&()), K::kind(&()))
}

fn why_not(err: &kube::Error) -> &'static str {
    match err {
        kube::Error::Api(status) if status.code == 404 => "its CRD (or this version of it) is not installed",
        kube::Error::Api(status) if status.code == 403 => "serin's RBAC does not let it list them",
        _ => "the API server did not answer the list",
    }
}
