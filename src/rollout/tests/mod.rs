//! Test builders for specs, statuses and observations, and a `run` that
//! checks the invariants every decision must keep.

mod analysis;
mod deletion;
mod lifecycle;
mod promotion;
mod requests;
mod routing;
mod scenario;
mod settings;
mod webhooks;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    Action, AnalysisResult, Decision, Observations, OperatorRequests, Readiness, TargetState, WorkloadState,
    decide,
};
use crate::api::{CanaryAnalysis, CanaryService, CanarySpec, CanaryStatus, DurationString, Phase, TargetRef};

/// Seconds since an arbitrary epoch, so tests read in "seconds into the test".
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).expect("valid timestamp")
}

pub fn time(secs: i64) -> Option<Time> {
    Some(Time(at(secs)))
}

/// stepWeight 10 up to 50, interval 1m, threshold 2, deadline 600s.
pub fn spec() -> CanarySpec {
    CanarySpec {
        provider: Some("gatewayapi".into()),
        metrics_server: None,
        target_ref: TargetRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "podinfo".into(),
        },
        autoscaler_ref: None,
        service: CanaryService {
            port: 9898,
            ..CanaryService::default()
        },
        analysis: CanaryAnalysis {
            interval: Some(DurationString::new("1m")),
            threshold: Some(2),
            max_weight: Some(50),
            step_weight: Some(10),
            ..CanaryAnalysis::default()
        },
        progress_deadline_seconds: None,
        skip_analysis: false,
        revert_on_deletion: false,
        suspend: false,
    }
}

pub fn blue_green(iterations: i32) -> CanarySpec {
    let mut spec = spec();
    spec.analysis.step_weight = None;
    spec.analysis.max_weight = None;
    spec.analysis.iterations = Some(iterations);
    spec
}

pub fn ready(replicas: i32) -> WorkloadState {
    WorkloadState {
        readiness: Readiness::Ready,
        replicas,
        available: replicas,
    }
}

pub fn rolling(replicas: i32) -> WorkloadState {
    WorkloadState {
        readiness: Readiness::Progressing("1 of 2 updated replicas are available".into()),
        replicas,
        available: 0,
    }
}

pub fn failed(replicas: i32) -> WorkloadState {
    WorkloadState {
        readiness: Readiness::Failed("ProgressDeadlineExceeded".into()),
        replicas,
        available: 0,
    }
}

pub fn found(revision: &str, workload: WorkloadState) -> TargetState {
    TargetState::Found {
        revision: revision.into(),
        tracked_configs: configs(revision),
        workload,
    }
}

/// Configs differ per revision as they would when the hash includes their checksums.
pub fn configs(revision: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("configmap/podinfo".to_string(), format!("sum-{revision}"))])
}

/// Target at revision `r1` at zero replicas, primary ready, finalizer present.
pub fn obs(secs: i64) -> Observations {
    Observations {
        now: at(secs),
        generation: Some(3),
        deleting: false,
        has_finalizer: true,
        target: found("r1", ready(0)),
        primary: Some(ready(2)),
        requests: OperatorRequests::default(),
        analysis: None,
        hooks: Default::default(),
    }
}

pub fn missing(secs: i64) -> Observations {
    Observations {
        target: TargetState::Missing,
        ..obs(secs)
    }
}

pub fn with_target(mut o: Observations, revision: &str, workload: WorkloadState) -> Observations {
    o.target = found(revision, workload);
    o
}

pub fn passed(mut o: Observations) -> Observations {
    o.analysis = Some(AnalysisResult::default());
    o
}

pub fn failing(mut o: Observations, why: &str) -> Observations {
    o.analysis = Some(AnalysisResult {
        failures: vec![why.into()],
        ..AnalysisResult::default()
    });
    o
}

pub fn holding(mut o: Observations, why: &str) -> Observations {
    o.analysis = Some(AnalysisResult {
        held: vec![why.into()],
        ..AnalysisResult::default()
    });
    o
}

/// A Canary at rest in `phase` whose primary runs `revision`.
pub fn settled(phase: Phase, revision: &str) -> CanaryStatus {
    CanaryStatus {
        phase,
        observed_generation: Some(2),
        last_applied_spec: revision.into(),
        last_promoted_spec: revision.into(),
        tracked_configs: configs(revision),
        last_transition_time: time(-1000),
        promoted_revision: Some(revision.into()),
        ..CanaryStatus::default()
    }
}

/// Analysing `r2` (primary on `r1`) at `weight`, last step at `last_step`.
pub fn progressing(weight: i32, last_step: Option<i64>) -> CanaryStatus {
    CanaryStatus {
        phase: Phase::Progressing,
        canary_weight: weight,
        last_applied_spec: "r2".into(),
        tracked_configs: configs("r2"),
        progress_started_at: time(-100),
        last_step_time: last_step.and_then(time),
        promoted_revision: Some("r1".into()),
        ..settled(Phase::Progressing, "r1")
    }
}

/// `decide`, plus the invariants that hold for every decision.
pub fn run(spec: &CanarySpec, status: &CanaryStatus, o: &Observations) -> Decision {
    let d = decide(spec, status, o);
    if spec.suspend && !o.deleting {
        assert_eq!(d.status.observed_generation, o.generation);
        return d;
    }
    assert_eq!(d.status.observed_generation, o.generation, "observed_generation");
    if d.status.phase != status.phase {
        assert_eq!(
            d.status.last_transition_time,
            Some(Time(o.now)),
            "transition time on phase change"
        );
        assert!(
            !d.events.is_empty(),
            "no event for {:?} -> {:?}",
            status.phase,
            d.status.phase
        );
        if d.status.phase == Phase::Failed {
            assert!(
                d.events.iter().any(|e| e.warning),
                "Failed without a warning: {:?}",
                d.events
            );
        }
    } else {
        assert_eq!(
            d.status.last_transition_time, status.last_transition_time,
            "transition time kept"
        );
    }
    assert!(d.status.message.is_some(), "every decision explains itself");
    let add = d.actions.iter().position(|a| *a == Action::AddFinalizer);
    assert!(
        add.is_none_or(|i| i == 0),
        "AddFinalizer comes first: {:?}",
        d.actions
    );
    d
}

/// Runs a decision and feeds its status back, as the reconciler does.
pub fn advance(spec: &CanarySpec, status: &mut CanaryStatus, o: &Observations) -> Decision {
    let d = run(spec, status, o);
    *status = d.status.clone();
    d
}

pub fn reasons(d: &Decision) -> Vec<&str> {
    d.events.iter().map(|e| e.reason.as_str()).collect()
}

pub fn condition<'a>(d: &'a Decision, type_: &str) -> (&'a str, &'a str) {
    let c = d
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.as_str(), c.reason.as_str())
}
