//! Reconcile errors, classified: an invalid spec waits for the user to change
//! something; anything else is retried with a backoff. Each becomes a
//! Warning event with a stable reason.

use crate::router::RouterError;
use crate::workload::WorkloadError;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the Canary has no {0}")]
    MissingField(&'static str),
    #[error("{0}")]
    InvalidSpec(String),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
}

impl ReconcileError {
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| ReconcileError::Api { action, source }
    }

    /// Waiting helps only for transient failures; a spec problem needs a change.
    pub fn is_invalid_spec(&self) -> bool {
        match self {
            ReconcileError::MissingField(_)
            | ReconcileError::InvalidSpec(_)
            | ReconcileError::Workload(_) => true,
            ReconcileError::Router(err) => err.is_invalid_spec(),
            ReconcileError::Api { .. } => false,
        }
    }

    /// Problems a user must act on (a bad spec, a provider whose CRDs are
    /// missing): shown in the Canary's `Ready` condition, not only in events.
    pub fn needs_user(&self) -> bool {
        match self {
            ReconcileError::Router(RouterError::CrdNotInstalled { .. }) => true,
            ReconcileError::Api { .. } => false,
            _ => self.is_invalid_spec(),
        }
    }

    /// Stable reason for events and the `reason` label of the error metric.
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::MissingField(_) | ReconcileError::InvalidSpec(_) => "InvalidSpec",
            ReconcileError::Workload(_) => "InvalidWorkload",
            ReconcileError::Router(err) => err.reason(),
            ReconcileError::Api { .. } => "ApiError",
        }
    }
}
