use super::*;

/// The value of the sample whose name and labels are exactly `series`, if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split(' ').next()?.parse().ok()
    })
}

fn encoded(metrics: &Metrics) -> String {
    metrics.encode().expect("encodes")
}

#[test]
fn exposition_declares_flagger_and_serin_families_and_ends_with_eof() {
    let m = Metrics::new("gatewayapi:v1");
    // Families without series are left out of the exposition, so give each one a series.
    m.set_phase("test", "podinfo", Phase::Progressing);
    m.set_weights("test", "podinfo", 100, 0);
    m.record_transition("test", "podinfo", Phase::Initialized, Phase::Progressing);
    m.set_metric_value("test", "podinfo", "latency", 0.1);
    m.observe_analysis("test", "podinfo", Duration::from_millis(5));
    m.record_rollout("test", "podinfo", "canary", "completed", true);
    m.record_rollout("test", "podinfo", "canary", "completed", false);
    m.reconcile_error("kube");
    let text = encoded(&m);
    for family in [
        "# TYPE flagger info",
        "# TYPE flagger_canary_total gauge",
        "# TYPE flagger_canary_status gauge",
        "# TYPE flagger_canary_weight gauge",
        "# TYPE flagger_canary_metric_analysis gauge",
        "# TYPE flagger_canary_duration_seconds histogram",
        "# TYPE flagger_canary_successes counter",
        "# TYPE flagger_canary_failures counter",
        "# TYPE serin_canary_phase gauge",
        "# TYPE serin_canary_transitions counter",
        "# TYPE serin_reconcile_duration_seconds histogram",
        "# TYPE serin_reconcile_errors counter",
    ] {
        assert!(
            text.contains(&format!("{family}\n")),
            "missing {family:?} in\n{text}"
        );
    }
    let info = format!(
        "flagger_info{{version=\"{}\",mesh_provider=\"gatewayapi:v1\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &info), Some(1.0), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn phase_is_one_for_the_current_phase_and_zero_for_the_others() {
    let m = Metrics::new("");
    m.set_phase("test", "podinfo", Phase::Progressing);
    m.set_phase("test", "podinfo", Phase::Succeeded);
    let text = encoded(&m);
    let phase = |p: &str| {
        value(
            &text,
            &format!("serin_canary_phase{{name=\"podinfo\",namespace=\"test\",phase=\"{p}\"}}"),
        )
    };
    assert_eq!(phase("Succeeded"), Some(1.0));
    assert_eq!(phase("Progressing"), Some(0.0));
    assert_eq!(phase("New"), Some(0.0), "the empty phase is published as New");
    let series = text
        .lines()
        .filter(|l| l.starts_with("serin_canary_phase{"))
        .count();
    assert_eq!(series, PHASES.len());
}

#[test]
fn flagger_status_uses_flaggers_codes() {
    let m = Metrics::new("");
    let status = |m: &Metrics| {
        value(
            &encoded(m),
            r#"flagger_canary_status{name="podinfo",namespace="test"}"#,
        )
    };
    m.set_phase("test", "podinfo", Phase::Progressing);
    assert_eq!(status(&m), Some(0.0));
    m.set_phase("test", "podinfo", Phase::Failed);
    assert_eq!(status(&m), Some(2.0));
    for other in [Phase::Succeeded, Phase::Initialized, Phase::Promoting, Phase::New] {
        m.set_phase("test", "podinfo", other);
        assert_eq!(status(&m), Some(1.0), "{other:?}");
    }
}

#[test]
fn weights_are_published_per_workload_like_flagger() {
    let m = Metrics::new("");
    m.set_weights("test", "podinfo", 70, 30);
    let text = encoded(&m);
    assert_eq!(
        value(
            &text,
            r#"flagger_canary_weight{workload="podinfo-primary",namespace="test"}"#
        ),
        Some(70.0)
    );
    assert_eq!(
        value(
            &text,
            r#"flagger_canary_weight{workload="podinfo",namespace="test"}"#
        ),
        Some(30.0)
    );
}

#[test]
fn canary_total_counts_distinct_canaries_per_namespace() {
    let m = Metrics::new("");
    m.set_phase("a", "one", Phase::Initialized);
    m.set_phase("a", "one", Phase::Progressing);
    m.set_weights("a", "two", 100, 0);
    m.set_phase("b", "three", Phase::Initialized);
    let text = encoded(&m);
    assert_eq!(value(&text, r#"flagger_canary_total{namespace="a"}"#), Some(2.0));
    assert_eq!(value(&text, r#"flagger_canary_total{namespace="b"}"#), Some(1.0));
}

#[test]
fn transitions_count_changes_and_ignore_self_transitions() {
    let m = Metrics::new("");
    m.record_transition("test", "podinfo", Phase::Initialized, Phase::Progressing);
    m.record_transition("test", "podinfo", Phase::Progressing, Phase::Progressing);
    m.record_transition("test", "podinfo", Phase::Succeeded, Phase::Progressing);
    m.record_transition("test", "podinfo", Phase::Initialized, Phase::Progressing);
    let text = encoded(&m);
    let canary = r#"name="podinfo",namespace="test""#;
    let series = |from: &str, to: &str| {
        format!("serin_canary_transitions_total{{{canary},from=\"{from}\",to=\"{to}\"}}")
    };
    assert_eq!(value(&text, &series("Initialized", "Progressing")), Some(2.0));
    assert_eq!(value(&text, &series("Succeeded", "Progressing")), Some(1.0));
    assert_eq!(value(&text, &series("Progressing", "Progressing")), None);
}

#[test]
fn analysis_series_follow_flaggers_labels() {
    let m = Metrics::new("");
    m.set_metric_value("test", "podinfo", "request-success-rate", 99.5);
    m.observe_analysis("test", "podinfo", Duration::from_millis(300));
    m.record_rollout("test", "podinfo", "canary", "completed", true);
    m.record_rollout("test", "podinfo", "canary", "completed", false);
    m.record_rollout("test", "podinfo", "canary", "completed", false);
    let text = encoded(&m);
    assert_eq!(
        value(
            &text,
            r#"flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="request-success-rate"}"#
        ),
        Some(99.5)
    );
    let canary = r#"{name="podinfo",namespace="test"}"#;
    assert_eq!(
        value(&text, &format!("flagger_canary_duration_seconds_count{canary}")),
        Some(1.0)
    );
    let bucket = |le: &str| {
        value(
            &text,
            &format!(
                "flagger_canary_duration_seconds_bucket{{le=\"{le}\",name=\"podinfo\",namespace=\"test\"}}"
            ),
        )
    };
    assert_eq!(bucket("0.25"), Some(0.0), "{text}");
    assert_eq!(bucket("0.5"), Some(1.0), "{text}");
    let outcome =
        r#"{name="podinfo",namespace="test",deployment_strategy="canary",analysis_status="completed"}"#;
    assert_eq!(
        value(&text, &format!("flagger_canary_successes_total{outcome}")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &format!("flagger_canary_failures_total{outcome}")),
        Some(2.0)
    );
}

#[test]
fn reconcile_timer_and_errors_are_recorded() {
    let m = Metrics::new("");
    {
        let _timer = m.reconcile_timer();
    }
    m.observe_reconcile(Duration::from_secs(1));
    m.reconcile_error("kube");
    m.reconcile_error("kube");
    m.reconcile_error("invalid_spec");
    let text = encoded(&m);
    assert_eq!(value(&text, "serin_reconcile_duration_seconds_count"), Some(2.0));
    assert_eq!(
        value(&text, r#"serin_reconcile_errors_total{reason="kube"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&text, r#"serin_reconcile_errors_total{reason="invalid_spec"}"#),
        Some(1.0)
    );
}

#[test]
fn forget_removes_every_series_of_the_canary_and_only_those() {
    let m = Metrics::new("");
    for name in ["gone", "kept"] {
        m.set_phase("test", name, Phase::Progressing);
        m.set_weights("test", name, 90, 10);
        m.record_transition("test", name, Phase::Initialized, Phase::Progressing);
        m.set_metric_value("test", name, "latency", 0.2);
        m.observe_analysis("test", name, Duration::from_millis(10));
        m.record_rollout("test", name, "canary", "completed", true);
    }
    m.set_phase("other", "alone", Phase::Succeeded);
    m.forget("test", "gone");
    m.forget("other", "alone");
    m.forget("other", "never-seen");
    let text = encoded(&m);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        samples
            .iter()
            .all(|l| !l.contains("\"gone") && !l.contains("alone")),
        "series of forgotten canaries remain:\n{text}"
    );
    assert!(samples.iter().any(|l| l.contains("name=\"kept\"")));
    assert!(samples.iter().any(|l| l.contains("workload=\"kept-primary\"")));
    assert_eq!(
        value(&text, r#"flagger_canary_total{namespace="test"}"#),
        Some(1.0)
    );
    assert_eq!(value(&text, r#"flagger_canary_total{namespace="other"}"#), None);
}
