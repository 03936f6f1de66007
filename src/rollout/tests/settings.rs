//! Effective settings: defaults, step sequences, strategy choice.

use std::time::Duration;

use super::{blue_green, spec};
use crate::api::DurationString;
use crate::rollout::settings::{InvalidSpec, Settings, Strategy};

fn settings(spec: &crate::api::CanarySpec) -> Settings {
    Settings::from_spec(spec).expect("valid spec")
}

#[test]
fn defaults_fill_in_what_is_unset() {
    let mut s = spec();
    s.analysis.interval = None;
    s.analysis.threshold = None;
    s.analysis.max_weight = None;
    let got = settings(&s);
    assert_eq!(got.interval, Duration::from_secs(60));
    assert_eq!(got.threshold, 1);
    assert_eq!(got.max_weight, 100);
    assert_eq!(got.progress_deadline, Duration::from_secs(600));
    assert_eq!(got.strategy, Strategy::Canary);
    assert_eq!(got.steps, vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
}

#[test]
fn threshold_of_zero_or_less_means_one() {
    for t in [0, -3] {
        let mut s = spec();
        s.analysis.threshold = Some(t);
        assert_eq!(settings(&s).threshold, 1);
    }
}

#[test]
fn progress_deadline_comes_from_the_spec() {
    let mut s = spec();
    s.progress_deadline_seconds = Some(30);
    assert_eq!(settings(&s).progress_deadline, Duration::from_secs(30));
}

#[test]
fn step_weight_is_capped_at_max_weight() {
    let mut s = spec();
    s.analysis.step_weight = Some(20);
    s.analysis.max_weight = Some(50);
    assert_eq!(settings(&s).steps, vec![20, 40, 50]);
}

#[test]
fn step_weights_walk_exactly_their_entries() {
    let mut s = spec();
    s.analysis.step_weight = None;
    s.analysis.max_weight = None;
    s.analysis.step_weights = Some(vec![1, 5, 25, 80]);
    let got = settings(&s);
    assert_eq!(got.max_weight, 80);
    assert_eq!(got.steps, vec![1, 5, 25, 80]);
    assert_eq!(got.next_weight(0), 1);
    assert_eq!(got.next_weight(5), 25);
    // A weight left from an older spec continues at the next entry above it.
    assert_eq!(got.next_weight(7), 25);
}

#[test]
fn step_weights_are_capped_and_reach_max_weight() {
    let mut s = spec();
    s.analysis.step_weight = None;
    s.analysis.step_weights = Some(vec![5, 10, 25, 50]);
    s.analysis.max_weight = Some(30);
    assert_eq!(settings(&s).steps, vec![5, 10, 25, 30]);
    s.analysis.max_weight = Some(60);
    assert_eq!(settings(&s).steps, vec![5, 10, 25, 50, 60]);
}

#[test]
fn iterations_without_weights_is_blue_green() {
    assert_eq!(
        settings(&blue_green(4)).strategy,
        Strategy::BlueGreen { iterations: 4 }
    );
}

#[test]
fn weights_win_over_iterations() {
    let mut s = spec();
    s.analysis.iterations = Some(4);
    assert_eq!(settings(&s).strategy, Strategy::Canary);
}

#[test]
fn kubernetes_provider_is_blue_green_with_ten_iterations_by_default() {
    let mut s = spec();
    s.provider = Some("kubernetes".into());
    assert_eq!(settings(&s).strategy, Strategy::BlueGreen { iterations: 10 });
    s.analysis.iterations = Some(3);
    assert_eq!(settings(&s).strategy, Strategy::BlueGreen { iterations: 3 });
}

#[test]
fn unset_provider_is_gateway_api() {
    let mut s = spec();
    s.provider = None;
    assert_eq!(settings(&s).strategy, Strategy::Canary);
}

#[test]
fn unparseable_or_zero_interval_is_invalid() {
    for bad in ["soon", "0s", "500ms"] {
        let mut s = spec();
        s.analysis.interval = Some(DurationString::new(bad));
        assert!(
            matches!(Settings::from_spec(&s), Err(InvalidSpec::Interval(_))),
            "{bad} accepted"
        );
    }
}

#[test]
fn no_weights_and_no_iterations_is_invalid() {
    let mut s = blue_green(0);
    s.analysis.iterations = Some(0);
    assert_eq!(Settings::from_spec(&s), Err(InvalidSpec::NoSteps));
}
