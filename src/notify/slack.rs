//! Slack incoming webhooks: one legacy attachment, coloured by severity
//! (`good` / `warning` / `danger`), with the fields as attachment fields.
//! `channel` and `username` are sent too; webhooks created for one channel
//! ignore them, legacy ones honour them.

use serde_json::{Value, json};

use super::{Envelope, Notification};
use crate::api::AlertSeverity;

pub fn payload(env: &Envelope, n: &Notification) -> Value {
    let color = match n.severity {
        AlertSeverity::Info => "good",
        AlertSeverity::Warn => "warning",
        AlertSeverity::Error => "danger",
    };
    let fields = super::attachment_fields(n);
    json!({
        "channel": env.channel,
        "username": env.username,
        "attachments": [{
            "color": color,
            "author_name": n.title,
            // Shown where attachments cannot be (notifications, old clients).
            "fallback": format!("{}: {}", n.title, n.message),
            "text": n.message,
            "fields": fields,
            "mrkdwn_in": ["text"],
            "ts": env.timestamp.as_second(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;

    #[test]
    fn one_coloured_attachment_with_fields() {
        let body = payload(&envelope(), &notification(AlertSeverity::Info));
        assert_eq!(body["channel"], "deploys");
        assert_eq!(body["username"], "serin");
        let a = &body["attachments"][0];
        assert_eq!(a["color"], "good");
        assert_eq!(a["author_name"], "podinfo.test");
        assert_eq!(a["text"], "Canary analysis completed successfully, promotion finished.");
        assert_eq!(a["fields"][0]["title"], "Target");
        assert_eq!(a["fields"][0]["value"], "Deployment/podinfo.test");
        assert_eq!(a["ts"], 1_700_000_000);
    }

    #[test]
    fn colours_follow_severity() {
        let color = |s| payload(&envelope(), &notification(s))["attachments"][0]["color"].clone();
        assert_eq!(color(AlertSeverity::Warn), "warning");
        assert_eq!(color(AlertSeverity::Error), "danger");
    }
}
