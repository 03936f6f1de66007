//! Why a workload object could not be built, worded for the person who has to fix it.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "Deployment {deployment} has none of the labels {wanted} in spec.selector.matchLabels \
         (it has: {found}); add one of them to the selector and the pod template so serin can tell \
         primary pods from canary pods"
    )]
    NoSelectorLabel {
        deployment: String,
        wanted: String,
        found: String,
    },

    #[error(
        "{kind} {name} has no metadata.uid, so serin cannot make it the owner of generated objects; \
         pass the object as read from the API server"
    )]
    MissingUid { kind: &'static str, name: String },

    #[error("{kind} {name} has no metadata.namespace; serin only manages namespaced workloads")]
    MissingNamespace { kind: &'static str, name: String },

    #[error(
        "ConfigMap {name} is referenced by Deployment {deployment} but does not exist; \
         create it, or mark the reference `optional: true`"
    )]
    MissingConfigMap { name: String, deployment: String },

    #[error(
        "Secret {name} is referenced by Deployment {deployment} but does not exist; \
         create it, or mark the reference `optional: true`"
    )]
    MissingSecret { name: String, deployment: String },

    #[error(
        "Deployment {primary} selects {existing:?}, which does not match its new pod labels {labels:?}; \
         a Deployment's selector cannot be changed, so delete {primary} and serin will recreate it"
    )]
    PrimarySelectorMismatch {
        primary: String,
        existing: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    },

    #[error(
        "HorizontalPodAutoscaler {hpa} scales {scales}, not the Canary's target Deployment {target}; \
         point spec.autoscalerRef at the autoscaler of {target}"
    )]
    AutoscalerTargetMismatch {
        hpa: String,
        scales: String,
        target: String,
    },

    #[error(
        "the primary autoscaler {hpa} would get minReplicas {min} > maxReplicas {max}; \
         fix spec.autoscalerRef.primaryScalerReplicas or the target autoscaler's bounds"
    )]
    InvalidScalerReplicas { hpa: String, min: i32, max: i32 },
}
