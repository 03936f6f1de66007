//! `AlertProvider`: where a Canary's notifications go.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::LocalObjectRef;

#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "serin.dev",
    version = "v1beta1",
    kind = "AlertProvider",
    namespaced,
    category = "all",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.address) || has(self.secretRef)").message("an AlertProvider needs address or secretRef"))]
pub struct AlertProviderSpec {
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self in ['slack', 'msteams', 'discord', 'rocket', 'gchat', 'webhook']").message("type must be one of slack, msteams, discord, rocket, gchat, webhook"))]
    pub type_: String,
    /// Channel name; default `general`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Sender name; default `serin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Webhook URL (or put it under key `address` in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Secret with key `address` and optional `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
}
