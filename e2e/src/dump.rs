//! What a failing test prints: every object in its namespace, the
//! namespace's events in order, and the tail of each registered log.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Event;
use kube::api::{DynamicObject, ListParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::{Api, ResourceExt};

use crate::TestContext;

const LOG_TAIL_LINES: usize = 200;

pub async fn namespace(ctx: &TestContext) {
    let mut out = String::new();
    let _ = writeln!(out, "\n======== dump of namespace {} ========", ctx.namespace);
    objects(ctx, &mut out).await;
    events(ctx, &mut out).await;
    for path in ctx.logs() {
        let _ = writeln!(out, "---- last {LOG_TAIL_LINES} lines of {} ----", path.display());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..] {
                    let _ = writeln!(out, "{line}");
                }
            }
            Err(err) => {
                let _ = writeln!(out, "(unreadable: {err})");
            }
        }
    }
    let _ = writeln!(out, "======== end of dump ========");
    eprintln!("{out}");
}

async fn objects(ctx: &TestContext, out: &mut String) {
    let discovery = match Discovery::new(ctx.client.clone()).run().await {
        Ok(discovery) => discovery,
        Err(err) => {
            let _ = writeln!(out, "(discovery failed: {err})");
            return;
        }
    };
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced
                || !caps.supports_operation(verbs::LIST)
                || resource.kind == "Event"
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for mut obj in list.items {
                obj.managed_fields_mut().clear();
                let body = serde_json::to_string_pretty(&obj).unwrap_or_else(|err| err.to_string());
                let _ = writeln!(out, "---- {} {} ----\n{body}", resource.kind, obj.name_any());
            }
        }
    }
}

async fn events(ctx: &TestContext, out: &mut String) {
    let api: Api<Event> = ctx.api();
    let _ = writeln!(out, "---- events ----");
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut items = list.items;
            items.sort_by_key(|e| {
                e.last_timestamp
                    .clone()
                    .or(e.first_timestamp.clone())
                    .map(|t| t.0)
            });
            for e in items {
                let when = e
                    .last_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{when} {} {}/{} {}: {}",
                    e.type_.unwrap_or_default(),
                    e.involved_object.kind.unwrap_or_default(),
                    e.involved_object.name.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default()
                );
            }
        }
        Err(err) => {
            let _ = writeln!(out, "(could not list events: {err})");
        }
    }
}
