//! Flagger's builtin PromQL for the providers the simulator imitates, as
//! Flagger sends it (whitespace collapsed), so tests query exactly that.

/// Whose metrics a builtin query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Linkerd,
    Istio,
    /// Application metrics (podinfo's `http_request_duration_seconds`), used
    /// by the `gatewayapi` and `kubernetes` providers. Its duration query
    /// answers in seconds; Flagger multiplies it by 1000.
    App,
}

const LINKERD_SUCCESS: &str = r#"sum( rate( response_total{ namespace="{{ namespace }}", deployment=~"{{ target }}", classification!="failure", direction="inbound" }[{{ interval }}] ) ) / sum( rate( response_total{ namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound" }[{{ interval }}] ) ) * 100"#;
const LINKERD_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound" }[{{ interval }}] ) ) by (le) )"#;
const ISTIO_SUCCESS: &str = r#"sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}", response_code!~"5.*" }[{{ interval }}] ) ) / sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}" }[{{ interval }}] ) ) * 100"#;
const ISTIO_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{ reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}" }[{{ interval }}] ) ) by (le) )"#;
const APP_SUCCESS: &str = r#"sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[{{ interval }}] ) ) / sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) ) * 100"#;
const APP_DURATION: &str = r#"histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) ) by (le) )"#;

/// `request-success-rate`: the percentage of non-5xx responses of `target`.
pub fn success_rate(provider: Provider, namespace: &str, target: &str, interval: &str) -> String {
    let template = match provider {
        Provider::Linkerd => LINKERD_SUCCESS,
        Provider::Istio => ISTIO_SUCCESS,
        Provider::App => APP_SUCCESS,
    };
    render(template, namespace, target, interval)
}

/// `request-duration`: the p99 latency of `target`.
pub fn duration(provider: Provider, namespace: &str, target: &str, interval: &str) -> String {
    let template = match provider {
        Provider::Linkerd => LINKERD_DURATION,
        Provider::Istio => ISTIO_DURATION,
        Provider::App => APP_DURATION,
    };
    render(template, namespace, target, interval)
}

fn render(template: &str, namespace: &str, target: &str, interval: &str) -> String {
    template
        .replace("{{ namespace }}", namespace)
        .replace("{{ target }}", target)
        .replace("{{ interval }}", interval)
}
