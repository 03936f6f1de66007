//! Which Canaries a Deployment event concerns, without scanning every Canary.
//!
//! A Deployment concerns the Canaries that target it or own it as their
//! primary. Finding them by scanning the Canary cache costs a pass over every
//! Canary for every Deployment event, and at thousands of Canaries rolling
//! out at once (each rollout moves several Deployments' status many times)
//! that dominates serin's CPU. This index, fed by the Canary watch, answers
//! by lookup.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::api::Canary;
use crate::workload;

type Key = (String, String);

#[derive(Default)]
struct Index {
    /// (namespace, Deployment) → Canaries targeting it or owning it as primary.
    by_deployment: HashMap<Key, BTreeSet<String>>,
    /// (namespace, Canary) → its target, to undo the entries when it changes.
    target_of: HashMap<Key, String>,
    /// Canaries listed since a relist began; the others were deleted meanwhile.
    relisted: Option<HashSet<Key>>,
}

#[derive(Default)]
pub struct Targets(Mutex<Index>);

impl Targets {
    /// Feeds one event of the Canary watch.
    pub fn observe(&self, event: &watcher::Event<Canary>) {
        let mut index = self.lock();
        match event {
            watcher::Event::Init => index.relisted = Some(HashSet::new()),
            watcher::Event::InitApply(canary) => {
                if let Some(seen) = index.relisted.as_mut() {
                    seen.insert(key(canary));
                }
                index.set(canary);
            }
            watcher::Event::InitDone => {
                let seen = index.relisted.take().unwrap_or_default();
                let gone: Vec<Key> = index
                    .target_of
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                for canary in gone {
                    index.remove(&canary);
                }
            }
            watcher::Event::Apply(canary) => index.set(canary),
            watcher::Event::Delete(canary) => index.remove(&key(canary)),
        }
    }

    /// The Canaries that Deployment `name` in `namespace` concerns.
    pub fn canaries_for(&self, namespace: &str, name: &str) -> Vec<ObjectRef<Canary>> {
        let index = self.lock();
        index
            .by_deployment
            .get(&(namespace.to_string(), name.to_string()))
            .map(|canaries| {
                canaries
                    .iter()
                    .map(|c| ObjectRef::new(c).within(namespace))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(canary: &Canary) -> Key {
    (canary.namespace().unwrap_or_default(), canary.name_any())
}

impl Index {
    fn set(&mut self, canary: &Canary) {
        let canary_key = key(canary);
        let target = canary.spec.target_ref.name.clone();
        if self.target_of.get(&canary_key) == Some(&target) {
            return;
        }
        self.remove(&canary_key);
        let namespace = canary_key.0.clone();
        for deployment in [workload::primary_name(&target), target.clone()] {
            self.by_deployment
                .entry((namespace.clone(), deployment))
                .or_default()
                .insert(canary_key.1.clone());
        }
        self.target_of.insert(canary_key, target);
    }

    fn remove(&mut self, canary_key: &Key) {
        let Some(target) = self.target_of.remove(canary_key) else {
            return;
        };
        for deployment in [workload::primary_name(&target), target] {
            let deployment_key = (canary_key.0.clone(), deployment);
            if let Some(canaries) = self.by_deployment.get_mut(&deployment_key) {
                canaries.remove(&canary_key.1);
                if canaries.is_empty() {
                    self.by_deployment.remove(&deployment_key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use watcher::Event;

    use super::*;

    fn canary(name: &str, target: &str) -> Canary {
        let mut canary: Canary = serde_json::from_value(serde_json::json!({
            "apiVersion": "serin.dev/v1beta1", "kind": "Canary",
            "metadata": { "name": name, "namespace": "ns" },
            "spec": { "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
                      "service": { "port": 80 }, "analysis": {} }
        }))
        .expect("a valid Canary");
        canary.metadata.namespace = Some("ns".into());
        canary
    }

    fn names(refs: Vec<ObjectRef<Canary>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn a_deployment_finds_the_canaries_targeting_it_or_owning_it_as_primary() {
        let targets = Targets::default();
        targets.observe(&Event::Apply(canary("web", "podinfo")));
        assert_eq!(names(targets.canaries_for("ns", "podinfo")), ["web"]);
        assert_eq!(names(targets.canaries_for("ns", "podinfo-primary")), ["web"]);
        assert!(targets.canaries_for("other", "podinfo").is_empty());
        assert!(targets.canaries_for("ns", "unrelated").is_empty());
    }

    #[test]
    fn a_changed_target_moves_the_canary_and_a_deletion_removes_it() {
        let targets = Targets::default();
        targets.observe(&Event::Apply(canary("web", "podinfo")));
        targets.observe(&Event::Apply(canary("web", "frontend")));
        assert!(targets.canaries_for("ns", "podinfo").is_empty());
        assert_eq!(names(targets.canaries_for("ns", "frontend")), ["web"]);
        targets.observe(&Event::Delete(canary("web", "frontend")));
        assert!(targets.canaries_for("ns", "frontend").is_empty());
    }

    #[test]
    fn a_relist_drops_canaries_deleted_while_the_watch_was_down() {
        let targets = Targets::default();
        targets.observe(&Event::Apply(canary("web", "podinfo")));
        targets.observe(&Event::Apply(canary("api", "backend")));
        targets.observe(&Event::Init);
        targets.observe(&Event::InitApply(canary("api", "backend")));
        targets.observe(&Event::InitDone);
        assert!(targets.canaries_for("ns", "podinfo").is_empty());
        assert_eq!(names(targets.canaries_for("ns", "backend")), ["api"]);
    }
}
