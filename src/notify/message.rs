//! Which events become notifications, and in what words. Flagger's
//! messages are kept so existing channel filters and habits still work.

use kube::ResourceExt;

use super::Notification;
use crate::api::{AlertSeverity, Canary, CanaryStatus, MetricCheck, Verdict, WebhookType};
use crate::rollout::Event;
use crate::rollout::settings::{self, Settings, Strategy};

/// The notification for `event`, if it is one users are alerted about.
/// `status` is the status written with the event (the gate waited on, the
/// checks that failed).
pub fn from_event(canary: &Canary, status: &CanaryStatus, event: &Event) -> Option<Notification> {
    let (severity, message, fields) = match event.reason.as_str() {
        "Initialized" => (
            AlertSeverity::Info,
            format!(
                "New {} detected, initialization completed.",
                canary.spec.target_ref.kind
            ),
            Vec::new(),
        ),
        "Progressing" | "Restarted" => (
            AlertSeverity::Info,
            "New revision detected, progressing canary analysis.".to_string(),
            rollout_fields(canary),
        ),
        "WaitingForGate" => return waiting(canary, status),
        "Succeeded" => (
            AlertSeverity::Info,
            "Canary analysis completed successfully, promotion finished.".to_string(),
            Vec::new(),
        ),
        // The event messages say what failed and what to do; a rollback's
        // starts with the revision, so it gets Flagger's lead-in.
        "RolledBack" => failure(Some("Canary analysis failed"), event, status),
        "PromotionFailed" | "RolloutNotConfirmed" | "InitializationFailed" => failure(None, event, status),
        _ => return None,
    };
    Some(Notification {
        severity,
        title: title(canary),
        message,
        fields,
    })
}

fn title(canary: &Canary) -> String {
    format!("{}.{}", canary.name_any(), canary.namespace().unwrap_or_default())
}

fn rollout_fields(canary: &Canary) -> Vec<(String, String)> {
    let spec = &canary.spec;
    let target = format!(
        "{}/{}.{}",
        spec.target_ref.kind,
        spec.target_ref.name,
        canary.namespace().unwrap_or_default()
    );
    let provider = spec
        .provider
        .clone()
        .unwrap_or_else(|| settings::DEFAULT_PROVIDER.to_string());
    // An invalid spec still gets its notification, with what can be said.
    let (threshold, routing) = match Settings::from_spec(spec) {
        Ok(s) => (s.threshold.to_string(), format!("{provider}, {}", routing(&s))),
        Err(_) => ("unknown (invalid analysis)".to_string(), provider),
    };
    vec![
        ("Target".to_string(), target),
        ("Failed checks threshold".to_string(), threshold),
        (
            "Progress deadline".to_string(),
            format!("{}s", settings::progress_deadline(spec).as_secs()),
        ),
        ("Traffic routing".to_string(), routing),
    ]
}

fn routing(s: &Settings) -> String {
    match s.strategy {
        Strategy::BlueGreen { iterations } if s.ab_testing => format!("A/B testing, {iterations} iterations"),
        Strategy::BlueGreen { iterations } => format!("blue/green, {iterations} iterations"),
        Strategy::Canary => {
            let steps: Vec<String> = s.steps.iter().map(|w| format!("{w}%")).collect();
            format!("weights {}", steps.join(" → "))
        }
    }
}

fn waiting(canary: &Canary, status: &CanaryStatus) -> Option<Notification> {
    let wait = status.waiting_for.as_ref();
    let kind = wait.map_or(WebhookType::ConfirmRollout, |w| w.type_);
    let closed: Vec<&str> = wait
        .map(|w| w.webhooks.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // muteAlert silences a gate that is expected to wait (a human approval).
    let muted = |name: &str| {
        canary
            .spec
            .analysis
            .webhooks
            .iter()
            .any(|h| h.name == name && h.type_ == kind && h.mute_alert)
    };
    if !closed.is_empty() && closed.iter().all(|name| muted(name)) {
        return None;
    }
    let message = match kind {
        WebhookType::ConfirmPromotion => "Canary promotion is waiting for approval.",
        WebhookType::ConfirmTrafficIncrease => "Canary traffic increase is waiting for approval.",
        _ => "Canary is waiting for approval.",
    };
    let mut fields = vec![("Gate".to_string(), kind.as_str().to_string())];
    if !closed.is_empty() {
        fields.push(("Webhooks".to_string(), closed.join(", ")));
    }
    Some(Notification {
        severity: AlertSeverity::Warn,
        title: title(canary),
        message: message.to_string(),
        fields,
    })
}

fn failure(
    lead: Option<&str>,
    event: &Event,
    status: &CanaryStatus,
) -> (AlertSeverity, String, Vec<(String, String)>) {
    let fields = status
        .last_analysis
        .iter()
        .map(|check| (check.name.clone(), check_summary(check)))
        .collect();
    let message = match lead {
        Some(lead) => format!("{lead}: {}", event.message),
        None => capitalised(&event.message),
    };
    (AlertSeverity::Error, message, fields)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `0.42 (range 0.5..1): Fail`.
fn check_summary(check: &MetricCheck) -> String {
    let value = check
        .value
        .map_or_else(|| "no value".to_string(), |v| v.to_string());
    let bound = |b: Option<f64>| b.map(|b| b.to_string()).unwrap_or_default();
    let verdict = match check.verdict {
        Verdict::Pass => "Pass",
        Verdict::Fail => "Fail",
        Verdict::Hold => "Hold",
    };
    format!(
        "{value} (range {}..{}): {verdict}",
        bound(check.min),
        bound(check.max)
    )
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
