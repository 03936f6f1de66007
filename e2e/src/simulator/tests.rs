//! The pure parts: the split, the accumulator, the engine and the exposition.

use std::collections::{BTreeMap, HashMap};

use super::exposition::render;
use super::queries::{self, Provider};
use super::rules::Rule;
use super::traffic::{Accumulator, Annotated, Engine, Pod, Snapshot, Workload, shares};
use super::{Behaviour, Totals, cluster};

fn pod(name: &str) -> Pod {
    Pod {
        name: name.to_string(),
        ready: true,
        annotated: Annotated::default(),
    }
}

fn workload(name: &str, pods: &[Pod]) -> Option<Workload> {
    Some(Workload {
        name: name.to_string(),
        pods: pods.to_vec(),
    })
}

fn routed(primary: i64, canary: i64) -> Snapshot {
    Snapshot {
        routes: Some(vec![Rule {
            matches: Vec::new(),
            weights: (primary, canary),
        }]),
        primary: workload("podinfo-primary", &[pod("podinfo-primary-7d9f8b6c5-aaaaa")]),
        canary: workload("podinfo", &[pod("podinfo-5b7c9d8f6-bbbbb")]),
    }
}

/// Ticks `n` whole seconds at `rps`.
fn run(engine: &mut Engine, n: usize, rps: f64, snapshot: &Snapshot, overrides: &HashMap<String, Behaviour>) {
    for _ in 0..n {
        engine.tick(1.0, rps, snapshot, overrides);
    }
}

fn totals(engine: &Engine, workload: &str) -> Totals {
    engine.totals.get(workload).copied().unwrap_or_default()
}

#[test]
fn weights_split_the_traffic() {
    assert_eq!(shares(&routed(80, 20)), (0.8, 0.2));
    assert_eq!(shares(&routed(100, 0)), (1.0, 0.0));
    assert_eq!(shares(&routed(0, 0)), (0.0, 0.0));
    assert_eq!(shares(&routed(-5, 10)), (0.0, 1.0), "negative weights count as 0");
}

#[test]
fn without_a_route_the_primary_takes_all_once_it_exists() {
    let mut snapshot = Snapshot {
        routes: None,
        ..routed(0, 0)
    };
    assert_eq!(shares(&snapshot), (1.0, 0.0));
    snapshot.primary = None;
    assert_eq!(shares(&snapshot), (0.0, 1.0), "no primary: the target's own pods");
    if let Some(canary) = snapshot.canary.as_mut() {
        canary.pods[0].ready = false;
    }
    assert_eq!(shares(&snapshot), (0.0, 0.0), "no primary, no ready canary pod");
}

#[test]
fn the_accumulator_carries_fractions() {
    let mut acc = Accumulator::default();
    let taken: Vec<u64> = (0..8).map(|_| acc.take(0.25)).collect();
    assert_eq!(taken, [0, 0, 0, 1, 0, 0, 0, 1]);

    let mut acc = Accumulator::default();
    let sum: u64 = (0..3000).map(|_| acc.take(1.0 / 3.0)).sum();
    assert!((999..=1000).contains(&sum), "{sum}");
    assert_eq!(acc.take(-4.0), 0, "negative amounts take nothing");
}

#[test]
fn the_engine_follows_weights_and_error_rates() {
    let mut engine = Engine::default();
    let overrides = HashMap::from([(
        "podinfo".to_string(),
        Behaviour {
            error_rate: 0.1,
            latency_ms: 900.0,
        },
    )]);
    run(&mut engine, 10, 20.0, &routed(80, 20), &overrides);
    assert_eq!(
        totals(&engine, "podinfo-primary"),
        Totals {
            requests: 160,
            errors: 0
        },
        "0.1% of 160 rounds down"
    );
    assert_eq!(
        totals(&engine, "podinfo"),
        Totals {
            requests: 40,
            errors: 4
        }
    );
}

