//! Notifications: the few rollout events a team wants to hear about,
//! formatted for chat services (`analysis.alerts` → AlertProvider).
//!
//! [`from_event`] picks and words them (pure); one module per AlertProvider
//! type formats the payload (pure); [`Notifier`] reads the AlertProviders and
//! their Secrets and posts.

mod message;
mod notifier;

use jiff::Timestamp;
use serde_json::Value;

pub use message::from_event;
pub use notifier::{Notifier, NotifyError, SendOutcome};

use crate::api::AlertSeverity;

/// One notification, independent of where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub severity: AlertSeverity,
    /// `<canary>.<namespace>`, as Flagger titles its messages.
    pub title: String,
    pub message: String,
    /// Label → value, shown in order.
    pub fields: Vec<(String, String)>,
}

/// What a payload needs besides the notification: who sends it, about what, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub name: String,
    pub namespace: String,
    /// AlertProvider `channel`; default `general`.
    pub channel: String,
    /// AlertProvider `username`; default `serin`.
    pub username: String,
    pub timestamp: Timestamp,
}

pub const DEFAULT_CHANNEL: &str = "general";
pub const DEFAULT_USERNAME: &str = "serin";

/// Builds the JSON body a provider type expects.
type Format = fn(&Envelope, &Notification) -> Value;

// Each type is a module named like the AlertProvider `type` with a
// `payload` function: adding one is a new file and a name in this list.
macro_rules! formats {
    ($($type_:ident),* $(,)?) => {
        $(mod $type_;)*
        const FORMATS: &[(&str, Format)] = &[$((stringify!($type_), $type_::payload)),*];
    };
}
formats!(slack, msteams, discord, gchat, rocket, webhook);

/// The payload builder of an AlertProvider `type`, if serin knows it.
pub fn format_for(type_: &str) -> Option<Format> {
    FORMATS
        .iter()
        .find(|(name, _)| *name == type_)
        .map(|(_, format)| *format)
}

fn rank(severity: AlertSeverity) -> u8 {
    match severity {
        AlertSeverity::Info => 0,
        AlertSeverity::Warn => 1,
        AlertSeverity::Error => 2,
    }
}

/// An alert of severity `alert` receives notifications of its severity and above:
/// `info` everything, `warn` warnings and errors, `error` errors only.
pub fn admits(alert: AlertSeverity, notification: AlertSeverity) -> bool {
    rank(notification) >= rank(alert)
}

/// The notification's fields as Slack-style attachment fields, which
/// Rocket.Chat reads the same way.
fn attachment_fields(n: &Notification) -> Vec<serde_json::Value> {
    n.fields
        .iter()
        .map(|(title, value)| serde_json::json!({"title": title, "value": value, "short": false}))
        .collect()
}

pub fn severity_name(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Info => "info",
        AlertSeverity::Warn => "warn",
        AlertSeverity::Error => "error",
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn envelope() -> Envelope {
        Envelope {
            name: "podinfo".into(),
            namespace: "test".into(),
            channel: "deploys".into(),
            username: "serin".into(),
            timestamp: Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    pub fn notification(severity: AlertSeverity) -> Notification {
        Notification {
            severity,
            title: "podinfo.test".into(),
            message: "Canary analysis completed successfully, promotion finished.".into(),
            fields: vec![("Target".into(), "Deployment/podinfo.test".into())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_type_has_a_format() {
        for type_ in ["slack", "msteams", "discord", "rocket", "gchat", "webhook"] {
            assert!(format_for(type_).is_some(), "{type_}");
        }
        assert!(format_for("pagerduty").is_none());
    }

    #[test]
    fn alert_severity_admits_itself_and_above() {
        use AlertSeverity::*;
        assert!(admits(Info, Info) && admits(Info, Warn) && admits(Info, Error));
        assert!(!admits(Warn, Info) && admits(Warn, Warn) && admits(Warn, Error));
        assert!(!admits(Error, Info) && !admits(Error, Warn) && admits(Error, Error));
    }
}
