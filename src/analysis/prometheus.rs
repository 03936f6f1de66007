//! Prometheus instant queries (`GET <address>/api/v1/query?query=…`), as Flagger sends them.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::provider::{Credentials, MetricProvider, ProviderConfig, QueryError};
use super::template::collapse_whitespace;

/// A single value is a few hundred bytes; anything near this is a query
/// returning thousands of series, refused before it is buffered whole.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How much of an unexpected body, or of any text the server sent, an error message quotes.
const SNIPPET_CHARS: usize = 200;

/// The longest message a [`parse_response`] error has: every part the server
/// controls is cut to [`SNIPPET_CHARS`] characters, so status and events stay small.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 2048;

pub(super) fn provider(config: &ProviderConfig) -> Result<Arc<dyn MetricProvider>, QueryError> {
    Ok(Arc::new(Prometheus::new(config)?))
}

pub struct Prometheus {
    client: reqwest::Client,
    url: Url,
    /// The address as shown in messages, without any password it carried.
    address: String,
    headers: HeaderMap,
    credentials: Credentials,
    timeout: Duration,
}

impl Prometheus {
    pub fn new(config: &ProviderConfig) -> Result<Self, QueryError> {
        let url = query_url(&config.address)?;
        Ok(Prometheus {
            client: shared_client(config.insecure_skip_verify)?,
            address: shown_address(&url),
            url,
            headers: header_map(&config.headers)?,
            credentials: checked_credentials(&config.credentials)?,
            timeout: config.timeout,
        })
    }

    async fn fetch(&self, query: &str) -> Result<(u16, Vec<u8>), QueryError> {
        let mut request = self
            .client
            .get(self.url.clone())
            .query(&[("query", query)])
            .headers(self.headers.clone())
            .timeout(self.timeout);
        request = match &self.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { username, password } => request.basic_auth(username, Some(password)),
        };
        let mut response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let too_large = QueryError::TooLarge {
            limit: MAX_RESPONSE_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn unreachable(&self, err: reqwest::Error) -> QueryError {
        let reason = if err.is_timeout() {
            format!("no answer within {:?}", self.timeout)
        } else {
            // Without the URL: it repeats the address and the whole query.
            crate::error::chain(&err.without_url())
        };
        QueryError::Unreachable {
            address: self.address.clone(),
            reason,
        }
    }
}

#[async_trait]
impl MetricProvider for Prometheus {
    async fn query(&self, query: &str) -> Result<f64, QueryError> {
        // reqwest's timeout runs from connecting to the body's last byte.
        let (status, body) = self.fetch(&collapse_whitespace(query)).await?;
        parse_response(status, &body)
    }
}

/// `<address>/api/v1/query`, keeping a path prefix such as `/prometheus`.
fn query_url(address: &str) -> Result<Url, QueryError> {
    let invalid = |why: &str| {
        QueryError::InvalidConfig(format!(
            "metrics server address {address:?} is not a valid URL: {why}"
        ))
    };
    let trimmed = address.trim();
    if trimmed.is_empty() {
        return Err(QueryError::InvalidConfig(
            "no metrics server address: set the MetricTemplate's address, the Canary's metricsServer \
             or the controller's --metrics-server"
                .to_string(),
        ));
    }
    let mut url = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("use http://host:port or https://host:port"));
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| invalid("it cannot have a path"))?
        .pop_if_empty()
        .extend(["api", "v1", "query"]);
    Ok(url)
}

/// The server's address for messages: no password, no `/api/v1/query`.
fn shown_address(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let base = url.path().strip_suffix("/api/v1/query").unwrap_or("").to_string();
    shown.set_path(&base);
    shown.to_string()
}

fn header_map(headers: &BTreeMap<String, Vec<String>>) -> Result<HeaderMap, QueryError> {
    let mut map = HeaderMap::new();
    for (name, values) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| QueryError::InvalidConfig(format!("{name:?} is not a valid HTTP header name")))?;
        for value in values {
            let value = HeaderValue::from_str(value).map_err(|_| {
                QueryError::InvalidConfig(format!(
                    "the value of header {name:?} is not a valid HTTP header value"
                ))
            })?;
            map.append(header.clone(), value);
        }
    }
    Ok(map)
}

/// Refuses credentials that reqwest would only reject when sending.
fn checked_credentials(credentials: &Credentials) -> Result<Credentials, QueryError> {
    if let Credentials::Bearer(token) = credentials
        && HeaderValue::from_str(&format!("Bearer {token}")).is_err()
    {
        return Err(QueryError::InvalidConfig(
            "the token is not a valid HTTP header value (control characters?)".to_string(),
        ));
    }
    Ok(credentials.clone())
}

