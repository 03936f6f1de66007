//! Routing objects a user made before the Canary: serin does not fight users.
//!
//! A VirtualService, HTTPRoute or TrafficSplit with the apex name may exist
//! before the Canary does, written by hand or by another tool. serin takes it
//! over (its forced server-side apply owns the fields it sends; fields it does
//! not send keep their owners), but first saves the user's `spec` as JSON in
//! the annotation [`ORIGINAL_CONFIGURATION`], once: an object that already
//! carries it, or that this (or another serin) Canary controls, was not the
//! user's as it stands. When the Canary goes with `revertOnDeletion`, the
//! router puts that spec back and drops serin's owner reference and the
//! annotation instead of deleting the object.
//!
//! The annotation is written with a merge patch, not with serin's apply: an
//! applied field must be sent on every later apply or the server removes it,
//! and the routers' applies are built from the Canary alone. The patch
//! carries the resourceVersion the spec was read at, so a concurrent edit
//! makes it fail (and the reconcile retry) rather than save a stale spec.
//!
//! The objects are handled as [`DynamicObject`]s: serin's typed structs drop
//! fields they do not know (`spec.tcp`, `spec.exportTo`), which the user's
//! spec must keep.

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::error::{classify, not_found};
use super::{FIELD_MANAGER, RouterError, controlled_by};
use crate::api::Canary;

/// Annotation holding the user's spec from before serin took the object over.
pub const ORIGINAL_CONFIGURATION: &str = "serin.dev/original-configuration";

/// One routing object of a router, by kind and name.
pub(crate) struct RoutingObject<'a> {
    api: Api<DynamicObject>,
    /// `(kind, group, version)`, for errors.
    gvk: (&'static str, &'static str, &'static str),
    namespace: &'a str,
    name: &'a str,
}

/// What [`RoutingObject::restore`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Restored {
    /// The user's spec is back; the object stays.
    Original,
    /// Nothing to put back (no object, or no saved spec): the caller
    /// removes the object as it would any object of its own.
    Nothing,
}

impl<'a> RoutingObject<'a> {
    /// The object `name` of kind `K` (group and version as the router writes it).
    pub(crate) fn new<K: Resource<DynamicType = ()>>(
        client: &Client,
        gvk: (&'static str, &'static str, &'static str),
        namespace: &'a str,
        name: &'a str,
    ) -> Self {
        let resource = ApiResource::erase::<K>(&());
        Self {
            api: Api::namespaced_with(client.clone(), namespace, &resource),
            gvk,
            namespace,
            name,
        }
    }

    /// Saves the user's spec before serin's first apply over an object it
    /// did not create; a no-op for a missing object or one already taken over.
    pub(crate) async fn preserve(&self, canary: &Canary) -> Result<(), RouterError> {
        let Some(object) = self.get().await? else {
            return Ok(());
        };
        let Some(patch) = save_patch(canary, &object)? else {
            return Ok(());
        };
        tracing::info!(
            kind = self.gvk.0,
            name = self.name,
            "taking over an object serin did not create; saving its spec in {ORIGINAL_CONFIGURATION}"
        );
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        self.api
            .patch(self.name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|err| self.error("annotate", err))?;
        Ok(())
    }

    /// Puts the saved user's spec back, if there is one.
    pub(crate) async fn restore(&self, canary: &Canary) -> Result<Restored, RouterError> {
        let Some(object) = self.get().await? else {
            return Ok(Restored::Nothing);
        };
        let Some(restored) = restored(canary, &object).map_err(|reason| self.corrupt(reason))? else {
            return Ok(Restored::Nothing);
        };
        // A replace with the resourceVersion just read: an edit in between
        // fails it with a conflict, and the reconcile retries on fresh data.
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PostParams::default()
        };
        self.api
            .replace(self.name, &params, &restored)
            .await
            .map_err(|err| self.error("restore", err))?;
        tracing::info!(
            kind = self.gvk.0,
            name = self.name,
            "restored the spec the object had before serin took it over"
        );
        Ok(Restored::Original)
    }

    async fn get(&self) -> Result<Option<DynamicObject>, RouterError> {
        match self.api.get(self.name).await {
            Ok(object) => Ok(Some(object)),
            // Without the CRD no such object can exist either; the router's
            // own write reports the missing CRD.
            Err(err) if not_found(&err).is_some() => Ok(None),
            Err(err) => Err(self.error("read", err)),
        }
    }

    fn error(&self, action: &'static str, err: kube::Error) -> RouterError {
        classify(err, self.gvk, action, self.namespace, self.name)
    }

    fn corrupt(&self, reason: String) -> RouterError {
        RouterError::InvalidOriginal {
            kind: self.gvk.0,
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
            reason,
        }
    }
}

/// The merge patch saving `object`'s spec, or `None` when it must not be
/// saved: it is already saved, or the object is serin's own (controlled by
/// this Canary, or by another serin Canary that left it behind).
pub(crate) fn save_patch(canary: &Canary, object: &DynamicObject) -> Result<Option<Value>, RouterError> {
    if controlled_by(canary, object) || controlled_by_a_canary(object) {
        return Ok(None);
    }
    if object.annotations().contains_key(ORIGINAL_CONFIGURATION) {
        return Ok(None);
    }
    let spec = object.data.get("spec").cloned().unwrap_or(Value::Null);
    let saved = serde_json::to_string(&spec)
        .map_err(|err| RouterError::InvalidSpec(format!("cannot serialise a stored spec: {err}")))?;
    Ok(Some(json!({
        "metadata": {
            "resourceVersion": object.resource_version(),
            "annotations": { ORIGINAL_CONFIGURATION: saved }
        }
    })))
}

/// `object` with the saved spec put back and serin's marks (its owner
/// reference, the annotation) gone; `None` when there is nothing saved, or
/// when another controller owns the object now. `Err` names why the saved
/// spec cannot be read.
pub(crate) fn restored(canary: &Canary, object: &DynamicObject) -> Result<Option<DynamicObject>, String> {
    let Some(saved) = object.annotations().get(ORIGINAL_CONFIGURATION) else {
        return Ok(None);
    };
    let controlled_by_other = object
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(&o.uid) != canary.uid().as_ref());
    if controlled_by_other {
        return Ok(None);
    }
    let spec: Value = serde_json::from_str(saved).map_err(|err| format!("not JSON: {err}"))?;
    if !(spec.is_object() || spec.is_null()) {
        return Err(format!("not a JSON object: {saved}"));
    }
    let mut restored = object.clone();
    match (restored.data.as_object_mut(), spec) {
        (Some(data), Value::Null) => {
            data.remove("spec");
        }
        (Some(data), spec) => {
            data.insert("spec".to_string(), spec);
        }
        (None, spec) => restored.data = json!({ "spec": spec }),
    }
    let meta = &mut restored.metadata;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(ORIGINAL_CONFIGURATION);
    }
    if let Some(owners) = meta.owner_references.as_mut() {
        owners.retain(|o| Some(&o.uid) != canary.uid().as_ref());
    }
    // Left out, the server keeps tracking field ownership itself.
    meta.managed_fields = None;
    Ok(Some(restored))
}

/// Whether a serin Canary controls `object`: a route a deleted Canary left
/// behind (or another Canary's) holds serin's spec, not a user's.
fn controlled_by_a_canary(object: &DynamicObject) -> bool {
    object.owner_references().iter().any(|o| {
        o.controller == Some(true)
            && o.kind == Canary::kind(&())
            && o.api_version.split('/').next() == Some(&*Canary::group(&()))
    })
}

#[cfg(test)]
#[path = "original_tests.rs"]
mod tests;
