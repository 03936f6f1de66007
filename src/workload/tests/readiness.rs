use serde_json::{Value, json};

use super::*;
use crate::rollout::{Readiness, WorkloadState};
use crate::workload::{deployment_readiness, workload_state};

/// The fixture target (generation 3, 2 replicas) with `status` merged in.
fn with_status(status: Value) -> Deployment {
    let mut full = json!({
        "observedGeneration": 3, "replicas": 2, "updatedReplicas": 2,
        "readyReplicas": 2, "availableReplicas": 2,
    });
    super::merge(&mut full, status);
    target_with(json!({"status": full}))
}

fn progressing(r: Readiness) -> String {
    match r {
        Readiness::Progressing(msg) => msg,
        other => panic!("expected Progressing, got {other:?}"),
    }
}

#[test]
fn ready_when_all_updated_replicas_are_available() {
    assert_eq!(
        deployment_readiness(&with_status(json!({})), 100),
        Readiness::Ready
    );
}

#[test]
fn waits_for_the_controller_to_observe_the_spec() {
    let dep = with_status(json!({"observedGeneration": 2}));
    assert!(progressing(deployment_readiness(&dep, 100)).contains("generation 3"));
}

#[test]
fn waits_for_updated_replicas() {
    let dep = with_status(json!({"updatedReplicas": 1}));
    assert_eq!(
        progressing(deployment_readiness(&dep, 100)),
        "1 of 2 replicas of podinfo updated"
    );
}

#[test]
fn waits_for_old_replicas_to_terminate() {
    let dep = with_status(json!({"replicas": 3}));
    assert_eq!(
        progressing(deployment_readiness(&dep, 100)),
        "1 old replica of podinfo pending termination"
    );
}

#[test]
fn waits_for_available_replicas_up_to_the_threshold() {
    let dep = target_with(json!({"spec": {"replicas": 3}, "status": {
        "observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1,
    }}));
    assert_eq!(
        progressing(deployment_readiness(&dep, 100)),
        "1 of 3 updated replicas of podinfo available"
    );
    // ceil(3 × 50%) = 2 are needed.
    assert_eq!(
        progressing(deployment_readiness(&dep, 50)),
        "1 of 3 updated replicas of podinfo available (need 2)"
    );
    assert_eq!(deployment_readiness(&dep, 33), Readiness::Ready);
}

#[test]
fn progress_deadline_exceeded_is_failed() {
    let dep = with_status(json!({"availableReplicas": 0, "conditions": [{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"podinfo-abc\" has timed out progressing.",
    }]}));
    match deployment_readiness(&dep, 100) {
        Readiness::Failed(msg) => assert!(msg.contains("has timed out progressing"), "{msg}"),
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn stale_deadline_condition_of_an_older_spec_is_not_failed() {
    let dep = with_status(json!({"observedGeneration": 2, "conditions": [{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
    }]}));
    assert!(matches!(
        deployment_readiness(&dep, 100),
        Readiness::Progressing(_)
    ));
}

#[test]
fn scaled_to_zero_is_progressing() {
    let dep = target_with(json!({"spec": {"replicas": 0}, "status": {"observedGeneration": 3}}));
    assert!(progressing(deployment_readiness(&dep, 100)).contains("scaled to zero"));
}

#[test]
fn workload_state_reports_counts() {
    let dep = with_status(json!({"availableReplicas": 1}));
    let state = workload_state(&dep, 50);
    assert_eq!(
        state,
        WorkloadState {
            readiness: Readiness::Ready,
            replicas: 2,
            available: 1
        }
    );
}
