//! Metric providers: where a query goes and how its answer becomes one number.
//!
//! Adding a provider: a new module with a constructor
//! `fn(&ProviderConfig) -> Result<Arc<dyn MetricProvider>, QueryError>`, and one
//! line in [`PROVIDERS`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::prometheus;

/// Query timeout when the MetricTemplate sets none (Flagger's value).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A metrics backend that answers a query with a single number.
#[async_trait]
pub trait MetricProvider: Send + Sync {
    async fn query(&self, query: &str) -> Result<f64, QueryError>;
}

/// Everything needed to talk to one metrics server, resolved from the
/// MetricTemplate, the Canary and the controller's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// `prometheus`, ...
    pub type_: String,
    pub address: String,
    pub credentials: Credentials,
    /// Extra headers; a name may carry several values.
    pub headers: BTreeMap<String, Vec<String>>,
    pub insecure_skip_verify: bool,
    pub timeout: Duration,
}

impl ProviderConfig {
    /// A Prometheus at `address` with no credentials: what builtin and inline
    /// metrics use.
    pub fn prometheus(address: impl Into<String>) -> Self {
        ProviderConfig {
            type_: "prometheus".to_string(),
            address: address.into(),
            credentials: Credentials::None,
            headers: BTreeMap::new(),
            insecure_skip_verify: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Credentials read from the Secret named by a MetricTemplate's `secretRef`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

// Keeps tokens and passwords out of logs and Debug output.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Why a query produced no usable number. Each message says what to look at.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// No answer at all: connection refused, DNS, TLS, timeout.
    #[error("metrics server {address} is unreachable: {reason}")]
    Unreachable { address: String, reason: String },

    /// The server answered with an error (Prometheus `status: error`, HTTP 4xx/5xx).
    #[error("the metrics server rejected the query ({status}): {message}")]
    Rejected { status: String, message: String },

    /// An empty result: usually the canary receives no traffic yet.
    #[error("the query returned no values")]
    NoData,

    /// NaN, as `0/0` gives when a rate has no samples; treated like no data.
    #[error("the query returned NaN (no samples in the interval?)")]
    NaN,

    /// Not exactly one number: several series, a range vector, a string.
    #[error("the query must return a single value, but returned {0}; aggregate it, e.g. with sum()")]
    NotAScalar(String),

    /// An answer that is not what the provider's API promises.
    #[error("unreadable response from the metrics server: {0}")]
    Malformed(String),

    /// A response over the size limit, refused rather than buffered.
    #[error("the response is larger than {limit} bytes; the query must return a single value")]
    TooLarge { limit: usize },

    #[error("unsupported metric provider {provider:?}: supported providers are {supported}")]
    UnsupportedProvider { provider: String, supported: String },

    /// The provider cannot even be asked: bad address, header, credentials.
    #[error("{0}")]
    InvalidConfig(String),
}

impl QueryError {
    /// True for an answer without a value, which `noData` decides about.
    pub fn is_no_data(&self) -> bool {
        matches!(self, QueryError::NoData | QueryError::NaN)
    }

    /// True when only a change to the MetricTemplate, Canary or controller
    /// flags can fix this; retrying unchanged fails the same way.
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            QueryError::UnsupportedProvider { .. } | QueryError::InvalidConfig(_)
        )
    }

    /// Stable CamelCase reason for Kubernetes events.
    pub fn reason(&self) -> &'static str {
        match self {
            QueryError::Unreachable { .. } => "MetricsServerUnreachable",
            QueryError::Rejected { .. } => "MetricQueryRejected",
            QueryError::NoData | QueryError::NaN => "MetricNoData",
            QueryError::NotAScalar(_) => "MetricNotAScalar",
            QueryError::Malformed(_) | QueryError::TooLarge { .. } => "MetricResponseInvalid",
            QueryError::UnsupportedProvider { .. } => "UnsupportedMetricProvider",
            QueryError::InvalidConfig(_) => "InvalidMetricProvider",
        }
    }
}

type Constructor = fn(&ProviderConfig) -> Result<Arc<dyn MetricProvider>, QueryError>;

/// Provider types and their constructors, in the order error messages list them.
const PROVIDERS: &[(&str, Constructor)] = &[("prometheus", prometheus::provider)];

/// The provider for a resolved configuration, keyed by its type.
pub fn provider_for(config: &ProviderConfig) -> Result<Arc<dyn MetricProvider>, QueryError> {
    let (_, construct) = PROVIDERS
        .iter()
        .find(|(name, _)| *name == config.type_)
        .ok_or_else(|| QueryError::UnsupportedProvider {
            provider: config.type_.clone(),
            supported: supported_providers(),
        })?;
    construct(config)
}

/// The provider types [`provider_for`] accepts, comma-separated.
pub fn supported_providers() -> String {
    PROVIDERS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}
