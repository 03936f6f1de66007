use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde_json::{Value, json};

use super::*;
use crate::workload::{WorkloadError, primary_hpa};

fn target_hpa(patch: Value) -> HorizontalPodAutoscaler {
    let mut doc = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo-hpa", "namespace": "test", "labels": {"app": "podinfo"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        },
    });
    super::merge(&mut doc, patch);
    serde_json::from_value(doc).expect("valid HPA fixture")
}

fn with_overrides(overrides: Value) -> crate::api::Canary {
    canary_with(json!({"spec": {"autoscalerRef": {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo-hpa",
        "primaryScalerReplicas": overrides,
    }}}))
}

#[test]
fn primary_hpa_scales_the_primary_with_the_same_policy() {
    let source = target_hpa(json!({}));
    let hpa = primary_hpa(&canary(), &source).expect("hpa");
    assert_eq!(hpa.metadata.name.as_deref(), Some("podinfo-hpa-primary"));
    assert_eq!(hpa.metadata.namespace.as_deref(), Some("test"));
    assert_eq!(hpa.metadata.labels, source.metadata.labels);
    assert_owned(&hpa.metadata, true);
    let target_ref = &hpa.spec.scale_target_ref;
    assert_eq!(target_ref.api_version.as_deref(), Some("apps/v1"));
    assert_eq!(
        (target_ref.kind.as_str(), target_ref.name.as_str()),
        ("Deployment", "podinfo-primary")
    );
    assert_eq!((hpa.spec.min_replicas, hpa.spec.max_replicas), (Some(2), 4));
    assert_eq!(hpa.spec.metrics, source.spec.metrics);
    assert_eq!(hpa.spec.behavior, source.spec.behavior);
}

#[test]
fn primary_scaler_replicas_override_the_bounds() {
    let hpa = primary_hpa(
        &with_overrides(json!({"minReplicas": 3, "maxReplicas": 10})),
        &target_hpa(json!({})),
    );
    let spec = hpa.expect("hpa").spec;
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(3), 10));
    let only_max = primary_hpa(&with_overrides(json!({"maxReplicas": 6})), &target_hpa(json!({})));
    let spec = only_max.expect("hpa").spec;
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
}

#[test]
fn min_above_max_is_an_error() {
    let err =
        primary_hpa(&with_overrides(json!({"minReplicas": 5})), &target_hpa(json!({}))).expect_err("5 > 4");
    assert_eq!(
        err,
        WorkloadError::InvalidScalerReplicas {
            hpa: "podinfo-hpa-primary".to_string(),
            min: 5,
            max: 4
        }
    );
}

#[test]
fn autoscaler_of_another_workload_is_refused() {
    let other = target_hpa(json!({"spec": {"scaleTargetRef": {"name": "other"}}}));
    let err = primary_hpa(&canary(), &other).expect_err("wrong target");
    assert!(matches!(err, WorkloadError::AutoscalerTargetMismatch { .. }));
    assert!(err.to_string().contains("Deployment other"), "{err}");
}
