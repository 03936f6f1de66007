//! Why a metric could not be measured, from a missing MetricTemplate to an empty result.

use super::builtin::NoBuiltinQuery;
use super::provider::QueryError;
use super::template::TemplateError;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error(transparent)]
    Query(#[from] QueryError),

    /// The gate's query failed; the metric itself was not asked.
    #[error("could not count the canary's requests for minRequests: {0}")]
    RequestCount(QueryError),

    #[error(transparent)]
    Template(#[from] TemplateError),

    #[error(transparent)]
    NoBuiltin(#[from] NoBuiltinQuery),

    #[error(
        "minRequests needs the canary's request counter, and serin has none for provider {provider:?} \
         yet; remove minRequests from this metric"
    )]
    NoRequestCounter { provider: String },

    #[error(
        "metric {metric} has no query: only request-success-rate and request-duration are builtin; \
         set templateRef or query"
    )]
    NoQuery { metric: String },

    #[error("MetricTemplate {namespace}/{name} (templateRef of metric {metric}) does not exist")]
    TemplateNotFound {
        metric: String,
        namespace: String,
        name: String,
    },

    #[error("Secret {namespace}/{name} (secretRef of MetricTemplate {template}) does not exist")]
    SecretNotFound {
        template: String,
        namespace: String,
        name: String,
    },

    #[error("Secret {namespace}/{name} (secretRef of MetricTemplate {template}): {problem}")]
    SecretInvalid {
        template: String,
        namespace: String,
        name: String,
        problem: String,
    },

    /// The API server could not be asked or refused (permissions, timeouts).
    #[error("could not read {kind} {namespace}/{name}: {message}")]
    Api {
        kind: &'static str,
        namespace: String,
        name: String,
        message: String,
    },
}

impl MetricError {
    /// True for an answer without a value, which the metric's `noData` policy decides about.
    pub fn is_no_data(&self) -> bool {
        matches!(self, MetricError::Query(err) if err.is_no_data())
    }

    /// True when only a change to the Canary, a MetricTemplate, a Secret or the controller's
    /// flags can fix this: worth a Warning event of its own, not just a failed check.
    pub fn is_config_error(&self) -> bool {
        match self {
            MetricError::Query(err) | MetricError::RequestCount(err) => err.is_config_error(),
            MetricError::Api { .. } => false,
            _ => true,
        }
    }

    /// True when the message already names the metric, so a check need not say it again.
    pub fn names_metric(&self) -> bool {
        matches!(
            self,
            MetricError::Template(_) | MetricError::NoQuery { .. } | MetricError::TemplateNotFound { .. }
        )
    }

    /// Stable CamelCase reason for Kubernetes events.
    pub fn reason(&self) -> &'static str {
        match self {
            MetricError::Query(err) | MetricError::RequestCount(err) => err.reason(),
            MetricError::Template(TemplateError::UnsafeValue { .. } | TemplateError::ValueTooLong { .. }) => {
                "TemplateVariableRefused"
            }
            MetricError::Template(_) => "MetricTemplateInvalid",
            MetricError::NoBuiltin(_) => "NoBuiltinMetricQuery",
            MetricError::NoRequestCounter { .. } => "NoRequestCounter",
            MetricError::NoQuery { .. } => "MetricHasNoQuery",
            MetricError::TemplateNotFound { .. } => "MetricTemplateNotFound",
            MetricError::SecretNotFound { .. } => "MetricSecretNotFound",
            MetricError::SecretInvalid { .. } => "MetricSecretInvalid",
            MetricError::Api { .. } => "MetricLookupFailed",
        }
    }
}
