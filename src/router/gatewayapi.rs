//! The `gatewayapi` / `gatewayapi:v1` provider: one HTTPRoute named after
//! the apex Service, attached to `service.gatewayRefs` (Gateways, or a
//! Service for GAMMA meshes such as Linkerd), splitting traffic between
//! `<apex>-primary` and `<apex>-canary`.

mod filters;
mod route;
#[cfg(test)]
mod routing_tests;
mod rules;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

pub use route::{http_route, route_weights};

use super::error::{NotFound, classify, not_found};
use super::gatewayapi_types::{GROUP, HTTPRoute, VERSION};
use super::original::{Restored, RoutingObject};
use super::{FIELD_MANAGER, Router, RouterError, apex_name, controlled_by, delete_exactly, namespace};
use crate::api::Canary;
use crate::applied::Applied;
use crate::rollout::Weights;

pub struct GatewayApiRouter {
    client: Client,
    applied: Arc<Applied>,
}

impl GatewayApiRouter {
    pub fn new(client: Client, applied: Arc<Applied>) -> Self {
        Self { client, applied }
    }

    fn api(&self, canary: &Canary) -> Result<(Api<HTTPRoute>, String), RouterError> {
        let namespace = namespace(canary)?;
        Ok((Api::namespaced(self.client.clone(), &namespace), namespace))
    }

    fn route<'a>(&self, namespace: &'a str, name: &'a str) -> RoutingObject<'a> {
        RoutingObject::new::<HTTPRoute>(&self.client, ("HTTPRoute", GROUP, VERSION), namespace, name)
    }

    /// The route, `None` when it does not exist.
    async fn get(&self, canary: &Canary) -> Result<Option<HTTPRoute>, RouterError> {
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        match api.get(name).await {
            Ok(route) => Ok(Some(route)),
            Err(err) if not_found(&err) == Some(NotFound::Object) => Ok(None),
            Err(err) => Err(api_error("read", &namespace, name, err)),
        }
    }
}

pub(crate) fn router(client: Client, applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(GatewayApiRouter::new(client, applied))
}

#[async_trait]
impl Router for GatewayApiRouter {
    fn name(&self) -> &'static str {
        "gatewayapi"
    }

    async fn apply(&self, canary: &Canary, weights: Weights) -> Result<(), RouterError> {
        let route = http_route(canary, weights)?;
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        let pending = self.applied.check(&namespace, &route);
        if pending.is_current() {
            return Ok(());
        }
        if !pending.is_controlled_by_a_canary() {
            self.route(&namespace, name).preserve(canary).await?;
        }
        // Forced: serin is the authority on the fields it sends (the rules
        // above all); everything else on the object stays with its owners.
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api
            .patch(name, &params, &Patch::Apply(&route))
            .await
            .map_err(|err| api_error("apply", &namespace, name, err))?;
        self.applied.wrote(pending, written.resource_version());
        Ok(())
    }

    async fn weights(&self, canary: &Canary) -> Result<Option<Weights>, RouterError> {
        Ok(self
            .get(canary)
            .await?
            .and_then(|route| route_weights(canary, &route)))
    }

    async fn remove(&self, canary: &Canary) -> Result<(), RouterError> {
        // A user's route gets its own spec back and stays.
        let namespace = namespace(canary)?;
        if self.route(&namespace, apex_name(canary)).restore(canary).await? == Restored::Original {
            return Ok(());
        }
        let Some(route) = self.get(canary).await? else {
            return Ok(());
        };
        // A route of the same name that this Canary does not control was not
        // created by serin for it (or was taken over since): leave it alone.
        let controlled = controlled_by(canary, &route);
        if !controlled {
            tracing::info!(route = %route.name_any(), "HTTPRoute is not controlled by this Canary; not deleting it");
            return Ok(());
        }
        let (api, namespace) = self.api(canary)?;
        let name = apex_name(canary);
        // The uid precondition keeps a route recreated meanwhile by someone else.
        let params = delete_exactly(&route);
        match api.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(err) if not_found(&err) == Some(NotFound::Object) => Ok(()),
            Err(err) => Err(api_error("delete", &namespace, name, err)),
        }
    }
}

fn api_error(action: &'static str, namespace: &str, name: &str, err: kube::Error) -> RouterError {
    classify(err, ("HTTPRoute", GROUP, VERSION), action, namespace, name)
}
