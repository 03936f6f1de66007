//! The builtin queries, pinned to Flagger's strings (flagger-behaviour.md §14.2, verbatim).

use crate::analysis::builtin::{
    Observer, REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_query, observer_for, request_count_query,
};
use crate::analysis::template::{TemplateVars, collapse_whitespace, render};

const ISTIO_SUCCESS_RATE: &str = r#"sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}", response_code!~"5.*" }[{{ interval }}] ) ) / sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}" }[{{ interval }}] ) ) * 100"#;
const ISTIO_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}" }[{{ interval }}] ) ) by (le) )"#;
const LINKERD_SUCCESS_RATE: &str = r#"sum( rate( response_total{ namespace="{{ namespace }}", deployment=~"{{ target }}", classification!="failure", direction="inbound" }[{{ interval }}] ) ) / sum( rate( response_total{ namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound" }[{{ interval }}] ) ) * 100"#;
const LINKERD_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound" }[{{ interval }}] ) ) by (le) )"#;
const HTTP_SUCCESS_RATE: &str = r#"sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[{{ interval }}] ) ) / sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) ) * 100"#;
const HTTP_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) ) by (le) )"#;
const NGINX_SUCCESS_RATE: &str = r#"sum( rate( nginx_ingress_controller_requests{ namespace="{{ namespace }}", ingress="{{ ingress }}", canary!="", status!~"5.*" }[{{ interval }}] ) ) / sum( rate( nginx_ingress_controller_requests{ namespace="{{ namespace }}", ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) * 100"#;
const NGINX_DURATION: &str = r#"sum( rate( nginx_ingress_controller_response_duration_seconds_sum{ namespace="{{ namespace }}", ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) / sum( rate( nginx_ingress_controller_response_duration_seconds_count{ namespace="{{ namespace }}", ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) * 1000"#;

fn template(provider: &str, metric: &str) -> String {
    let query = builtin_query(provider, metric)
        .expect("a known provider")
        .expect("a builtin metric");
    collapse_whitespace(query.template)
}

#[test]
fn success_rate_and_duration_match_flagger_per_provider() {
    for (providers, success_rate, duration) in [
        (&["istio"][..], ISTIO_SUCCESS_RATE, ISTIO_DURATION),
        (&["linkerd"][..], LINKERD_SUCCESS_RATE, LINKERD_DURATION),
        (
            &["kubernetes", "gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"][..],
            HTTP_SUCCESS_RATE,
            HTTP_DURATION,
        ),
        (&["nginx"][..], NGINX_SUCCESS_RATE, NGINX_DURATION),
    ] {
        for provider in providers {
            assert_eq!(
                template(provider, REQUEST_SUCCESS_RATE),
                success_rate,
                "{provider}"
            );
            assert_eq!(template(provider, REQUEST_DURATION), duration, "{provider}");
        }
    }
}

#[test]
fn unknown_providers_read_istio_metrics_as_in_flagger() {
    for provider in ["smi:v1alpha3", "smi:v1alpha1:linkerd", "something-new"] {
        assert_eq!(observer_for(provider), Some(Observer::Istio), "{provider}");
        assert_eq!(template(provider, REQUEST_SUCCESS_RATE), ISTIO_SUCCESS_RATE);
    }
}

#[test]
fn providers_with_their_own_flagger_queries_are_refused_not_guessed() {
    for provider in [
        "contour",
        "gloo",
        "appmesh:v1beta2",
        "traefik",
        "skipper",
        "kuma",
        "osm",
        "apisix",
        "knative",
    ] {
        let err = builtin_query(provider, REQUEST_DURATION).expect_err(provider);
        assert!(err.to_string().contains("MetricTemplate"), "{err}");
        assert_eq!(request_count_query(provider), None, "{provider}");
    }
}

#[test]
fn other_metric_names_are_no_builtins() {
    assert_eq!(builtin_query("istio", "error-rate"), Ok(None));
    assert_eq!(builtin_query("contour", "error-rate"), Ok(None));
}

#[test]
fn rendered_builtins_are_what_flagger_sends() {
    let vars = TemplateVars {
        name: "podinfo".into(),
        namespace: "test".into(),
        target: "podinfo".into(),
        service: "podinfo".into(),
        ingress: "podinfo".into(),
        route: "podinfo".into(),
        interval: "1m".into(),
        variables: Default::default(),
    };
    let query = builtin_query("kubernetes", REQUEST_SUCCESS_RATE)
        .expect("known")
        .expect("builtin");
    assert_eq!(
        render(REQUEST_SUCCESS_RATE, query.template, &vars).expect("renders"),
        "sum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"test\", \
         kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", status!~\"5.*\" }[1m] ) ) / \
         sum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"test\", \
         kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[1m] ) ) * 100"
    );
}

#[test]
fn durations_become_whole_milliseconds() {
    let http = builtin_query("gatewayapi:v1", REQUEST_DURATION)
        .expect("known")
        .expect("builtin");
    assert_eq!(http.value(0.4129), 412.0);
    assert_eq!(http.value(0.5009), 500.0);
    let istio = builtin_query("istio", REQUEST_DURATION)
        .expect("known")
        .expect("builtin");
    assert_eq!(istio.value(412.9), 412.0);
    let nginx = builtin_query("nginx", REQUEST_DURATION)
        .expect("known")
        .expect("builtin");
    assert_eq!(nginx.value(99.99), 99.0);
    let rate = builtin_query("kubernetes", REQUEST_SUCCESS_RATE)
        .expect("known")
        .expect("builtin");
    assert_eq!(rate.value(97.55), 97.55);
}

#[test]
fn request_counts_use_the_success_rate_denominator_over_the_interval() {
    assert_eq!(
        request_count_query("kubernetes")
            .map(collapse_whitespace)
            .as_deref(),
        Some(
            "sum( increase( http_request_duration_seconds_count{ kubernetes_namespace=\"{{ namespace }}\", \
             kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[{{ interval }}] ) )"
        )
    );
    assert_eq!(
        request_count_query("istio").map(collapse_whitespace).as_deref(),
        Some(
            "sum( increase( istio_requests_total{ reporter=\"destination\", \
             destination_workload_namespace=\"{{ namespace }}\", destination_workload=~\"{{ target }}\" \
             }[{{ interval }}] ) )"
        )
    );
    assert_eq!(
        request_count_query("linkerd").map(collapse_whitespace).as_deref(),
        Some(
            "sum( increase( response_total{ namespace=\"{{ namespace }}\", deployment=~\"{{ target }}\", \
             direction=\"inbound\" }[{{ interval }}] ) )"
        )
    );
    assert_eq!(
        request_count_query("nginx").map(collapse_whitespace).as_deref(),
        Some(
            "sum( increase( nginx_ingress_controller_requests{ namespace=\"{{ namespace }}\", \
             ingress=\"{{ ingress }}\", canary!=\"\" }[{{ interval }}] ) )"
        )
    );
    // Every denominator's selector appears in its counter.
    for provider in ["kubernetes", "istio", "linkerd", "nginx"] {
        let counter = collapse_whitespace(request_count_query(provider).expect("known"));
        let selector = counter
            .split_once("increase( ")
            .map(|(_, rest)| rest.trim_end_matches(" ) )"))
            .expect("increase(...)");
        let success_rate = template(provider, REQUEST_SUCCESS_RATE);
        assert!(
            success_rate.contains(&format!("rate( {selector} )")),
            "{provider}: {selector} not in {success_rate}"
        );
    }
}
