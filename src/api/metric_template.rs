//! `MetricTemplate`: a reusable query with Flagger's template variables.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DurationString;

#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "serin.dev",
    version = "v1beta1",
    kind = "MetricTemplate",
    namespaced,
    category = "all",
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".spec.provider.type"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MetricTemplateSpec {
    pub provider: MetricProviderSpec,
    /// The query, with `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`,
    /// `{{ interval }}` and `{{ variables.<key> }}`.
    #[schemars(length(min = 1))]
    pub query: String,
}

#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricProviderSpec {
    /// Provider type; serin implements `prometheus`.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self in ['prometheus', 'influxdb', 'datadog', 'externalmetrics', 'stackdriver', 'cloudwatch', 'newrelic', 'graphite', 'dynatrace', 'keptn', 'splunk']").message("unknown metric provider type"))]
    pub type_: String,
    /// Server URL; defaults to the controller's `--metrics-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Secret with credentials (`token`, or `username` and `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// Extra HTTP headers sent with each query.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// Query timeout. Default 5s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationString>,
}

#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalObjectRef {
    #[schemars(length(min = 1))]
    pub name: String,
}
