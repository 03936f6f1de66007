use super::*;

const GOOD: &str = r#"
apiVersion: serin.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service:
    port: 9898
    gatewayRefs: [{name: public-gateway, namespace: gateways}]
  analysis:
    interval: 30s
    threshold: 5
    stepWeights: [5, 20, 50]
    metrics:
      - name: request-success-rate
        thresholdRange: {min: 99}
        interval: 1m
      - name: latency
        templateRef: {name: latency}
        thresholdRange: {max: 500}
    webhooks:
      - name: gate
        type: confirm-promotion
        url: http://loadtester/gate/check
        deadline: 30m
---
apiVersion: serin.dev/v1beta1
kind: MetricTemplate
metadata: {name: latency}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: histogram_quantile(0.99, rate(x[{{ interval }}]))
---
apiVersion: serin.dev/v1beta1
kind: AlertProvider
metadata: {name: slack}
spec: {type: slack, address: "https://hooks.slack.com/x"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-ours}
spec: {whatever: true}
"#;

fn problems(text: &str) -> Vec<String> {
    lint_text(text)
        .into_iter()
        .map(|(doc, p)| format!("{doc}: {}: {}", p.path, p.message))
        .collect()
}

fn with(replace: &str, by: &str) -> String {
    assert!(GOOD.contains(replace), "fixture lacks {replace:?}");
    GOOD.replacen(replace, by, 1)
}

#[test]
fn good_manifests_have_no_problems() {
    assert_eq!(problems(GOOD), Vec::<String>::new());
}

#[test]
fn schema_types_ranges_and_patterns_are_checked() {
    let p = problems(&with("threshold: 5", "threshold: five"));
    assert_eq!(
        p,
        ["1: spec.analysis.threshold: must be an integer, not a string"]
    );
    let p = problems(&with("port: 9898", "port: 70000"));
    assert_eq!(p, ["1: spec.service.port: must be at most 65535"]);
    let p = problems(&with("interval: 30s", "interval: 30 seconds"));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("1: spec.analysis.interval: \"30 seconds\" does not match"),
        "{p:?}"
    );
}

#[test]
fn unknown_fields_are_rejected_with_a_hint() {
    let p = problems(&with("threshold: 5", "treshold: 5"));
    assert_eq!(
        p,
        ["1: spec.analysis.treshold: unknown field \"treshold\" (did you mean \"threshold\"?)"]
    );
}

#[test]
fn missing_required_fields_are_reported() {
    let p = problems(&with("  service:\n    port: 9898\n", "  service:\n"));
    assert!(
        p.iter()
            .any(|p| p.contains("spec.service.port: required field is missing")),
        "{p:?}"
    );
}

#[test]
fn cel_only_rules_are_checked() {
    // Both schemas accept each field alone; only the CEL rule forbids them together.
    let p = problems(&with(
        "stepWeights: [5, 20, 50]",
        "stepWeights: [5, 20, 50]\n    stepWeight: 10",
    ));
    assert_eq!(
        p,
        ["1: spec.analysis: set either stepWeight or stepWeights, not both"]
    );
    let p = problems(&with("stepWeights: [5, 20, 50]", "stepWeights: [20, 5, 50]"));
    assert_eq!(
        p,
        ["1: spec.analysis.stepWeights: stepWeights must be strictly increasing"]
    );
    let p = problems(&with("type: confirm-promotion", "type: rollout"));
    assert!(p[0].contains("deadline applies only to gates"), "{p:?}");
    let p = problems(&with(
        "spec: {type: slack, address: \"https://hooks.slack.com/x\"}",
        "spec: {type: slack}",
    ));
    assert_eq!(p, ["3: spec: an AlertProvider needs address or secretRef"]);
}

#[test]
fn controller_settings_and_providers_are_checked() {
    let p = problems(&with("interval: 30s", "interval: 500ms"));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("1: spec.analysis.interval: ") && p[0].contains("is too short"),
        "{p:?}"
    );
    let p = problems(&with("provider: gatewayapi:v1", "provider: nginx"));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("1: spec.provider: serin has no router for \"nginx\""),
        "{p:?}"
    );
    let p = problems(&with("provider: gatewayapi:v1", "provider: nginxx"));
    assert_eq!(
        p[0],
        "1: spec.provider: unknown provider: use gatewayapi, kubernetes, linkerd, istio or smi:v1alpha1..3"
    );
}

#[test]
fn flagger_manifests_point_at_migrate_and_names_are_checked() {
    let p = problems(&with(
        "apiVersion: serin.dev/v1beta1\nkind: Canary",
        "apiVersion: flagger.app/v1beta1\nkind: Canary",
    ));
    assert!(p[0].contains("kubectl serin migrate"), "{p:?}");
    let p = problems(&with("name: podinfo\nspec", "name: PodInfo\nspec"));
    assert!(
        p[0].starts_with("1: metadata.name: \"PodInfo\" must be a DNS label"),
        "{p:?}"
    );
}

#[test]
fn invalid_yaml_is_a_problem() {
    let p = problems("kind: [unclosed");
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("invalid YAML"), "{p:?}");
}

/// The bad-input corpus (`e2e/corpus/`, checked against the real API server and controller by
/// `e2e/tests/bad_input.rs`): lint says what each `# lint:` header says, so offline lint and
/// the cluster agree. Schema cases must all be refused; `# lint: clean` marks the semantic cases
/// that need the cluster's state (a missing MetricTemplate, Secret or Deployment) to be seen.
#[test]
fn the_bad_input_corpus_agrees_with_lint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/corpus");
    let mut checked = 0;
    for kind in ["schema", "semantic"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(kind))
            .expect("the corpus directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            // The e2e test puts the real Prometheus's address there.
            let text = std::fs::read_to_string(&file)
                .expect("a corpus file")
                .replace("${PROMETHEUS}", "http://127.0.0.1:9090");
            let lint: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# lint: ")).collect();
            let found = problems(&text);
            let name = file.display();
            match lint.as_slice() {
                [] => panic!("{name}: no `# lint:` header"),
                ["clean"] => assert!(found.is_empty(), "{name}: lint found {found:?}"),
                expected => {
                    for part in expected {
                        assert!(
                            found.iter().any(|p| p.contains(part)),
                            "{name}: no problem contains {part:?}: {found:?}"
                        );
                    }
                }
            }
            if kind == "schema" {
                assert!(
                    !found.is_empty(),
                    "{name}: lint accepts a case the API server refuses"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} corpus cases");
}
