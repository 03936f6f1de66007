use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::json;

use super::*;
use crate::workload::{
    REVISION_ANNOTATION, WorkloadError, build_primary, revision, scale_up_replicas, selector_label,
    tracked_configs,
};

fn all_tracked() -> BTreeMap<String, String> {
    tracked_configs(&target(), &all_config_maps(), &all_secrets()).expect("all configs exist")
}

fn primary_of(target: &Deployment) -> Deployment {
    build_primary(&canary(), target, None, false, &all_tracked()).expect("primary builds")
}

fn pod_spec(dep: &Deployment) -> &PodSpec {
    dep.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
}

fn replicas_of(dep: &Deployment) -> Option<i32> {
    dep.spec.as_ref().and_then(|s| s.replicas)
}

fn deployment_with_replicas(replicas: i32) -> Deployment {
    target_with(json!({"spec": {"replicas": replicas}}))
}

fn primary_with_replicas(replicas: i32) -> Deployment {
    let mut primary = primary_of(&target());
    if let Some(spec) = primary.spec.as_mut() {
        spec.replicas = Some(replicas);
    }
    primary
}

#[test]
fn selector_label_prefers_app_then_name_then_k8s_name() {
    let by_name = target_with(json!({"spec": {"selector": {"matchLabels": {"app": null, "name": "n"}}}}));
    assert_eq!(selector_label(&by_name).expect("name").key, "name");
    let k8s = target_with(json!({"spec": {"selector": {"matchLabels": {
        "app": null, "app.kubernetes.io/name": "k", "name": "n"
    }}}}));
    assert_eq!(selector_label(&k8s).expect("name").key, "name");
    let only_k8s = target_with(json!({"spec": {"selector": {"matchLabels": {
        "app": null, "app.kubernetes.io/name": "k"
    }}}}));
    let label = selector_label(&only_k8s).expect("k8s name");
    assert_eq!(
        (label.key.as_str(), label.value.as_str()),
        ("app.kubernetes.io/name", "k")
    );
}

#[test]
fn missing_selector_label_is_an_actionable_error() {
    let dep = target_with(json!({"spec": {"selector": {"matchLabels": {"app": null}}}}));
    let err = build_primary(&canary(), &dep, None, false, &BTreeMap::new()).expect_err("no label");
    let msg = err.to_string();
    assert!(matches!(err, WorkloadError::NoSelectorLabel { .. }));
    assert!(msg.contains("app, name, app.kubernetes.io/name"), "{msg}");
    assert!(msg.contains("tier"), "names the labels it found: {msg}");
}

#[test]
fn selector_rewrite_keeps_other_labels() {
    let primary = primary_of(&target());
    let spec = primary.spec.as_ref().expect("spec");
    let want = labels(&[("app", "podinfo-primary"), ("tier", "frontend")]);
    assert_eq!(spec.selector.match_labels.as_ref(), Some(&want));
    let pod_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    assert_eq!(pod_labels, Some(&want));
    let dep_labels = labels(&[("app", "podinfo-primary"), ("team", "web")]);
    assert_eq!(primary.metadata.labels.as_ref(), Some(&dep_labels));
    assert_eq!(primary.metadata.name.as_deref(), Some("podinfo-primary"));
    assert_eq!(primary.metadata.namespace.as_deref(), Some("test"));
}

#[test]
fn primary_annotations_drop_source_only_ones() {
    let dep = target_with(json!({"metadata": {"annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
        "deployment.kubernetes.io/revision": "7",
    }}}));
    let primary = primary_of(&dep);
    assert_eq!(
        primary.metadata.annotations,
        Some(labels(&[("owner", "team-web")]))
    );
}

#[test]
fn primary_is_controlled_by_the_canary() {
    assert_owned(&primary_of(&target()).metadata, true);
}

#[test]
fn missing_canary_uid_is_an_error_not_a_panic() {
    let canary = canary_with(json!({"metadata": {"uid": null}}));
    let err = build_primary(&canary, &target(), None, false, &BTreeMap::new()).expect_err("no uid");
    assert!(
        matches!(err, WorkloadError::MissingUid { kind: "Canary", .. }),
        "{err}"
    );
}