#[test]
fn overrides_win_over_annotations_which_win_over_defaults() {
    let mut snapshot = routed(0, 100);
    if let Some(canary) = snapshot.canary.as_mut() {
        canary.pods[0].annotated = Annotated {
            error_rate: Some(0.5),
            latency_ms: None,
        };
    }
    let mut engine = Engine::default();
    run(&mut engine, 10, 10.0, &snapshot, &HashMap::new());
    assert_eq!(totals(&engine, "podinfo").errors, 50);
    let pod = &engine.pods["podinfo-5b7c9d8f6-bbbbb"];
    assert_eq!(pod.succeeded, BTreeMap::from([(50_000, 50)]), "default latency");

    let quiet = HashMap::from([("podinfo".to_string(), Behaviour::default())]);
    run(&mut engine, 10, 10.0, &snapshot, &quiet);
    assert_eq!(
        totals(&engine, "podinfo").errors,
        50,
        "the override silences the annotation"
    );
}

#[test]
fn pods_share_evenly_and_unready_or_deleted_pods_get_nothing() {
    let mut snapshot = routed(0, 100);
    let mut unready = pod("podinfo-5b7c9d8f6-ccccc");
    unready.ready = false;
    snapshot.canary = workload(
        "podinfo",
        &[
            pod("podinfo-5b7c9d8f6-bbbbb"),
            pod("podinfo-5b7c9d8f6-ddddd"),
            unready,
        ],
    );
    let mut engine = Engine::default();
    run(&mut engine, 5, 20.0, &snapshot, &HashMap::new());
    let served =
        |engine: &Engine, name: &str| engine.pods.get(name).map(|p| p.succeeded.values().sum::<u64>());
    assert_eq!(served(&engine, "podinfo-5b7c9d8f6-bbbbb"), Some(50));
    assert_eq!(served(&engine, "podinfo-5b7c9d8f6-ddddd"), Some(50));
    assert_eq!(
        served(&engine, "podinfo-5b7c9d8f6-ccccc"),
        None,
        "no series before any traffic"
    );

    snapshot.canary = workload("podinfo", &[pod("podinfo-5b7c9d8f6-ddddd")]);
    run(&mut engine, 1, 20.0, &snapshot, &HashMap::new());
    assert!(
        !engine.pods.contains_key("podinfo-5b7c9d8f6-bbbbb"),
        "deleted pod's series go"
    );
    assert_eq!(totals(&engine, "podinfo").requests, 120, "totals outlive pods");
}

#[test]
fn zero_rate_creates_no_series() {
    let mut engine = Engine::default();
    run(&mut engine, 3, 0.0, &routed(80, 20), &HashMap::new());
    assert!(engine.pods.is_empty());
    assert_eq!(
        render("test", &engine)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count(),
        0
    );
}

fn rendered_engine() -> String {
    let snapshot = routed(0, 100);
    let bad = HashMap::from([(
        "podinfo".to_string(),
        Behaviour {
            error_rate: 0.25,
            latency_ms: 900.0,
        },
    )]);
    let mut engine = Engine::default();
    run(&mut engine, 1, 8.0, &snapshot, &bad);
    render("test", &engine)
}

