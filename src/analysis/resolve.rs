//! From a Canary's metric to a plan: the query to send, the server and credentials to send it
//! with, and the request-count query of the `minRequests` gate.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use super::builtin::{BuiltinQuery, builtin_query, request_count_query};
use super::error::MetricError;
use super::provider::{Credentials, DEFAULT_TIMEOUT, ProviderConfig, QueryError};
use super::template::{TemplateVars, collapse_whitespace, render};
use crate::api::{Canary, CanaryMetric, MetricProviderSpec, MetricTemplate};

/// Query window when the metric sets none.
pub const DEFAULT_INTERVAL: &str = "1m";

/// A stuck API server must not hold the whole analysis step.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// How one metric is measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The query as sent (rendered, whitespace collapsed).
    pub query: String,
    /// For builtins: how the result becomes the metric's value.
    pub builtin: Option<BuiltinQuery>,
    pub config: ProviderConfig,
    pub gate: Option<Gate>,
}

/// The `minRequests` gate: how many requests the canary must have had before the metric is judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub required: i64,
    /// The query counting the canary's requests within `interval`.
    pub query: String,
    pub interval: String,
}

/// The variables a query is rendered with, for `metric` of `canary`.
pub fn template_vars(canary: &Canary, metric: &CanaryMetric) -> TemplateVars {
    let target = canary.spec.target_ref.name.clone();
    TemplateVars {
        name: canary.name_any(),
        namespace: namespace(canary),
        service: crate::router::apex_name(canary).to_string(),
        // serin has no ingressRef/routeRef; Flagger falls back to the target's name for both.
        ingress: target.clone(),
        route: target.clone(),
        target,
        interval: metric
            .interval
            .as_ref()
            .map(|i| i.0.clone())
            .unwrap_or_else(|| DEFAULT_INTERVAL.to_string()),
        variables: metric.template_variables.clone(),
    }
}

/// The Canary's namespace; `default`, as Kubernetes would, for one built without.
pub fn namespace(canary: &Canary) -> String {
    canary.namespace().unwrap_or_else(|| "default".to_string())
}

/// The Canary's traffic provider, else the controller's.
pub fn provider_name<'a>(canary: &'a Canary, default_provider: &'a str) -> &'a str {
    non_empty(canary.spec.provider.as_deref()).unwrap_or(default_provider)
}

/// The Prometheus of builtin and inline metrics: `spec.metricsServer`, else the controller's.
pub fn canary_server(canary: &Canary, default_server: &str) -> String {
    non_empty(canary.spec.metrics_server.as_deref())
        .unwrap_or(default_server)
        .to_string()
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The query of a builtin or inline metric; `Ok(None)` for a `templateRef` metric, whose query
/// lives in the MetricTemplate. Inline queries are sent as written, as in Flagger.
pub fn query_for(
    canary: &Canary,
    metric: &CanaryMetric,
    default_provider: &str,
) -> Result<Option<(String, Option<BuiltinQuery>)>, MetricError> {
    if metric.template_ref.is_some() {
        return Ok(None);
    }
    if let Some(query) = &metric.query {
        return Ok(Some((collapse_whitespace(query), None)));
    }
    let provider = provider_name(canary, default_provider);
    let builtin = builtin_query(provider, &metric.name)?.ok_or_else(|| MetricError::NoQuery {
        metric: metric.name.clone(),
    })?;
    let query = render(&metric.name, builtin.template, &template_vars(canary, metric))?;
    Ok(Some((query, Some(builtin))))
}

/// The `minRequests` gate of `metric`, if it has one.
pub fn gate_for(
    canary: &Canary,
    metric: &CanaryMetric,
    default_provider: &str,
) -> Result<Option<Gate>, MetricError> {
    let Some(required) = metric.min_requests.filter(|&n| n > 0) else {
        return Ok(None);
    };
    let provider = provider_name(canary, default_provider);
    let template = request_count_query(provider).ok_or_else(|| MetricError::NoRequestCounter {
        provider: provider.to_string(),
    })?;
    let vars = template_vars(canary, metric);
    Ok(Some(Gate {
        required,
        query: render(&metric.name, template, &vars)?,
        interval: vars.interval,
    }))
}

/// A MetricTemplate's provider settings, with `address` falling back to `fallback_server`.
pub fn provider_config(
    spec: &MetricProviderSpec,
    fallback_server: &str,
    credentials: Credentials,
) -> Result<ProviderConfig, QueryError> {
    let timeout = match &spec.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => t
            .parse()
            .map_err(|e| QueryError::InvalidConfig(format!("provider timeout: {e}")))?,
    };
    Ok(ProviderConfig {
        type_: spec.type_.clone(),
        address: non_empty(spec.address.as_deref())
            .unwrap_or(fallback_server)
            .to_string(),
        credentials,
        headers: spec.headers.clone(),
        insecure_skip_verify: spec.insecure_skip_verify,
        timeout,
    })
}

