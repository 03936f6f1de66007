use k8s_openapi::ByteString;
use serde_json::json;

use super::*;
use crate::workload::{
    WorkloadError, config_map_checksum, config_tracking_disabled, is_tracked_secret_type, primary_config_map,
    primary_secret, secret_checksum, tracked_configs, tracked_refs,
};

#[test]
fn tracked_refs_scans_volumes_projections_env_envfrom_and_init_containers() {
    let spec = target().spec.and_then(|s| s.template.spec).expect("pod spec");
    let refs = tracked_refs(&spec);
    assert_eq!(
        refs.config_maps,
        CONFIG_MAPS.iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(refs.secrets, SECRETS.iter().map(|s| s.to_string()).collect());
}

#[test]
fn tracked_configs_keys_every_present_config() {
    let tracked = tracked_configs(&target(), &all_config_maps(), &all_secrets()).expect("all exist");
    assert_eq!(tracked.len(), 10);
    let cm = config_map("cm-vol", &[("k", "cm-vol")]);
    assert_eq!(tracked.get("configmap/cm-vol"), Some(&config_map_checksum(&cm)));
    assert!(tracked.contains_key("secret/s-proj"));
}

#[test]
fn secrets_of_other_types_are_not_tracked() {
    for type_ in [
        None,
        Some("Opaque"),
        Some("kubernetes.io/basic-auth"),
        Some("kubernetes.io/ssh-auth"),
    ] {
        assert!(is_tracked_secret_type(type_), "{type_:?}");
    }
    assert!(is_tracked_secret_type(Some("kubernetes.io/tls")));
    assert!(!is_tracked_secret_type(Some("kubernetes.io/dockerconfigjson")));
    assert!(!is_tracked_secret_type(Some(
        "kubernetes.io/service-account-token"
    )));

    let mut secrets = all_secrets();
    secrets[3].type_ = Some("kubernetes.io/service-account-token".to_string());
    let tracked = tracked_configs(&target(), &all_config_maps(), &secrets).expect("ok");
    assert!(!tracked.contains_key("secret/s-vol"));
    assert_eq!(tracked.len(), 9);
}

#[test]
fn opt_out_annotation_stops_tracking() {
    let mut cms = all_config_maps();
    let mut secrets = all_secrets();
    cms[0].metadata.annotations = Some(labels(&[("serin.dev/config-tracking", "disabled")]));
    secrets[0].metadata.annotations = Some(labels(&[("flagger.app/config-tracking", "disable")]));
    cms[1].metadata.annotations = Some(labels(&[("serin.dev/config-tracking", "enabled")]));
    assert!(config_tracking_disabled(&cms[0].metadata));
    assert!(config_tracking_disabled(&secrets[0].metadata));
    assert!(!config_tracking_disabled(&cms[1].metadata));
    let tracked = tracked_configs(&target(), &cms, &secrets).expect("ok");
    assert!(!tracked.contains_key("configmap/cm-env"));
    assert!(!tracked.contains_key("secret/s-env"));
    assert!(tracked.contains_key("configmap/cm-from"));
}

#[test]
fn missing_optional_reference_is_skipped() {
    let dep = target_with(json!({"spec": {"template": {"spec": {"volumes": [
        {"name": "v1", "configMap": {"name": "maybe", "optional": true}},
        {"name": "v2", "secret": {"secretName": "maybe-secret", "optional": true}},
    ]}}}}));
    let tracked = tracked_configs(&dep, &all_config_maps(), &all_secrets()).expect("optional is fine");
    assert!(!tracked.keys().any(|k| k.contains("maybe")));
}

#[test]
fn missing_required_reference_is_an_error_naming_it() {
    let cms: Vec<_> = all_config_maps()
        .into_iter()
        .filter(|c| c.metadata.name.as_deref() != Some("cm-init"))
        .collect();
    let err = tracked_configs(&target(), &cms, &all_secrets()).expect_err("cm-init missing");
    assert_eq!(
        err,
        WorkloadError::MissingConfigMap {
            name: "cm-init".to_string(),
            deployment: "podinfo".to_string()
        }
    );
    assert!(err.to_string().contains("optional: true"), "{err}");

    let secrets: Vec<_> = all_secrets().into_iter().skip(1).collect();
    let err = tracked_configs(&target(), &all_config_maps(), &secrets).expect_err("s-env missing");
    assert!(
        matches!(err, WorkloadError::MissingSecret { ref name, .. } if name == "s-env"),
        "{err}"
    );
}

#[test]
fn a_name_required_anywhere_is_required() {
    let dep = target_with(json!({"spec": {"template": {"spec": {"volumes": [
        {"name": "v1", "configMap": {"name": "cm-from", "optional": true}},
    ]}}}}));
    let cms: Vec<_> = all_config_maps()
        .into_iter()
        .filter(|c| c.metadata.name.as_deref() != Some("cm-from"))
        .collect();
    assert!(
        tracked_configs(&dep, &cms, &all_secrets()).is_err(),
        "envFrom needs cm-from"
    );
}

#[test]
fn checksums_are_stable_and_follow_the_data() {
    let a = config_map("c", &[("k", "v"), ("x", "y")]);
    assert_eq!(config_map_checksum(&a), config_map_checksum(&a.clone()));
    assert_eq!(config_map_checksum(&a).len(), 16);
    assert_ne!(
        config_map_checksum(&a),
        config_map_checksum(&config_map("c", &[("k", "w"), ("x", "y")]))
    );
    let mut binary = a.clone();
    binary.binary_data = Some([("b".to_string(), ByteString(vec![1]))].into());
    assert_ne!(config_map_checksum(&a), config_map_checksum(&binary));
    let mut renamed = a.clone();
    renamed.metadata.name = Some("other".to_string());
    assert_eq!(
        config_map_checksum(&a),
        config_map_checksum(&renamed),
        "only content counts"
    );
    let (mut absent, empty) = (config_map("c", &[]), config_map("c", &[]));
    absent.data = None;
    assert_eq!(config_map_checksum(&absent), config_map_checksum(&empty));

    let s = secret("s", None, &[("k", "v")]);
    assert_eq!(secret_checksum(&s), secret_checksum(&s.clone()));
    assert_ne!(
        secret_checksum(&s),
        secret_checksum(&secret("s", None, &[("k", "w")]))
    );
    let mut string_data = s.clone();
    string_data.string_data = Some(labels(&[("k2", "v2")]));
    assert_ne!(secret_checksum(&s), secret_checksum(&string_data));
}

#[test]
fn primary_copies_carry_data_type_and_a_shared_owner() {
    let mut cm = config_map("cm-vol", &[("k", "v")]);
    cm.immutable = Some(true);
    cm.metadata.labels = Some(labels(&[("app", "podinfo")]));
    cm.metadata.annotations = Some(labels(&[(
        "kubectl.kubernetes.io/last-applied-configuration",
        "{}",
    )]));
    let copy = primary_config_map(&canary(), &cm).expect("copy");
    assert_eq!(copy.metadata.name.as_deref(), Some("cm-vol-primary"));
    assert_eq!(copy.metadata.namespace.as_deref(), Some("test"));
    assert_eq!(copy.metadata.labels, cm.metadata.labels);
    assert_eq!(copy.metadata.annotations, None);
    assert_eq!(copy.data, cm.data);
    assert_eq!(copy.immutable, None, "the copy is rewritten at each promotion");
    assert_owned(&copy.metadata, false);
    assert_eq!(config_map_checksum(&copy), config_map_checksum(&cm));

    let s = secret("s-vol", Some("kubernetes.io/tls"), &[("tls.crt", "pem")]);
    let copy = primary_secret(&canary(), &s).expect("copy");
    assert_eq!(copy.metadata.name.as_deref(), Some("s-vol-primary"));
    assert_eq!(copy.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(copy.data, s.data);
    assert_owned(&copy.metadata, false);
}

#[test]
fn copies_need_the_canary_uid() {
    let canary = canary_with(json!({"metadata": {"uid": null}}));
    let err = primary_config_map(&canary, &config_map("c", &[])).expect_err("no uid");
    assert!(matches!(err, WorkloadError::MissingUid { .. }));
}
