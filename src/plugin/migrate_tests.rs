use super::*;

/// A realistic Flagger manifest set (the podinfo tutorial's, with extras serin lacks).
const FLAGGER: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo}
spec: {replicas: 2}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
  uid: 0d7c0e8e-1111-2222-3333-444455556666
  resourceVersion: "1234"
  finalizers: [finalizer.flagger.app]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    team: web
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  autoscalerRef:
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    name: podinfo
    primaryScalerQueries: {cpu: "sum(x)"}
  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}
  progressDeadlineSeconds: 60
  service:
    port: 9898
    targetPort: 9898
    headless: true
    gateways: [public-gateway.istio-system.svc.cluster.local]
    hosts: [app.example.com]
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure"}
  canaryAnalysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
      - name: request-success-rate
        thresholdRange: {min: 99}
        interval: 1m
      - name: latency
        templateRef: {name: latency, namespace: istio-system}
        thresholdRange: {max: 500}
        interval: 30s
    webhooks:
      - name: acceptance-test
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 30s
        metadata: {type: bash, cmd: "curl -sd 'test' http://podinfo-canary:9898/token | grep token"}
      - name: load-test
        url: http://flagger-loadtester.test/
        timeout: 5s
        metadata: {cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"}
    alerts:
      - name: on-call
        severity: error
        providerRef: {name: on-call, namespace: flagger}
status:
  phase: Succeeded
  canaryWeight: 0
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: latency, namespace: istio-system}
spec:
  provider: {type: prometheus, address: "http://prometheus.istio-system:9090"}
  query: histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket[{{ interval }}])) by (le))
---
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: on-call, namespace: flagger}
spec: {type: slack, channel: on-call, username: flagger, secretRef: {name: on-call-url}}
"#;

fn converted() -> Migration {
    migrate_text(FLAGGER)
}

#[test]
fn flagger_manifests_convert_and_keep_their_fields() {
    let m = converted();
    assert_eq!(m.converted, 3);
    assert_eq!(m.documents.len(), 4);
    assert_eq!(
        m.documents[0]["apiVersion"], "apps/v1",
        "other kinds pass through"
    );
    let canary = &m.documents[1];
    assert_eq!(canary["apiVersion"], "serin.dev/v1beta1");
    assert_eq!(
        canary["spec"]["analysis"]["stepWeight"], 10,
        "canaryAnalysis renamed"
    );
    assert_eq!(
        canary["spec"]["analysis"]["webhooks"][0]["metadata"]["type"],
        "bash"
    );
    assert_eq!(
        canary["spec"]["analysis"]["alerts"][0]["providerRef"]["namespace"],
        "flagger"
    );
    assert_eq!(canary["spec"]["service"]["retries"]["attempts"], 3);
    assert_eq!(
        canary["metadata"]["annotations"],
        serde_json::json!({ "team": "web" })
    );
    assert!(canary["metadata"].get("uid").is_none() && canary.get("status").is_none());
    assert_eq!(m.documents[2]["apiVersion"], "serin.dev/v1beta1");
    assert_eq!(m.documents[3]["spec"]["secretRef"]["name"], "on-call-url");
}

#[test]
fn unsupported_fields_are_reported() {
    let notes = converted().notes.join("\n");
    for expected in [
        "not carried over: spec.ingressRef: NGINX/Skipper ingress routing is not supported",
        "not carried over: spec.autoscalerRef.primaryScalerQueries: KEDA",
        "not carried over: spec.service.headless: serin generates ClusterIP Services only",
        "not carried over: metadata.finalizers",
        "not carried over: status",
    ] {
        assert!(notes.contains(expected), "missing {expected:?} in\n{notes}");
    }
    assert!(!notes.contains("spec.service.retries"), "{notes}");
}

#[test]
fn converted_output_passes_lint() {
    let m = converted();
    let mut yaml = String::new();
    for doc in &m.documents {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(doc).expect("serialises"));
    }
    let problems = super::super::lint::lint_text(&yaml);
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn non_deployment_targets_are_not_converted() {
    let m = migrate_text(&FLAGGER.replace(
        "kind: Deployment, name: podinfo}",
        "kind: DaemonSet, name: podinfo}",
    ));
    assert_eq!(m.converted, 2);
    assert!(
        m.notes
            .iter()
            .any(|n| n.contains("not converted: targetRef.kind DaemonSet")),
        "{:?}",
        m.notes
    );
}

#[test]
fn unsupported_provider_is_a_warning() {
    let m = migrate_text(&FLAGGER.replace("provider: istio", "provider: nginx"));
    assert_eq!(m.converted, 3);
    assert!(
        m.notes.iter().any(|n| n.contains("serin has no router for it")),
        "{:?}",
        m.notes
    );
}

#[test]
fn nothing_flagger_means_nothing_converted() {
    assert_eq!(
        migrate_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").converted,
        0
    );
}
