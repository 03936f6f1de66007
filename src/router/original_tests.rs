use serde_json::json;

use super::*;
use crate::router::fixtures;

/// A VirtualService as the API server returns it, with `metadata` merged in.
fn stored(metadata: Value) -> DynamicObject {
    let mut value = json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "vs-1", "resourceVersion": "42"},
        "spec": {"hosts": ["podinfo"], "exportTo": ["."], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}
    });
    for (key, field) in metadata.as_object().expect("an object") {
        value["metadata"][key] = field.clone();
    }
    serde_json::from_value(value).expect("a DynamicObject")
}

fn owner(uid: &str, kind: &str, api_version: &str) -> Value {
    json!([{"apiVersion": api_version, "kind": kind, "name": "podinfo", "uid": uid, "controller": true}])
}

fn this_canary() -> Value {
    owner("0000-1111", "Canary", "serin.dev/v1beta1")
}

#[test]
fn a_users_object_gets_its_spec_saved_at_the_version_read() {
    let object = stored(json!({"annotations": {"example.com/team": "web"}}));
    let patch = save_patch(&fixtures::canary(), &object)
        .expect("a patch")
        .expect("a user's object is saved");
    assert_eq!(patch["metadata"]["resourceVersion"], "42");
    let saved = patch["metadata"]["annotations"][ORIGINAL_CONFIGURATION]
        .as_str()
        .expect("a JSON string");
    let saved: Value = serde_json::from_str(saved).expect("JSON");
    assert_eq!(saved, object.data["spec"]);
    assert_eq!(
        patch["metadata"]["annotations"].as_object().map(|a| a.len()),
        Some(1),
        "only serin's annotation is sent"
    );
}

#[test]
fn the_saved_spec_is_never_overwritten() {
    let object = stored(json!({"annotations": {ORIGINAL_CONFIGURATION: "{\"hosts\":[\"old\"]}"}}));
    assert_eq!(save_patch(&fixtures::canary(), &object).expect("no error"), None);
}

#[test]
fn serins_own_objects_are_not_saved() {
    for owners in [
        this_canary(),
        // Left behind by an earlier Canary of the same name.
        owner("9999", "Canary", "serin.dev/v1beta1"),
    ] {
        let object = stored(json!({"ownerReferences": owners}));
        assert_eq!(
            save_patch(&fixtures::canary(), &object).expect("no error"),
            None,
            "{owners}"
        );
    }
    // Owned, but not controlled, by something else: still the user's spec.
    let object = stored(json!({"ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "bundle", "uid": "cm-1"
    }]}));
    assert!(
        save_patch(&fixtures::canary(), &object)
            .expect("no error")
            .is_some()
    );
}

#[test]
fn restoring_puts_the_spec_back_and_removes_serins_marks_only() {
    let original = json!({"hosts": ["podinfo"], "tcp": [{"route": [{"destination": {"host": "mysql"}}]}]});
    let object = stored(json!({
        "annotations": {
            ORIGINAL_CONFIGURATION: original.to_string(),
            "example.com/team": "web"
        },
        "ownerReferences": [
            this_canary()[0].clone(),
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "bundle", "uid": "cm-1"}
        ],
        "managedFields": [{"manager": "serin", "operation": "Apply", "apiVersion": "networking.istio.io/v1beta1"}]
    }));
    let restored = restored(&fixtures::canary(), &object)
        .expect("readable")
        .expect("something to restore");
    assert_eq!(restored.data["spec"], original);
    assert_eq!(
        restored.metadata.annotations,
        Some([("example.com/team".to_string(), "web".to_string())].into())
    );
    let owners = restored.metadata.owner_references.unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].uid, "cm-1");
    assert_eq!(restored.metadata.managed_fields, None);
    assert_eq!(
        restored.metadata.resource_version.as_deref(),
        Some("42"),
        "replaced at the version read"
    );
}

#[test]
fn a_saved_missing_spec_is_restored_as_missing() {
    let object = stored(json!({"annotations": {ORIGINAL_CONFIGURATION: "null"}}));
    let restored = restored(&fixtures::canary(), &object)
        .expect("readable")
        .expect("something to restore");
    assert!(restored.data.get("spec").is_none(), "{:?}", restored.data);
}

#[test]
fn nothing_saved_or_someone_elses_means_nothing_to_restore() {
    let canary = fixtures::canary();
    assert_eq!(restored(&canary, &stored(json!({}))), Ok(None));
    let taken = stored(json!({
        "annotations": {ORIGINAL_CONFIGURATION: "{}"},
        "ownerReferences": owner("9999", "Canary", "serin.dev/v1beta1")
    }));
    assert_eq!(restored(&canary, &taken), Ok(None));
}

#[test]
fn a_mangled_annotation_is_an_error_not_a_guess() {
    let canary = fixtures::canary();
    for bad in ["{not json", "[1, 2]"] {
        let object = stored(json!({"annotations": {ORIGINAL_CONFIGURATION: bad}}));
        assert!(restored(&canary, &object).is_err(), "{bad}");
    }
    let err = RouterError::InvalidOriginal {
        kind: "VirtualService",
        namespace: "test".into(),
        name: "podinfo".into(),
        reason: "not JSON".into(),
    };
    assert!(err.is_invalid_spec());
    assert_eq!(err.reason(), "InvalidOriginalConfiguration");
}
