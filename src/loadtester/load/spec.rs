//! What a `type: load` webhook asks for, read and checked from its metadata.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};

use crate::api::parse_duration;

/// Above this a single load tester pod is the bottleneck, not the target; ask for more pods instead.
pub const MAX_RATE: f64 = 10_000.0;
/// Closed-loop workers; each holds one connection.
pub const MAX_CONCURRENCY: u32 = 1_000;
/// Per-request timeout unless `requestTimeout` says otherwise.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Open loop: this many requests per second whatever the target's latency.
    Rate(f64),
    /// Closed loop: this many workers, each sending its next request when the previous one returns.
    Concurrency(u32),
}

impl fmt::Display for Pacing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pacing::Rate(rate) => write!(f, "{rate} rps"),
            Pacing::Concurrency(n) => write!(f, "{n} workers"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    pub url: Url,
    pub pacing: Pacing,
    pub duration: Duration,
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<String>,
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadSpecError {
    #[error("metadata.url is required for a load task")]
    MissingUrl,
    #[error("metadata.url {0:?} is not an http(s) URL")]
    InvalidUrl(String),
    #[error("metadata.duration is required for a load task (e.g. 30s, 1m)")]
    MissingDuration,
    #[error("metadata.{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("give exactly one of metadata.rate (requests per second) or metadata.concurrency (workers)")]
    Pacing,
}

fn invalid(key: &'static str, message: impl Into<String>) -> LoadSpecError {
    LoadSpecError::Invalid {
        key,
        message: message.into(),
    }
}

impl LoadSpec {
    /// `max_duration` is the load tester's `--timeout`: no task may outlive it, and refusing a longer test
    /// up front is clearer than cutting it short.
    pub fn from_metadata(
        meta: &BTreeMap<String, String>,
        max_duration: Duration,
    ) -> Result<Self, LoadSpecError> {
        let get = |key: &str| meta.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());

        let raw_url = get("url").ok_or(LoadSpecError::MissingUrl)?;
        let url = Url::parse(raw_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| LoadSpecError::InvalidUrl(raw_url.to_string()))?;

        let duration = parse_duration(get("duration").ok_or(LoadSpecError::MissingDuration)?)
            .map_err(|e| invalid("duration", e.to_string()))?;
        if duration.is_zero() || duration > max_duration {
            return Err(invalid(
                "duration",
                format!("must be above 0 and at most the load tester's --timeout ({max_duration:?})"),
            ));
        }

        let pacing = match (get("rate"), get("concurrency")) {
            (Some(rate), None) => Pacing::Rate(parse_rate(rate)?),
            (None, Some(workers)) => Pacing::Concurrency(parse_concurrency(workers)?),
            _ => return Err(LoadSpecError::Pacing),
        };

        let method = match get("method") {
            None => Method::GET,
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| invalid("method", format!("{m:?} is not an HTTP method")))?,
        };

        let request_timeout = match get("requestTimeout") {
            None => DEFAULT_REQUEST_TIMEOUT,
            Some(t) => parse_duration(t).map_err(|e| invalid("requestTimeout", e.to_string()))?,
        };

        Ok(Self {
            url,
            pacing,
            duration,
            method,
            headers: parse_headers(get("headers").unwrap_or(""))?,
            // The body is sent as written, whitespace included.
            body: meta.get("body").filter(|b| !b.is_empty()).cloned(),
            request_timeout,
        })
    }

    /// A stable text form of everything that shapes the traffic, for de-duplication: the same test
    /// asked for again on the next analysis tick must map to the same key.
    pub fn identity(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}:{}", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        format!(
            "{} {} {} {:?} {:?} [{}] {}",
            self.method,
            self.url,
            self.pacing,
            self.duration,
            self.request_timeout,
            headers.join(","),
            self.body.as_deref().unwrap_or("")
        )
    }
}

fn parse_rate(text: &str) -> Result<f64, LoadSpecError> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        _ => Err(invalid(
            "rate",
            format!("{text:?} must be a number above 0 and at most {MAX_RATE}"),
        )),
    }
}

fn parse_concurrency(text: &str) -> Result<u32, LoadSpecError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(invalid(
            "concurrency",
            format!("{text:?} must be a whole number from 1 to {MAX_CONCURRENCY}"),
        )),
    }
}

/// `Name: value` pairs, one per line; on a single line, comma-separated. Lines win when both appear, so
/// a value that itself holds commas (`Accept: a, b`) can be written on its own line.
fn parse_headers(text: &str) -> Result<Vec<(HeaderName, HeaderValue)>, LoadSpecError> {
    let pieces: Vec<&str> = if text.contains('\n') {
        text.lines().collect()
    } else {
        text.split(',').collect()
    };
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let bad = || invalid("headers", format!("{pair:?} is not a `Name: value` header"));
            let (name, value) = pair.split_once(':').ok_or_else(bad)?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
            Ok((name, value))
        })
        .collect()
}
