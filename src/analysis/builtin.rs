//! The builtin metrics `request-success-rate` (percent) and `request-duration` (milliseconds), with
//! Flagger's PromQL for each traffic provider (flagger-behaviour.md §14.1, §14.2), and the request
//! counter the `minRequests` gate reads.
//!
//! The templates are rendered like a MetricTemplate and whitespace-collapsed, which turns them into
//! exactly the strings Flagger sends; the tests pin those strings.

pub const REQUEST_SUCCESS_RATE: &str = "request-success-rate";
pub const REQUEST_DURATION: &str = "request-duration";

/// True for the metric names that need no query of their own.
pub fn is_builtin(metric: &str) -> bool {
    metric == REQUEST_SUCCESS_RATE || metric == REQUEST_DURATION
}

/// Whose metrics the builtins read, chosen by the Canary's provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observer {
    /// Application metrics (`http_request_duration_seconds`): `kubernetes`, `gatewayapi*`.
    Http,
    Istio,
    Linkerd,
    Nginx,
}

/// Flagger has its own builtin queries for these, which serin does not carry yet; falling back to
/// Istio's (as Flagger does for unknown providers) would query metrics these meshes never export.
const NOT_YET: &[&str] = &[
    "appmesh", "contour", "gloo", "skipper", "traefik", "osm", "kuma", "apisix", "knative",
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "serin has no builtin {metric} query for provider {provider:?} yet; write the query in a \
     MetricTemplate and reference it with templateRef"
)]
pub struct NoBuiltinQuery {
    pub metric: String,
    pub provider: String,
}

/// The observer for a Canary provider; anything unknown (`smi:*` included) reads Istio's metrics,
/// as in Flagger.
pub fn observer_for(provider: &str) -> Option<Observer> {
    let family = provider.split(':').next().unwrap_or(provider);
    match family {
        "kubernetes" | "gatewayapi" => Some(Observer::Http),
        "linkerd" => Some(Observer::Linkerd),
        "istio" => Some(Observer::Istio),
        "nginx" => Some(Observer::Nginx),
        _ if NOT_YET.contains(&family) => None,
        _ => Some(Observer::Istio),
    }
}

/// A builtin query and how its result becomes the metric's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BuiltinQuery {
    pub template: &'static str,
    /// The result is multiplied by this (seconds → milliseconds).
    pub scale: f64,
    /// Durations are whole milliseconds in Flagger, so `500.9` passes a maximum of 500.
    pub whole_milliseconds: bool,
}

impl BuiltinQuery {
    /// The metric's value from the query's result.
    pub fn value(&self, result: f64) -> f64 {
        let scaled = result * self.scale;
        if self.whole_milliseconds {
            scaled.trunc()
        } else {
            scaled
        }
    }
}

/// The query of builtin metric `metric` under `provider`; `Ok(None)` when `metric` is no builtin.
pub fn builtin_query(provider: &str, metric: &str) -> Result<Option<BuiltinQuery>, NoBuiltinQuery> {
    if !is_builtin(metric) {
        return Ok(None);
    }
    let observer = observer_for(provider).ok_or_else(|| NoBuiltinQuery {
        metric: metric.to_string(),
        provider: provider.to_string(),
    })?;
    let query = if metric == REQUEST_SUCCESS_RATE {
        BuiltinQuery {
            template: success_rate(observer),
            scale: 1.0,
            whole_milliseconds: false,
        }
    } else {
        BuiltinQuery {
            template: duration(observer),
            scale: if observer == Observer::Http { 1000.0 } else { 1.0 },
            whole_milliseconds: true,
        }
    };
    Ok(Some(query))
}

/// The query counting the canary's requests within `{{ interval }}`, for `minRequests`.
pub fn request_count_query(provider: &str) -> Option<&'static str> {
    observer_for(provider).map(request_count)
}

fn success_rate(observer: Observer) -> &'static str {
    match observer {
        Observer::Http => {
            r#"
            sum( rate( http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                status!~"5.*" }[{{ interval }}] ) )
            / sum( rate( http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) )
            * 100"#
        }
        Observer::Istio => {
            r#"
            sum( rate( istio_requests_total{
                reporter="destination",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}",
                response_code!~"5.*" }[{{ interval }}] ) )
            / sum( rate( istio_requests_total{
                reporter="destination",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}" }[{{ interval }}] ) )
            * 100"#
        }
        Observer::Linkerd => {
            r#"
            sum( rate( response_total{
                namespace="{{ namespace }}",
                deployment=~"{{ target }}",
                classification!="failure",
                direction="inbound" }[{{ interval }}] ) )
            / sum( rate( response_total{
                namespace="{{ namespace }}",
                deployment=~"{{ target }}",
                direction="inbound" }[{{ interval }}] ) )
            * 100"#
        }
        Observer::Nginx => {
            r#"
            sum( rate( nginx_ingress_controller_requests{
                namespace="{{ namespace }}",
                ingress="{{ ingress }}",
                canary!="",
                status!~"5.*" }[{{ interval }}] ) )
            / sum( rate( nginx_ingress_controller_requests{
                namespace="{{ namespace }}",
                ingress="{{ ingress }}",
                canary!="" }[{{ interval }}] ) )
            * 100"#
        }
    }
}

fn duration(observer: Observer) -> &'static str {
    match observer {
        // In seconds; BuiltinQuery::scale makes milliseconds.
        Observer::Http => {
            r#"
            histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) )
            by (le) )"#
        }
        Observer::Istio => {
            r#"
            histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{
                reporter="destination",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}" }[{{ interval }}] ) )
            by (le) )"#
        }
        Observer::Linkerd => {
            r#"
            histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{
                namespace="{{ namespace }}",
                deployment=~"{{ target }}",
                direction="inbound" }[{{ interval }}] ) )
            by (le) )"#
        }
        // An average, not p99, as in Flagger.
        Observer::Nginx => {
            r#"
            sum( rate( nginx_ingress_controller_response_duration_seconds_sum{
                namespace="{{ namespace }}",
                ingress="{{ ingress }}",
                canary!="" }[{{ interval }}] ) )
            / sum( rate( nginx_ingress_controller_response_duration_seconds_count{
                namespace="{{ namespace }}",
                ingress="{{ ingress }}",
                canary!="" }[{{ interval }}] ) )
            * 1000"#
        }
    }
}

/// The success-rate denominator with `increase` instead of `rate`: requests, not requests per second.
fn request_count(observer: Observer) -> &'static str {
    match observer {
        Observer::Http => {
            r#"
            sum( increase( http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) )"#
        }
        Observer::Istio => {
            r#"
            sum( increase( istio_requests_total{
                reporter="destination",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}" }[{{ interval }}] ) )"#
        }
        Observer::Linkerd => {
            r#"
            sum( increase( response_total{
                namespace="{{ namespace }}",
                deployment=~"{{ target }}",
                direction="inbound" }[{{ interval }}] ) )"#
        }
        Observer::Nginx => {
            r#"
            sum( increase( nginx_ingress_controller_requests{
                namespace="{{ namespace }}",
                ingress="{{ ingress }}",
                canary!="" }[{{ interval }}] ) )"#
        }
    }
}