#[test]
fn exposition_has_every_label_set_the_builtin_queries_select_on() {
    let text = rendered_engine();
    let pod = "podinfo-5b7c9d8f6-bbbbb";
    for line in [
        format!(
            r#"response_total{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound",classification="success",status_code="200"}} 6"#
        ),
        format!(
            r#"response_total{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound",classification="failure",status_code="500"}} 2"#
        ),
        format!(
            r#"response_latency_ms_bucket{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound",le="500"}} 0"#
        ),
        format!(
            r#"response_latency_ms_bucket{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound",le="1000"}} 8"#
        ),
        format!(
            r#"response_latency_ms_bucket{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound",le="+Inf"}} 8"#
        ),
        format!(
            r#"response_latency_ms_sum{{namespace="test",deployment="podinfo",pod="{pod}",direction="inbound"}} 7200"#
        ),
        format!(
            r#"istio_requests_total{{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",pod="{pod}",response_code="500"}} 2"#
        ),
        format!(
            r#"istio_request_duration_milliseconds_bucket{{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",pod="{pod}",le="1000"}} 8"#
        ),
        format!(
            r#"http_request_duration_seconds_count{{kubernetes_namespace="test",kubernetes_pod_name="{pod}",status="200"}} 6"#
        ),
        format!(
            r#"http_request_duration_seconds_sum{{kubernetes_namespace="test",kubernetes_pod_name="{pod}",status="500"}} 1.8"#
        ),
        format!(
            r#"http_request_duration_seconds_bucket{{kubernetes_namespace="test",kubernetes_pod_name="{pod}",status="200",le="1"}} 6"#
        ),
        format!(
            r#"http_request_duration_seconds_bucket{{kubernetes_namespace="test",kubernetes_pod_name="{pod}",status="200",le="0.5"}} 0"#
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\nin\n{text}");
    }
}

#[test]
fn exposition_keeps_each_family_together_and_buckets_cumulative() {
    let text = rendered_engine();
    let mut families = Vec::new();
    let mut last_bucket: Option<(String, u64)> = None;
    for line in text.lines() {
        if let Some(family) = line.strip_prefix("# TYPE ") {
            families.push(family.split(' ').next().unwrap_or_default().to_string());
            continue;
        }
        let family = families.last().expect("a sample after its # TYPE line");
        assert!(line.starts_with(family.as_str()), "{line} outside {family}");
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        value.parse::<f64>().expect("a number");
        if let Some((labels, _)) = series.split_once(",le=") {
            let count: u64 = value.parse().expect("a whole bucket count");
            if let Some((previous, before)) = &last_bucket
                && previous == labels
            {
                assert!(count >= *before, "{line} falls below the bucket before it");
            }
            last_bucket = Some((labels.to_string(), count));
        }
    }
    assert_eq!(
        families,
        [
            "response_total",
            "response_latency_ms",
            "istio_requests_total",
            "istio_request_duration_milliseconds",
            "http_request_duration_seconds"
        ]
    );
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(
        super::exposition::labels(&[("a", "x\"y\\z\n")]),
        r#"a="x\"y\\z\n""#
    );
}

#[test]
fn the_app_level_pod_regex_matches_canary_pods_only() {
    // PromQL anchors regex matchers at both ends.
    let pattern = format!("^(?:{})$", "podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)");
    let regex = regex::Regex::new(&pattern).expect("a valid regex");
    assert!(regex.is_match("podinfo-5b7c9d8f6-bbbbb"));
    assert!(!regex.is_match("podinfo-primary-7d9f8b6c5-aaaaa"));
    // The caveat in the module docs: two segments after the target match.
    assert!(regex.is_match("podinfo-primary-0"));
}

#[test]
fn annotations_are_read_as_numbers() {
    let annotations = BTreeMap::from([
        (super::ERROR_RATE_ANNOTATION.to_string(), " 0.1 ".to_string()),
        (super::LATENCY_ANNOTATION.to_string(), "slow".to_string()),
    ]);
    assert_eq!(
        cluster::annotated(&annotations),
        Annotated {
            error_rate: Some(0.1),
            latency_ms: None
        }
    );
}

#[test]
fn builtin_queries_are_flaggers() {
    assert_eq!(
        queries::success_rate(Provider::Linkerd, "test", "podinfo", "1m"),
        r#"sum( rate( response_total{ namespace="test", deployment=~"podinfo", classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{ namespace="test", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100"#
    );
    assert_eq!(
        queries::duration(Provider::App, "test", "podinfo", "30s"),
        r#"histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ kubernetes_namespace="test", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[30s] ) ) by (le) )"#
    );
}
