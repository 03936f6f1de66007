//! `promote`, `abort`, `retry`, `pause`, `resume`: operator requests through
//! the Canary's annotations. The token-valued ones get a fresh token each
//! time, because serin acts once per new value.

use std::process::ExitCode;

use jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::table;
use super::{PluginError, Target};
use crate::api::Canary;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Promote,
    Abort,
    Retry,
    Pause,
    Resume,
}

impl Action {
    fn annotation(self) -> &'static str {
        match self {
            Action::Promote => "serin.dev/promote",
            Action::Abort => "serin.dev/abort",
            Action::Retry => "serin.dev/retry",
            Action::Pause | Action::Resume => "serin.dev/pause",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Abort => "abort",
            Action::Retry => "retry",
            Action::Pause => "pause",
            Action::Resume => "resume",
        }
    }

    /// The annotation value to set, `null` to remove it.
    fn value(self, now: Timestamp) -> Value {
        match self {
            // Nanosecond timestamps: two requests never share a token.
            Action::Promote | Action::Abort | Action::Retry => json!(now.as_nanosecond().to_string()),
            Action::Pause => json!("true"),
            Action::Resume => Value::Null,
        }
    }
}

/// The merge patch carrying the request.
pub(crate) fn patch(action: Action, now: Timestamp) -> Value {
    json!({ "metadata": { "annotations": { action.annotation(): action.value(now) } } })
}

pub(crate) async fn run(target: &Target, name: &str, action: Action) -> Result<ExitCode, PluginError> {
    let api: Api<Canary> = Api::namespaced(target.client.clone(), &target.namespace);
    let body = patch(action, Timestamp::now());
    let canary = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .map_err(|source| PluginError::Api {
            action: "annotating",
            name: name.to_string(),
            source,
        })?;
    let status = canary.status.unwrap_or_default();
    let value = body["metadata"]["annotations"][action.annotation()].clone();
    let set = match value {
        Value::String(v) => format!("{}={v}", action.annotation()),
        _ => format!("{} removed", action.annotation()),
    };
    println!(
        "requested {} of canary {}/{name} ({set}); phase: {}, weight {}",
        action.verb(),
        target.namespace,
        table::phase_name(status.phase),
        table::weight(status.canary_weight)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_requests_get_fresh_values_and_resume_removes_pause() {
        let a = patch(Action::Abort, Timestamp::from_second(1).expect("time"));
        let b = patch(Action::Abort, Timestamp::from_second(2).expect("time"));
        assert_ne!(a, b);
        assert!(a["metadata"]["annotations"]["serin.dev/abort"].is_string());
        assert_eq!(
            patch(Action::Pause, Timestamp::UNIX_EPOCH)["metadata"]["annotations"]["serin.dev/pause"],
            "true"
        );
        assert!(
            patch(Action::Resume, Timestamp::UNIX_EPOCH)["metadata"]["annotations"]["serin.dev/pause"]
                .is_null()
        );
    }
}