/// One client per TLS mode, shared so connections are reused across analysis steps.
fn shared_client(insecure_skip_verify: bool) -> Result<reqwest::Client, QueryError> {
    static VERIFYING: OnceLock<reqwest::Client> = OnceLock::new();
    static INSECURE: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if insecure_skip_verify {
        &INSECURE
    } else {
        &VERIFYING
    };
    if let Some(client) = cell.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(insecure_skip_verify)
        .build()
        .map_err(|e| QueryError::InvalidConfig(format!("cannot build an HTTP client: {e}")))?;
    Ok(cell.get_or_init(|| client).clone())
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<Sample>),
    Scalar((IgnoredAny, String)),
    Matrix(IgnoredAny),
    String(IgnoredAny),
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    value: Option<(IgnoredAny, String)>,
    #[serde(default)]
    histogram: Option<IgnoredAny>,
}

/// Reads a Prometheus `/api/v1/query` response: exactly one sample, or a scalar.
pub fn parse_response(status: u16, body: &[u8]) -> Result<f64, QueryError> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(QueryError::TooLarge {
            limit: MAX_RESPONSE_BYTES,
        });
    }
    let failed = status >= 400;
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if failed => {
            return Err(QueryError::Rejected {
                status: format!("HTTP {status}"),
                message: snippet(body),
            });
        }
        Err(err) => {
            return Err(QueryError::Malformed(format!(
                "not a Prometheus API response ({}): {}",
                cut(&err.to_string(), 100),
                snippet(body)
            )));
        }
    };
    if failed || envelope.status != "success" {
        if !failed && envelope.status != "error" {
            return Err(QueryError::Malformed(format!(
                "unknown status {:?}",
                cut(&envelope.status, 100)
            )));
        }
        let kind = envelope
            .error_type
            .map(|t| format!(", {}", cut(&t, 50)))
            .unwrap_or_default();
        return Err(QueryError::Rejected {
            status: format!("HTTP {status}{kind}"),
            message: envelope
                .error
                .map(|e| cut(&e, SNIPPET_CHARS))
                .unwrap_or_else(|| snippet(body)),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| QueryError::Malformed("the response has no data".to_string()))?;
    // serde's messages quote what they did not expect (an unknown resultType, say) in full.
    let data: Data = serde_json::from_value(data).map_err(|e| {
        QueryError::Malformed(format!("unexpected data: {}", cut(&e.to_string(), SNIPPET_CHARS)))
    })?;
    let text = match data {
        Data::Scalar((_, value)) => value,
        Data::Vector(samples) => match <[Sample; 1]>::try_from(samples) {
            Ok([sample]) => match sample {
                Sample {
                    value: Some((_, value)),
                    ..
                } => value,
                Sample {
                    histogram: Some(_), ..
                } => {
                    return Err(QueryError::NotAScalar("a native histogram".to_string()));
                }
                Sample { .. } => return Err(QueryError::Malformed("a sample without a value".to_string())),
            },
            Err(samples) if samples.is_empty() => return Err(QueryError::NoData),
            Err(samples) => return Err(QueryError::NotAScalar(format!("{} series", samples.len()))),
        },
        Data::Matrix(_) => return Err(QueryError::NotAScalar("a range vector (matrix)".to_string())),
        Data::String(_) => return Err(QueryError::NotAScalar("a string".to_string())),
    };
    parse_value(&text)
}

/// Prometheus writes sample values as strings: `"97.5"`, `"NaN"`, `"+Inf"`, `"1e+06"`.
fn parse_value(text: &str) -> Result<f64, QueryError> {
    let value: f64 = text
        .parse()
        .map_err(|_| QueryError::Malformed(format!("the value {:?} is not a number", cut(text, 50))))?;
    if value.is_nan() {
        return Err(QueryError::NaN);
    }
    Ok(value)
}

fn snippet(body: &[u8]) -> String {
    // Enough bytes for SNIPPET_CHARS characters of any width, however much whitespace collapses.
    let head = &body[..body.len().min(64 * 1024)];
    let text = cut(&String::from_utf8_lossy(head), SNIPPET_CHARS);
    if text.is_empty() {
        return "empty body".to_string();
    }
    text
}

/// `text` on one line, control characters shown as U+FFFD, cut to `max` characters (then `…`).
fn cut(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in collapse_whitespace(text).chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '\u{fffd}' } else { c });
    }
    out
}

#[cfg(test)]
pub(super) fn query_url_for_test(address: &str) -> Result<String, QueryError> {
    query_url(address).map(|u| u.to_string())
}
