//! The Flagger webhook payload and the task its `metadata` asks for.
//!
//! Parsing is strict where a mistake would otherwise run the wrong thing (an unknown `type`, a load test
//! without a duration) and lenient where Flagger is (`type` may be omitted when `cmd` is given).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::load::{LoadSpec, LoadSpecError};

/// What Canary webhooks POST. Only `name` and `namespace` are required: gate endpoints receive nothing
/// else from `kubectl`/`curl` users, and Flagger omits `metadata` when it is empty.
#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub checksum: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Payload {
    /// `<name>.<namespace>`, the canary's identity in gate keys, dedup keys and the `canary` metric label.
    pub fn canary(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }

    /// Rejects names that could not be Kubernetes object names. Gate keys become ConfigMap keys, which
    /// allow only `[-._a-zA-Z0-9]`, so an arbitrary string must not get that far.
    pub fn validate(&self) -> Result<(), PayloadError> {
        for (field, value) in [("name", &self.name), ("namespace", &self.namespace)] {
            let valid = !value.is_empty()
                && value.len() <= 253
                && value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !valid {
                return Err(PayloadError::InvalidName {
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    fn flag(&self, key: &str) -> bool {
        self.metadata.get(key).is_some_and(|v| v == "true")
    }
}

/// One unit of work requested through `POST /`.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// `sh -c`, in the background; the caller gets 202 at once.
    Cmd { command: String, log_output: bool },
    /// `bash -c`, awaited; the caller learns the result from the status code.
    Bash { command: String, return_output: bool },
    /// The built-in HTTP load generator, in the background.
    Load(LoadSpec),
}

impl Task {
    /// The `type` label of metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Cmd { .. } => "cmd",
            Task::Bash { .. } => "bash",
            Task::Load(_) => "load",
        }
    }

    /// Reads the task out of a payload's metadata.
    pub fn from_payload(payload: &Payload, default_timeout: Duration) -> Result<Self, PayloadError> {
        let meta = &payload.metadata;
        let command = || {
            meta.get("cmd")
                .filter(|c| !c.trim().is_empty())
                .cloned()
                .ok_or(PayloadError::MissingCmd)
        };
        match meta.get("type").map(String::as_str).unwrap_or("") {
            // Flagger treats an empty type as `cmd`; without a cmd there is nothing to run.
            "" | "cmd" => Ok(Task::Cmd {
                command: command()?,
                log_output: payload.flag("logCmdOutput"),
            }),
            "bash" => Ok(Task::Bash {
                command: command()?,
                return_output: payload.flag("returnCmdOutput"),
            }),
            "load" => Ok(Task::Load(LoadSpec::from_metadata(meta, default_timeout)?)),
            other => Err(PayloadError::UnknownType(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid JSON payload: {0}")]
    Json(String),
    #[error("{field} {value:?} is not a valid Kubernetes name")]
    InvalidName { field: &'static str, value: String },
    #[error("metadata.cmd is required for this task type")]
    MissingCmd,
    #[error("unknown metadata.type {0:?}: use cmd, bash or load")]
    UnknownType(String),
    #[error(transparent)]
    Load(#[from] LoadSpecError),
}

/// Parses a request body, so that bad JSON is a 400 with serde's message rather than axum's default.
pub fn parse(body: &[u8]) -> Result<Payload, PayloadError> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| PayloadError::Json(e.to_string()))?;
    payload.validate()?;
    Ok(payload)
}