#[test]
fn tracked_config_refs_are_renamed_everywhere() {
    let primary = primary_of(&target());
    let refs = crate::workload::tracked_refs(pod_spec(&primary));
    let want_cms: Vec<String> = CONFIG_MAPS.iter().map(|n| format!("{n}-primary")).collect();
    let want_secrets: Vec<String> = SECRETS.iter().map(|n| format!("{n}-primary")).collect();
    assert_eq!(refs.config_maps.into_iter().collect::<Vec<_>>(), sorted(want_cms));
    assert_eq!(refs.secrets.into_iter().collect::<Vec<_>>(), sorted(want_secrets));
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn untracked_refs_keep_the_original_name() {
    let only_vol: BTreeMap<String, String> = [("configmap/cm-vol".to_string(), "x".to_string())].into();
    let primary = build_primary(&canary(), &target(), None, false, &only_vol).expect("builds");
    let refs = crate::workload::tracked_refs(pod_spec(&primary));
    assert!(refs.config_maps.contains("cm-vol-primary"));
    assert!(refs.config_maps.contains("cm-env"));
    assert!(refs.secrets.contains("s-proj"));
}

#[test]
fn revision_annotation_follows_template_and_configs() {
    let tracked = all_tracked();
    let primary = primary_of(&target());
    let annotations = primary
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let template = target().spec.map(|s| s.template).unwrap_or_default();
    assert_eq!(
        annotations.get(REVISION_ANNOTATION),
        Some(&revision(&template, &tracked))
    );
}

#[test]
fn deployment_settings_are_copied() {
    let dep = target_with(json!({"spec": {
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 3,
        "progressDeadlineSeconds": 120,
        "paused": true,
    }}));
    let spec = primary_of(&dep).spec.expect("spec");
    let target_spec = dep.spec.expect("spec");
    assert_eq!(spec.strategy, target_spec.strategy);
    assert_eq!(spec.min_ready_seconds, Some(5));
    assert_eq!(spec.revision_history_limit, Some(3));
    assert_eq!(spec.progress_deadline_seconds, Some(120));
    assert_eq!(spec.paused, None);
}

#[test]
fn pod_affinity_and_spread_follow_the_primary_pods() {
    let selector = json!({"matchLabels": {"app": "podinfo", "tier": "frontend"},
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["podinfo", "other"]}]});
    let dep = target_with(json!({"spec": {"template": {"spec": {
        "affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": selector.clone()}],
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm":
                {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "redis"}}}}],
        }},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector}],
    }}}}));
    let primary = primary_of(&dep);
    let spec = pod_spec(&primary);
    let anti = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .expect("anti");
    let required = &anti
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("req")[0];
    let sel = required.label_selector.as_ref().expect("selector");
    let want = labels(&[("app", "podinfo-primary"), ("tier", "frontend")]);
    assert_eq!(sel.match_labels.as_ref(), Some(&want));
    let values = sel.match_expressions.as_ref().and_then(|e| e[0].values.clone());
    assert_eq!(
        values,
        Some(vec!["podinfo-primary".to_string(), "other".to_string()])
    );
    let preferred = &anti
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("pref")[0];
    let other_app = preferred
        .pod_affinity_term
        .label_selector
        .as_ref()
        .and_then(|s| s.match_labels.clone());
    assert_eq!(
        other_app,
        Some(labels(&[("app", "redis")])),
        "other apps' selectors untouched"
    );
    let spread = &spec.topology_spread_constraints.as_ref().expect("spread")[0];
    let spread_labels = spread
        .label_selector
        .as_ref()
        .and_then(|s| s.match_labels.as_ref());
    assert_eq!(spread_labels, Some(&want));
}

#[test]
fn existing_single_label_selector_is_kept() {
    // A primary created by Flagger selects on one label only; the field is immutable.
    let existing = target_with(json!({
        "metadata": {"name": "podinfo-primary"},
        "spec": {"selector": {"matchLabels": {"app": "podinfo-primary", "tier": null}}},
    }));
    let primary = build_primary(&canary(), &target(), Some(&existing), false, &all_tracked()).expect("ok");
    let selector = primary.spec.expect("spec").selector.match_labels;
    assert_eq!(selector, Some(labels(&[("app", "podinfo-primary")])));
}

#[test]
fn existing_selector_that_no_longer_matches_is_an_error() {
    let existing = target_with(json!({
        "spec": {"selector": {"matchLabels": {"app": "podinfo-primary", "tier": "backend"}}},
    }));
    let err =
        build_primary(&canary(), &target(), Some(&existing), false, &all_tracked()).expect_err("mismatch");
    assert!(matches!(err, WorkloadError::PrimarySelectorMismatch { .. }));
    assert!(err.to_string().contains("delete podinfo-primary"), "{err}");
}

#[test]
fn replicas_without_autoscaler() {
    let build = |target: &Deployment, existing: Option<&Deployment>| {
        replicas_of(&build_primary(&canary(), target, existing, false, &BTreeMap::new()).expect("ok"))
    };
    let existing = primary_with_replicas(4);
    assert_eq!(build(&deployment_with_replicas(3), Some(&existing)), Some(3));
    assert_eq!(build(&deployment_with_replicas(0), Some(&existing)), Some(4));
    assert_eq!(build(&deployment_with_replicas(0), None), Some(1));
}

#[test]
fn replicas_with_autoscaler_keep_the_primary() {
    let build = |target: &Deployment, existing: Option<&Deployment>| {
        replicas_of(&build_primary(&canary(), target, existing, true, &BTreeMap::new()).expect("ok"))
    };
    assert_eq!(
        build(&deployment_with_replicas(2), Some(&primary_with_replicas(5))),
        Some(5)
    );
    assert_eq!(build(&deployment_with_replicas(2), None), Some(2));
    assert_eq!(
        build(&deployment_with_replicas(0), Some(&primary_with_replicas(0))),
        Some(1)
    );
}

#[test]
fn scale_up_replicas_rules() {
    let (zero, three, five) = (
        deployment_with_replicas(0),
        deployment_with_replicas(3),
        deployment_with_replicas(5),
    );
    assert_eq!(scale_up_replicas(&three, Some(&five), Some(4)), 3);
    assert_eq!(scale_up_replicas(&zero, Some(&five), Some(4)), 5);
    assert_eq!(scale_up_replicas(&zero, Some(&zero), Some(4)), 4);
    assert_eq!(scale_up_replicas(&zero, None, Some(1)), 1);
    assert_eq!(scale_up_replicas(&zero, None, None), 1);
}
