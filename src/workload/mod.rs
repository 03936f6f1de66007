//! Pure builders for the objects serin derives from a Canary's target: the
//! `-primary` Deployment, ConfigMap/Secret copies and HPA, the apex/primary/canary
//! Services, the revision hash, and readiness read from a Deployment's status.
//!
//! Nothing here talks to the API server: the reconciler reads the target and its
//! configs, calls these functions, and applies what they return.

mod configs;
mod error;
mod hpa;
mod meta;
mod primary;
mod readiness;
mod revision;
mod selector;
mod services;

#[cfg(test)]
mod tests;

pub use configs::{
    CONFIG_TRACKING_ANNOTATION, FLAGGER_CONFIG_TRACKING_ANNOTATION, TrackedRefs, config_map_checksum,
    config_tracking_disabled, is_tracked_secret_type, primary_config_map, primary_secret, secret_checksum,
    tracked_configs, tracked_refs,
};
pub use error::WorkloadError;
pub use hpa::primary_hpa;
pub use primary::{REVISION_ANNOTATION, build_primary, primary_replicas, scale_up_replicas};
pub use readiness::{deployment_readiness, workload_state};
pub use revision::revision;
pub use selector::{SELECTOR_LABELS, SelectorLabel, selector_label};
pub use services::{ServiceNames, service_names, services};

/// Suffix of every object serin copies from the target.
pub const PRIMARY_SUFFIX: &str = "-primary";

/// Suffix of the Service that selects the target's (canary) pods.
pub const CANARY_SUFFIX: &str = "-canary";

/// `<name>-primary`: the primary Deployment, config copies and HPA are named this way.
pub fn primary_name(name: &str) -> String {
    format!("{name}{PRIMARY_SUFFIX}")
}

/// Key of a ConfigMap in `status.trackedConfigs` and in [`tracked_configs`]'s result.
pub fn config_map_key(name: &str) -> String {
    format!("configmap/{name}")
}

/// Key of a Secret in `status.trackedConfigs` and in [`tracked_configs`]'s result.
pub fn secret_key(name: &str) -> String {
    format!("secret/{name}")
}
