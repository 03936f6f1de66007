//! The reflector cache lags behind serin's own writes: a reconcile woken by
//! a change to an owned object can see a Canary whose status predates the
//! status serin just wrote, and would decide the same step again (calling
//! webhooks twice, or repeating a promotion's side effects). Remembering the
//! resourceVersion of each status write lets a reconcile recognise an
//! outdated copy and wait for the watch to deliver the current one.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
pub struct Written(Mutex<HashMap<(String, String), u64>>);

impl Written {
    /// Remembers the resourceVersion the API server returned for a status write.
    pub fn record(&self, namespace: &str, name: &str, resource_version: Option<&str>) {
        let Some(version) = resource_version.and_then(|v| v.parse().ok()) else {
            return;
        };
        self.lock()
            .insert((namespace.to_string(), name.to_string()), version);
    }

    /// Whether the cached copy is older than serin's last status write. Versions are
    /// compared as the integers the API server issues; anything else counts as current.
    pub fn is_stale(&self, namespace: &str, name: &str, cached: Option<&str>) -> bool {
        let key = (namespace.to_string(), name.to_string());
        let mut written = self.lock();
        let Some(last) = written.get(&key).copied() else {
            return false;
        };
        match cached.and_then(|v| v.parse::<u64>().ok()) {
            Some(version) if version < last => true,
            _ => {
                written.remove(&key);
                false
            }
        }
    }

    pub fn forget(&self, namespace: &str, name: &str) {
        self.lock().remove(&(namespace.to_string(), name.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_copy_is_stale_until_the_watch_catches_up() {
        let written = Written::default();
        assert!(!written.is_stale("ns", "a", Some("5")), "nothing written yet");
        written.record("ns", "a", Some("10"));
        assert!(written.is_stale("ns", "a", Some("9")));
        assert!(!written.is_stale("ns", "b", Some("9")), "per Canary");
        assert!(!written.is_stale("ns", "a", Some("10")));
        // Once caught up the entry is gone, so a newer leader's writes are never mistaken.
        assert!(!written.is_stale("ns", "a", Some("3")));
    }

    #[test]
    fn unparsable_versions_count_as_current() {
        let written = Written::default();
        written.record("ns", "a", Some("10"));
        assert!(!written.is_stale("ns", "a", Some("opaque")));
        written.record("ns", "a", Some("opaque"));
        assert!(!written.is_stale("ns", "a", Some("1")));
    }
}
