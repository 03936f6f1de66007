//! Gate state: which manual gates and rollback switches are open.
//!
//! flagger-loadtester keeps this in memory, so a pod restart silently closes every gate an operator had
//! opened. serin keeps it in a ConfigMap (or a file outside a cluster): keys `gate.<name>.<namespace>` and
//! `rollback.<name>.<namespace>`, values `open` or `closed` — readable and editable with `kubectl`.
//!
//! Every open/close is written through before it is acknowledged. With a ConfigMap, checks read the
//! ConfigMap too, so several replicas behind one Service agree; if the API server is unreachable a check
//! answers from the last state seen rather than failing the Canary's tick.

mod configmap;
mod file;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

pub use self::configmap::ConfigMapStore;
pub use self::file::FileStore;

const OPEN: &str = "open";
const CLOSED: &str = "closed";

/// The two switches a canary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `/gate/*`: a manual approval (confirm-rollout, confirm-promotion, …).
    Approval,
    /// `/rollback/*`: a manual abort, read by a `rollback` webhook.
    Rollback,
}

impl Gate {
    pub fn key(self, name: &str, namespace: &str) -> String {
        let prefix = match self {
            Gate::Approval => "gate",
            Gate::Rollback => "rollback",
        };
        format!("{prefix}.{name}.{namespace}")
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Gate::Approval => "gate",
            Gate::Rollback => "rollback",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not read the state file {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state file {path} is not a JSON object of strings")]
    ParseFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not write the state file {path}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not {action} ConfigMap {namespace}/{name}")]
    Api {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("ConfigMap {namespace}/{name} kept changing under us; gave up after {attempts} attempts")]
    Contended {
        namespace: String,
        name: String,
        attempts: u32,
    },
}

/// Where gate state is kept.
pub enum Backend {
    /// Lost on restart, as in flagger-loadtester.
    Memory,
    File(FileStore),
    ConfigMap(Box<ConfigMapStore>),
}

impl Backend {
    pub fn describe(&self) -> String {
        match self {
            Backend::Memory => "memory".to_string(),
            Backend::File(f) => format!("file {}", f.path().display()),
            Backend::ConfigMap(c) => format!("ConfigMap {}", c.describe()),
        }
    }
}

pub struct GateStore {
    backend: Backend,
    /// The last state read or written; all there is with [`Backend::Memory`].
    cache: RwLock<BTreeMap<String, String>>,
}

impl GateStore {
    /// Loads the stored state; fails rather than start with every gate silently closed.
    pub async fn load(backend: Backend) -> Result<Self, StateError> {
        let data = match &backend {
            Backend::Memory => BTreeMap::new(),
            Backend::File(f) => f.load().await?,
            Backend::ConfigMap(c) => c.load().await?,
        };
        let open = data.values().filter(|v| v.as_str() == OPEN).count();
        tracing::info!(store = %backend.describe(), open, "gate state loaded");
        Ok(Self {
            backend,
            cache: RwLock::new(data),
        })
    }

    pub fn in_memory() -> Self {
        Self {
            backend: Backend::Memory,
            cache: RwLock::default(),
        }
    }

    pub async fn is_open(&self, key: &str) -> bool {
        if let Backend::ConfigMap(c) = &self.backend {
            match c.load().await {
                Ok(data) => *self.cache.write().unwrap_or_else(PoisonError::into_inner) = data,
                Err(err) => tracing::warn!(
                    error = %crate::error::chain(&err),
                    key,
                    "could not read gate state; answering from the last state seen"
                ),
            }
        }
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(key).is_some_and(|v| v == OPEN)
    }

    /// Opens or closes a switch, persisting it before returning.
    pub async fn set(&self, key: &str, open: bool) -> Result<(), StateError> {
        let value = if open { OPEN } else { CLOSED };
        match &self.backend {
            Backend::Memory => {}
            // The file store holds its own lock across read-modify-write, so concurrent calls serialise.
            Backend::File(f) => f.set(key, value).await?,
            Backend::ConfigMap(c) => c.set(key, value).await?,
        }
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), value.to_string());
        tracing::info!(key, value, "gate state changed");
        Ok(())
    }
}
