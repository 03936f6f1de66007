//! Renders the engine's counts in the Prometheus text format, under the
//! names and labels that Linkerd, Istio and an instrumented app (podinfo)
//! use, so Flagger's builtin queries find them.

use std::fmt::Write as _;

use super::traffic::{Engine, Observations, PodTraffic};

/// `(le, bound in microseconds)`. The `le` text is written out so that it is
/// exactly what the real exporters print.
type Buckets = &'static [(&'static str, u64)];

/// The Linkerd proxy's `response_latency_ms` buckets.
const LINKERD_MS: Buckets = &[
    ("1", 1_000),
    ("2", 2_000),
    ("3", 3_000),
    ("4", 4_000),
    ("5", 5_000),
    ("10", 10_000),
    ("20", 20_000),
    ("30", 30_000),
    ("40", 40_000),
    ("50", 50_000),
    ("100", 100_000),
    ("200", 200_000),
    ("300", 300_000),
    ("400", 400_000),
    ("500", 500_000),
    ("1000", 1_000_000),
    ("2000", 2_000_000),
    ("3000", 3_000_000),
    ("4000", 4_000_000),
    ("5000", 5_000_000),
    ("10000", 10_000_000),
    ("20000", 20_000_000),
    ("30000", 30_000_000),
    ("40000", 40_000_000),
    ("50000", 50_000_000),
];

/// Istio's default `istio_request_duration_milliseconds` buckets.
const ISTIO_MS: Buckets = &[
    ("0.5", 500),
    ("1", 1_000),
    ("5", 5_000),
    ("10", 10_000),
    ("25", 25_000),
    ("50", 50_000),
    ("100", 100_000),
    ("250", 250_000),
    ("500", 500_000),
    ("1000", 1_000_000),
    ("2500", 2_500_000),
    ("5000", 5_000_000),
    ("10000", 10_000_000),
    ("30000", 30_000_000),
    ("60000", 60_000_000),
    ("300000", 300_000_000),
    ("600000", 600_000_000),
    ("1800000", 1_800_000_000),
    ("3600000", 3_600_000_000),
];

/// The Go client's default buckets, which podinfo's histogram uses.
const DEFAULT_SECONDS: Buckets = &[
    ("0.005", 5_000),
    ("0.01", 10_000),
    ("0.025", 25_000),
    ("0.05", 50_000),
    ("0.1", 100_000),
    ("0.25", 250_000),
    ("0.5", 500_000),
    ("1", 1_000_000),
    ("2.5", 2_500_000),
    ("5", 5_000_000),
    ("10", 10_000_000),
];

const MICROS_PER_MS: f64 = 1_000.0;
const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// Both outcomes a pod reports: `(ok, status code, observations)`.
fn outcomes(pod: &PodTraffic) -> [(bool, &'static str, &Observations); 2] {
    [(true, "200", &pod.succeeded), (false, "500", &pod.failed)]
}

pub(crate) fn render(namespace: &str, engine: &Engine) -> String {
    let mut out = String::new();
    let pods = || engine.pods.iter();

    family(&mut out, "response_total", "counter");
    for (name, pod) in pods() {
        for (ok, code, observations) in outcomes(pod) {
            let classification = if ok { "success" } else { "failure" };
            let labels = labels(&[
                ("namespace", namespace),
                ("deployment", &pod.workload),
                ("pod", name),
                ("direction", "inbound"),
                ("classification", classification),
                ("status_code", code),
            ]);
            sample(&mut out, "response_total", &labels, count(&[observations]));
        }
    }

    family(&mut out, "response_latency_ms", "histogram");
    for (name, pod) in pods() {
        let labels = labels(&[
            ("namespace", namespace),
            ("deployment", &pod.workload),
            ("pod", name),
            ("direction", "inbound"),
        ]);
        let all = [&pod.succeeded, &pod.failed];
        histogram(
            &mut out,
            "response_latency_ms",
            &labels,
            &all,
            LINKERD_MS,
            MICROS_PER_MS,
        );
    }

    family(&mut out, "istio_requests_total", "counter");
    for (name, pod) in pods() {
        for (_, code, observations) in outcomes(pod) {
            let labels = istio_labels(namespace, name, pod, Some(code));
            sample(&mut out, "istio_requests_total", &labels, count(&[observations]));
        }
    }

    family(&mut out, "istio_request_duration_milliseconds", "histogram");
    for (name, pod) in pods() {
        let labels = istio_labels(namespace, name, pod, None);
        let all = [&pod.succeeded, &pod.failed];
        histogram(
            &mut out,
            "istio_request_duration_milliseconds",
            &labels,
            &all,
            ISTIO_MS,
            MICROS_PER_MS,
        );
    }

    family(&mut out, "http_request_duration_seconds", "histogram");
    for (name, pod) in pods() {
        for (_, code, observations) in outcomes(pod) {
            let labels = labels(&[
                ("kubernetes_namespace", namespace),
                ("kubernetes_pod_name", name),
                ("status", code),
            ]);
            histogram(
                &mut out,
                "http_request_duration_seconds",
                &labels,
                &[observations],
                DEFAULT_SECONDS,
                MICROS_PER_SECOND,
            );
        }
    }
    out
}

fn istio_labels(namespace: &str, pod_name: &str, pod: &PodTraffic, code: Option<&str>) -> String {
    let mut pairs = vec![
        ("reporter", "destination"),
        ("destination_workload_namespace", namespace),
        ("destination_workload", pod.workload.as_str()),
        ("pod", pod_name),
    ];
    pairs.extend(code.map(|c| ("response_code", c)));
    labels(&pairs)
}

fn family(out: &mut String, name: &str, kind: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

fn count(observations: &[&Observations]) -> u64 {
    observations.iter().flat_map(|o| o.values()).sum()
}

/// Cumulative `_bucket` series up to `+Inf`, then `_sum` (in the unit the
/// buckets are in) and `_count`.
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    observations: &[&Observations],
    buckets: Buckets,
    micros_per_unit: f64,
) {
    let all = || observations.iter().flat_map(|o| o.iter());
    for (le, bound_us) in buckets {
        let within: u64 = all().filter(|(us, _)| *us <= bound_us).map(|(_, n)| n).sum();
        sample(
            out,
            &format!("{name}_bucket"),
            &format!("{labels},le=\"{le}\""),
            within,
        );
    }
    let total = count(observations);
    sample(
        out,
        &format!("{name}_bucket"),
        &format!("{labels},le=\"+Inf\""),
        total,
    );
    let sum: f64 = all().map(|(us, n)| *us as f64 * *n as f64).sum::<f64>() / micros_per_unit;
    sample(out, &format!("{name}_sum"), labels, sum);
    sample(out, &format!("{name}_count"), labels, total);
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect::<Vec<_>>()
        .join(",")
}

fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}
