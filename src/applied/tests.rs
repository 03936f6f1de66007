use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::runtime::watcher::Event;

use super::*;

fn service(selector: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("podinfo-canary".into()),
            namespace: Some("test".into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some([("app".to_string(), selector.to_string())].into()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The object as a watch reports it: owned by a Canary, at `version`.
fn seen(version: &str) -> Service {
    let mut object = service("ignored: watches carry metadata only");
    object.metadata.resource_version = Some(version.into());
    object.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "serin.dev/v1beta1".into(),
        kind: "Canary".into(),
        name: "podinfo".into(),
        uid: "0000".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    object
}

fn write(applied: &Applied, object: &Service, version: &str) {
    let pending = applied.check("test", object);
    applied.wrote(pending, Some(version.into()));
}

#[test]
fn an_object_never_written_is_not_current() {
    let applied = Applied::default();
    assert!(!applied.check("test", &service("podinfo")).is_current());
}

#[test]
fn the_same_object_again_is_current_once_the_watch_saw_the_write() {
    let applied = Applied::default();
    write(&applied, &service("podinfo"), "7");
    // Until the watch confirms it, a write could have been overtaken.
    assert!(!applied.check("test", &service("podinfo")).is_current());
    applied.observe(&Event::Apply(seen("7")));
    assert!(applied.check("test", &service("podinfo")).is_current());
}

#[test]
fn a_watch_event_before_the_answer_counts_too() {
    let applied = Applied::default();
    applied.observe(&Event::Apply(seen("7")));
    write(&applied, &service("podinfo"), "7");
    assert!(applied.check("test", &service("podinfo")).is_current());
}

#[test]
fn a_different_object_is_written() {
    let applied = Applied::default();
    write(&applied, &service("podinfo"), "7");
    applied.observe(&Event::Apply(seen("7")));
    assert!(!applied.check("test", &service("podinfo-primary")).is_current());
}

#[test]
fn a_change_by_someone_else_is_overwritten() {
    let applied = Applied::default();
    write(&applied, &service("podinfo"), "7");
    applied.observe(&Event::Apply(seen("7")));
    applied.observe(&Event::Apply(seen("8")));
    assert!(!applied.check("test", &service("podinfo")).is_current());
}

#[test]
fn a_deleted_object_is_written_again_and_forgotten() {
    let applied = Applied::default();
    write(&applied, &service("podinfo"), "7");
    applied.observe(&Event::Apply(seen("7")));
    applied.observe(&Event::Delete(seen("7")));
    assert!(!applied.check("test", &service("podinfo")).is_current());
    assert!(applied.is_empty(), "no memory kept for deleted objects");
}

#[test]
fn a_relist_forgets_what_was_seen_until_the_object_is_listed_again() {
    let applied = Applied::default();
    write(&applied, &service("podinfo"), "7");
    applied.observe(&Event::Apply(seen("7")));
    applied.observe(&Event::<Service>::Init);
    // Deleted while the watch was down: the relist does not list it.
    assert!(!applied.check("test", &service("podinfo")).is_current());
    applied.observe(&Event::InitApply(seen("7")));
    assert!(applied.check("test", &service("podinfo")).is_current());
}

#[test]
fn objects_no_canary_controls_are_not_tracked() {
    let applied = Applied::default();
    let mut theirs = seen("3");
    theirs.metadata.owner_references = None;
    applied.observe(&Event::Apply(theirs));
    assert!(applied.is_empty());
}

#[test]
fn objects_a_watch_saw_controlled_by_a_canary_are_known_as_such() {
    let applied = Applied::default();
    assert!(
        !applied
            .check("test", &service("podinfo"))
            .is_controlled_by_a_canary()
    );
    applied.observe(&Event::Apply(seen("7")));
    assert!(
        applied
            .check("test", &service("podinfo"))
            .is_controlled_by_a_canary()
    );
}
