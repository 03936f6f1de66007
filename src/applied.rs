//! Writes that would change nothing are not sent.
//!
//! Every reconcile, idle ones included, wants the Services and the routing
//! object to look as the Canary says. Sending them with server-side apply
//! each time is correct but costs a request per object per reconcile, which
//! at thousands of Canaries is most of the API server's load from serin.
//!
//! [`Applied`] remembers, per object, a fingerprint of what serin last
//! applied and the resourceVersion the server answered with, and (from the
//! controller's metadata watches) the latest resourceVersion seen. An apply
//! is skipped only when serin would send the same object again *and* the
//! latest version seen is the one serin wrote: any change by anyone else,
//! a deletion, or a watch that had to relist makes the next reconcile write.
//! Nothing is persisted: after a restart every object is written once.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::watcher;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjectKey {
    kind: String,
    namespace: String,
    name: String,
}

#[derive(Debug, Default)]
struct Entry {
    /// Fingerprint of the object serin last applied.
    fingerprint: Option<u64>,
    /// resourceVersion the server returned for that apply.
    written: Option<String>,
    /// Latest resourceVersion a watch reported; `None` when unknown.
    seen: Option<String>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.fingerprint.is_none() && self.seen.is_none()
    }
}

/// What serin applied and what the watches saw since, per object.
#[derive(Debug, Default)]
pub struct Applied {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
}

/// An apply being considered: see [`Applied::check`].
#[derive(Debug)]
pub struct PendingApply {
    key: ObjectKey,
    fingerprint: u64,
    current: bool,
    controlled: bool,
}

impl PendingApply {
    /// Whether the object is known to hold exactly what would be sent.
    pub fn is_current(&self) -> bool {
        self.current
    }

    /// Whether a watch last saw the object controlled by a Canary: then it
    /// is no user's object to save before taking it over.
    pub fn is_controlled_by_a_canary(&self) -> bool {
        self.controlled
    }
}

impl Applied {
    /// Fingerprints `object` (as it would be sent) and looks up whether the
    /// object in the cluster is known to be exactly that.
    pub fn check<K>(&self, namespace: &str, object: &K) -> PendingApply
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let key = key_of(object, namespace);
        let fingerprint = fingerprint(object);
        let (current, controlled) = self.with_entries(|entries| match entries.get(&key) {
            Some(e) => (
                e.fingerprint == Some(fingerprint) && e.written.is_some() && e.written == e.seen,
                e.seen.is_some(),
            ),
            None => (false, false),
        });
        PendingApply {
            key,
            fingerprint,
            current,
            controlled,
        }
    }

    /// Records a successful apply and the resourceVersion it produced.
    pub fn wrote(&self, pending: PendingApply, resource_version: Option<String>) {
        self.with_entries(|entries| {
            let entry = entries.entry(pending.key).or_default();
            entry.fingerprint = Some(pending.fingerprint);
            entry.written = resource_version;
        });
    }

    /// Feeds one event of a metadata watch of an owned kind.
    pub fn observe<K>(&self, event: &watcher::Event<K>)
    where
        K: Resource<DynamicType = ()>,
    {
        let kind = K::kind(&()).into_owned();
        match event {
            // A (re)list starts: what happened while disconnected is unknown.
            watcher::Event::Init => self.with_entries(|entries| {
                entries.retain(|key, entry| {
                    if key.kind == kind {
                        entry.seen = None;
                    }
                    !entry.is_empty()
                })
            }),
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                // Only objects a Canary controls: the watch sees every object of the kind.
                if !controlled_by_a_canary(object) {
                    return;
                }
                let (key, version) = (key_of(object, ""), object.meta().resource_version.clone());
                self.with_entries(|entries| entries.entry(key).or_default().seen = version);
            }
            watcher::Event::Delete(object) => {
                let key = key_of(object, "");
                self.with_entries(|entries| entries.remove(&key));
            }
            watcher::Event::InitDone => {}
        }
    }

    /// How many objects are tracked, for tests and memory accounting.
    pub fn len(&self) -> usize {
        self.with_entries(|entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<ObjectKey, Entry>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut entries)
    }
}

fn key_of<K: Resource<DynamicType = ()>>(object: &K, default_namespace: &str) -> ObjectKey {
    let meta = object.meta();
    ObjectKey {
        kind: K::kind(&()).into_owned(),
        namespace: meta
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        name: meta.name.clone().unwrap_or_default(),
    }
}

fn controlled_by_a_canary<K: Resource>(object: &K) -> bool {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.kind == "Canary" && o.api_version.starts_with("serin.dev/"))
}

/// Hash of the object's JSON form. Field order is the struct's, so equal
/// objects built by the same code hash equally.
fn fingerprint<T: Serialize>(object: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    match serde_json::to_vec(object) {
        Ok(bytes) => bytes.hash(&mut hasher),
        // Unserialisable means the apply itself will fail: never "current".
        Err(_) => return 0,
    }
    hasher.finish()
}

#[cfg(test)]
mod tests;
