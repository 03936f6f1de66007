//! Where traffic goes during the analysis: A/B matches and mirroring.

use super::*;
use crate::api::{HttpMatch, Phase, StringMatch};
use crate::rollout::{Action, Weights};

fn canary_up(secs: i64) -> Observations {
    with_target(obs(secs), "r2", ready(2))
}

fn routes(d: &Decision) -> Vec<Weights> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::ApplyRouting(w) => Some(*w),
            _ => None,
        })
        .collect()
}

fn ab(iterations: i32) -> CanarySpec {
    let mut s = blue_green(iterations);
    s.analysis.match_ = vec![HttpMatch {
        headers: [(
            "x-canary".to_string(),
            StringMatch {
                exact: Some("insider".into()),
                ..StringMatch::default()
            },
        )]
        .into(),
        ..HttpMatch::default()
    }];
    s
}

#[test]
fn ab_testing_sends_all_matching_requests_to_the_ready_canary() {
    let s = ab(2);
    // Not ready yet: nobody goes to the canary.
    let d = run(&s, &progressing(0, None), &with_target(obs(0), "r2", rolling(2)));
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
    let d = run(&s, &progressing(0, None), &passed(canary_up(0)));
    assert_eq!(routes(&d), [Weights::canary(100)]);
    assert_eq!(
        d.status.canary_weight, 0,
        "the status weight is for all traffic, which stays on the primary"
    );
    assert_eq!(d.status.iterations, 1);
    let d = run(&s, &d.status, &canary_up(30));
    assert_eq!(routes(&d), [Weights::canary(100)], "between steps too");
    let d = run(&s, &d.status, &passed(canary_up(60)));
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
}

#[test]
fn ab_testing_rolls_back_to_the_primary() {
    let s = ab(3);
    let d = run(&s, &progressing(0, None), &failing(canary_up(0), "error rate"));
    assert_eq!(routes(&d), [Weights::canary(100)]);
    let d = run(&s, &d.status, &failing(canary_up(60), "error rate"));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
}

#[test]
fn the_kubernetes_provider_ignores_matches() {
    let mut s = ab(2);
    s.provider = Some("kubernetes".into());
    let d = run(&s, &progressing(0, None), &passed(canary_up(0)));
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
}

#[test]
fn blue_green_mirrors_for_the_whole_analysis_and_stops_at_promotion() {
    let mut s = blue_green(2);
    s.analysis.mirror = true;
    let d = run(&s, &progressing(0, None), &passed(canary_up(0)));
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY.mirrored(true)]);
    let d = run(&s, &d.status, &canary_up(30));
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY.mirrored(true)]);
    let d = run(&s, &d.status, &passed(canary_up(60)));
    assert_eq!(d.status.phase, Phase::Promoting);
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
}

#[test]
fn canary_weights_mirror_only_before_the_first_increase() {
    let mut s = spec();
    s.analysis.mirror = true;
    let d = run(&s, &progressing(0, None), &canary_up(0));
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY.mirrored(true)]);
    let d = run(&s, &progressing(0, None), &passed(canary_up(0)));
    assert_eq!(routes(&d), [Weights::canary(10)]);
}

#[test]
fn rollback_clears_mirroring() {
    let mut s = blue_green(5);
    s.analysis.mirror = true;
    let mut status = progressing(0, Some(0));
    status.failed_checks = 1;
    let d = run(&s, &status, &failing(canary_up(60), "latency"));
    assert_eq!(d.status.phase, Phase::Failed);
    assert_eq!(routes(&d), [Weights::ALL_PRIMARY]);
}

#[test]
fn ab_testing_on_a_traffic_split_is_refused() {
    for provider in ["linkerd", "smi", "smi:v1alpha3", "smi:v1alpha2:osm"] {
        let mut s = ab(5);
        s.provider = Some(provider.into());
        let err = crate::rollout::settings::Settings::from_spec(&s).expect_err(provider);
        assert!(
            err.to_string().contains("cannot route by request"),
            "{provider}: {err}"
        );
    }
    // Linkerd through an HTTPRoute can match requests.
    let mut s = ab(5);
    s.provider = Some("linkerd".into());
    s.service.gateway_refs = vec![Default::default()];
    let settings = crate::rollout::settings::Settings::from_spec(&s).expect("valid");
    assert!(settings.ab_testing);
}
