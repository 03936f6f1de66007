//! The `<hpa>-primary` HorizontalPodAutoscaler that scales the primary Deployment.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::meta::{canary_namespace, controller_owner, copy_annotations};
use super::{WorkloadError, primary_name};
use crate::api::Canary;

/// A copy of the target's autoscaler (autoscaling/v2) aimed at the primary, with
/// `autoscalerRef.primaryScalerReplicas` overriding its bounds.
pub fn primary_hpa(
    canary: &Canary,
    target_hpa: &HorizontalPodAutoscaler,
) -> Result<HorizontalPodAutoscaler, WorkloadError> {
    let hpa_name = target_hpa.name_any();
    let target = &canary.spec.target_ref.name;
    let spec = &target_hpa.spec;
    let scales = &spec.scale_target_ref;
    // Copying an autoscaler of some other workload would make the primary scale on
    // the wrong signal; better to say so than to build it.
    if scales.kind != "Deployment" || scales.name != *target {
        return Err(WorkloadError::AutoscalerTargetMismatch {
            hpa: hpa_name,
            scales: format!("{} {}", scales.kind, scales.name),
            target: target.clone(),
        });
    }

    let overrides = canary
        .spec
        .autoscaler_ref
        .as_ref()
        .and_then(|a| a.primary_scaler_replicas.as_ref());
    let min_replicas = overrides.and_then(|o| o.min_replicas).or(spec.min_replicas);
    let max_replicas = overrides
        .and_then(|o| o.max_replicas)
        .unwrap_or(spec.max_replicas);
    let name = primary_name(&hpa_name);
    let effective_min = min_replicas.unwrap_or(1);
    if effective_min > max_replicas {
        return Err(WorkloadError::InvalidScalerReplicas {
            hpa: name,
            min: effective_min,
            max: max_replicas,
        });
    }

    Ok(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(canary_namespace(canary)?),
            labels: target_hpa.metadata.labels.clone().filter(|l| !l.is_empty()),
            annotations: copy_annotations(target_hpa.metadata.annotations.as_ref()),
            owner_references: Some(vec![controller_owner(canary)?]),
            ..ObjectMeta::default()
        },
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_string()),
                kind: "Deployment".to_string(),
                name: primary_name(target),
            },
            min_replicas,
            max_replicas,
            metrics: spec.metrics.clone(),
            behavior: spec.behavior.clone(),
        },
        status: None,
    })
}
