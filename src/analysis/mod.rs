//! Metric analysis: each of a Canary's `analysis.metrics` measured and judged, for one analysis step.
//!
//! Per metric: [`resolve`] finds the query (builtin by the Canary's provider, a MetricTemplate, or
//! inline), the server and the credentials; the `minRequests` gate counts the canary's requests on
//! the same server; the provider ([`provider`]) runs the query; [`verdict`] judges the value against
//! the range and the `noData` policy. Metrics are measured concurrently, and one metric's failure,
//! whatever it is, only makes that metric's check fail.
//!
//! Choices where Flagger leaves room:
//! - a metric with `templateRef` uses the template, else `query` (sent as written, not rendered, as in
//!   Flagger), else the builtin of its name;
//! - the `minRequests` gate asks the same server, with the same credentials, as the metric;
//! - `{{ ingress }}` and `{{ route }}` are the target's name (serin has no ingressRef/routeRef), which
//!   is Flagger's fallback;
//! - builtins for providers with their own Flagger queries not carried here (contour, gloo, ...) fail
//!   with a message pointing to MetricTemplates, instead of Flagger's silent Istio fallback.
//!
//! The reconciler calls [`analyse`] for a due step; [`evaluate`] gives the same checks with the query
//! sent and the error behind each, for events and diagnostics.

pub mod builtin;
mod error;
pub mod prometheus;
pub mod provider;
pub mod resolve;
pub mod template;
pub mod verdict;

#[cfg(test)]
mod tests;

use std::time::Duration;

use futures::future::join_all;
use jiff::Timestamp;
use kube::{Client, ResourceExt};

use crate::api::{Canary, CanaryMetric, MetricCheck};
use crate::rollout::AnalysisResult;

pub use error::MetricError;
pub use provider::{Credentials, MetricProvider, ProviderConfig, QueryError, provider_for};
pub use resolve::{Gate, Plan, query_for};
pub use verdict::{Reading, judge, summarise};

/// Added to the provider's timeout for the backstop in [`bounded`].
const TIMEOUT_GRACE: Duration = Duration::from_secs(1);

/// One metric as measured and judged.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricOutcome {
    pub check: MetricCheck,
    /// The query sent for the metric itself; `None` when it could not be built.
    pub query: Option<String>,
    /// What went wrong, when something did (no data included).
    pub error: Option<MetricError>,
}

/// Measures and judges every metric of `canary`. No metrics: an empty, passing result.
pub async fn analyse(
    client: &Client,
    canary: &Canary,
    default_provider: &str,
    default_server: &str,
    now: Timestamp,
) -> AnalysisResult {
    let outcomes = evaluate(client, canary, default_provider, default_server, now).await;
    summarise(outcomes.into_iter().map(|o| o.check).collect())
}

/// [`analyse`], keeping per metric the query sent and the error behind a failed or held check.
pub async fn evaluate(
    client: &Client,
    canary: &Canary,
    default_provider: &str,
    default_server: &str,
    now: Timestamp,
) -> Vec<MetricOutcome> {
    let metrics = &canary.spec.analysis.metrics;
    let measured = join_all(
        metrics
            .iter()
            .map(|metric| measure(client, canary, metric, default_provider, default_server)),
    )
    .await;
    metrics
        .iter()
        .zip(measured)
        .map(|(metric, (query, reading))| {
            let error = reading.as_ref().err().cloned();
            let check = judge(metric, reading, now);
            tracing::debug!(
                canary = %canary.name_any(),
                metric = %metric.name,
                query = query.as_deref().unwrap_or(""),
                verdict = ?check.verdict,
                message = %check.message,
                "metric judged"
            );
            MetricOutcome { check, query, error }
        })
        .collect()
}

async fn measure(
    client: &Client,
    canary: &Canary,
    metric: &CanaryMetric,
    default_provider: &str,
    default_server: &str,
) -> (Option<String>, Result<Reading, MetricError>) {
    let plan = match resolve::plan(client, canary, metric, default_provider, default_server).await {
        Ok(plan) => plan,
        Err(err) => return (None, Err(err)),
    };
    let reading = run(&plan).await;
    (Some(plan.query), reading)
}

async fn run(plan: &Plan) -> Result<Reading, MetricError> {
    let provider = provider_for(&plan.config)?;
    if let Some(gate) = &plan.gate {
        let seen = match bounded(provider.as_ref(), &plan.config, &gate.query).await {
            Ok(seen) => seen,
            // No series yet means no request yet.
            Err(err) if err.is_no_data() => 0.0,
            Err(err) => return Err(MetricError::RequestCount(err)),
        };
        if seen < gate.required as f64 {
            return Ok(Reading::TooFewRequests {
                seen,
                required: gate.required,
                interval: gate.interval.clone(),
            });
        }
    }
    let result = bounded(provider.as_ref(), &plan.config, &plan.query).await?;
    Ok(Reading::Value(plan.builtin.map_or(result, |b| b.value(result))))
}

/// A backstop over the provider's own timeout, for providers that do not keep to it.
async fn bounded(
    provider: &dyn MetricProvider,
    config: &ProviderConfig,
    query: &str,
) -> Result<f64, QueryError> {
    let limit = config.timeout + TIMEOUT_GRACE;
    tokio::time::timeout(limit, provider.query(query))
        .await
        .unwrap_or_else(|_| {
            Err(QueryError::Unreachable {
                address: config.address.clone(),
                reason: format!("no answer within {limit:?}"),
            })
        })
}
