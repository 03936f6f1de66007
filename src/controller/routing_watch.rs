//! The routing objects serin owns (HTTPRoutes, VirtualServices,
//! DestinationRules, TrafficSplits) are watched by metadata when their CRDs
//! are installed, so a hand edit of the weights is put back at once and an
//! idle reconcile can skip rewriting them (see [`crate::applied`]). A kind
//! whose CRD is missing, or that serin's RBAC does not grant, is skipped with
//! one log line: its Canaries still work, and are corrected at their next
//! reconcile instead of at once.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::api::ListParams;
use kube::runtime::Controller;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::{owned_metadata, scoped};
use crate::api::Canary;
use crate::applied::Applied;
use crate::router::gatewayapi_types::HTTPRoute;
use crate::router::istio_types::{DestinationRule, VirtualService};
use crate::router::smi_types::{v1alpha1, v1alpha2, v1alpha3};

/// `controller`, also triggered by every routing kind the cluster serves.
pub(super) async fn watch_installed(
    controller: Controller<Canary>,
    client: &Client,
    namespace: Option<&str>,
    applied: &Arc<Applied>,
) -> Controller<Canary> {
    let watch = Watch {
        client,
        namespace,
        applied,
    };
    let (controller, _) = watch.kind::<HTTPRoute>(controller).await;
    let (controller, _) = watch.kind::<VirtualService>(controller).await;
    let (controller, _) = watch.kind::<DestinationRule>(controller).await;
    // One TrafficSplit watch is enough: the resourceVersion is the object's,
    // whichever version it is read as. Meshes serve different versions.
    let (controller, found) = watch.kind::<v1alpha2::TrafficSplit>(controller).await;
    if found {
        return controller;
    }
    let (controller, found) = watch.kind::<v1alpha1::TrafficSplit>(controller).await;
    if found {
        return controller;
    }
    watch.kind::<v1alpha3::TrafficSplit>(controller).await.0
}

struct Watch<'a> {
    client: &'a Client,
    namespace: Option<&'a str>,
    applied: &'a Arc<Applied>,
}

impl Watch<'_> {
    /// Adds a metadata watch of `K` when a list of it succeeds; says whether it did.
    async fn kind<K>(&self, controller: Controller<Canary>) -> (Controller<Canary>, bool)
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let kind = format!("{}/{} {}", K::group(&()), K::version(&()), K::kind(&()));
        let probe: Api<K> = scoped(self.client, self.namespace);
        match probe.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => {
                tracing::debug!(%kind, "watching owned routing objects");
                let stream = owned_metadata::<K>(scoped(self.client, self.namespace), self.applied.clone());
                (controller.owns_stream(stream), true)
            }
            Err(err) => {
                tracing::info!(%kind, reason = why_not(&err), error = %err, "not watching this routing kind");
                (controller, false)
            }
        }
    }
}

fn why_not(err: &kube::Error) -> &'static str {
    match err {
        kube::Error::Api(status) if status.code == 404 => "its CRD (or this version of it) is not installed",
        kube::Error::Api(status) if status.code == 403 => "serin's RBAC does not let it list them",
        _ => "the API server did not answer the list",
    }
}