/// Credentials from a Secret's data: `token` (bearer), else `username` and `password` (basic).
pub fn credentials_from(data: &BTreeMap<String, ByteString>) -> Result<Credentials, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        let Some(ByteString(bytes)) = data.get(key) else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes.clone()).map_err(|_| format!("key {key} is not UTF-8 text"))?;
        // `kubectl create secret --from-file` keeps the file's final newline.
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
    };
    if let Some(token) = text("token")?.filter(|t| !t.is_empty()) {
        return Ok(Credentials::Bearer(token));
    }
    match (text("username")?, text("password")?) {
        (Some(username), Some(password)) => Ok(Credentials::Basic { username, password }),
        (Some(_), None) => Err("has a username key but no password key".to_string()),
        (None, Some(_)) => Err("has a password key but no username key".to_string()),
        (None, None) => Err("has neither a token key nor username and password keys".to_string()),
    }
}

/// Everything needed to measure `metric`, reading its MetricTemplate and Secret from the API.
pub async fn plan(
    client: &Client,
    canary: &Canary,
    metric: &CanaryMetric,
    default_provider: &str,
    default_server: &str,
) -> Result<Plan, MetricError> {
    let server = canary_server(canary, default_server);
    let gate = gate_for(canary, metric, default_provider)?;
    if let Some((query, builtin)) = query_for(canary, metric, default_provider)? {
        return Ok(Plan {
            query,
            builtin,
            config: ProviderConfig::prometheus(server),
            gate,
        });
    }
    let Some(reference) = &metric.template_ref else {
        return Err(MetricError::NoQuery {
            metric: metric.name.clone(),
        });
    };
    let template_ns = non_empty(reference.namespace.as_deref())
        .map(str::to_string)
        .unwrap_or_else(|| namespace(canary));
    let template = get::<MetricTemplate>(client, &template_ns, &reference.name, "MetricTemplate")
        .await?
        .ok_or_else(|| MetricError::TemplateNotFound {
            metric: metric.name.clone(),
            namespace: template_ns.clone(),
            name: reference.name.clone(),
        })?;
    let query = render(&metric.name, &template.spec.query, &template_vars(canary, metric))?;
    let provider = &template.spec.provider;
    let credentials = match &provider.secret_ref {
        None => Credentials::None,
        Some(secret_ref) => {
            let template_name = format!("{template_ns}/{}", reference.name);
            let secret = get::<Secret>(client, &template_ns, &secret_ref.name, "Secret")
                .await?
                .ok_or_else(|| MetricError::SecretNotFound {
                    template: template_name.clone(),
                    namespace: template_ns.clone(),
                    name: secret_ref.name.clone(),
                })?;
            credentials_from(&secret.data.unwrap_or_default()).map_err(|problem| {
                MetricError::SecretInvalid {
                    template: template_name,
                    namespace: template_ns.clone(),
                    name: secret_ref.name.clone(),
                    problem,
                }
            })?
        }
    };
    Ok(Plan {
        query,
        builtin: None,
        config: provider_config(provider, &server, credentials)?,
        gate,
    })
}

async fn get<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    kind: &'static str,
) -> Result<Option<K>, MetricError>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let failed = |message: String| MetricError::Api {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        message,
    };
    match tokio::time::timeout(API_TIMEOUT, api.get_opt(name)).await {
        Err(_) => Err(failed(format!(
            "no answer from the API server within {API_TIMEOUT:?}"
        ))),
        Ok(Err(err)) => Err(failed(crate::error::chain(&err))),
        Ok(Ok(object)) => Ok(object),
    }
}
