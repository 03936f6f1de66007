//! Rocket.Chat incoming webhooks: Slack-like attachments, with the sender
//! name in `alias` and colours as hex (Rocket.Chat does not know Slack's
//! colour names).

use serde_json::{Value, json};

use super::{Envelope, Notification};
use crate::api::AlertSeverity;

pub fn payload(env: &Envelope, n: &Notification) -> Value {
    let color = match n.severity {
        AlertSeverity::Info => "#2eb886",
        AlertSeverity::Warn => "#daa038",
        AlertSeverity::Error => "#a30200",
    };
    let fields = super::attachment_fields(n);
    json!({
        "channel": format!("#{}", env.channel.trim_start_matches('#')),
        "alias": env.username,
        "text": n.title,
        "attachments": [{
            "color": color,
            "text": n.message,
            "fields": fields,
            "ts": env.timestamp.to_string(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;

    #[test]
    fn slack_like_attachment_with_alias_and_hex_colour() {
        let body = payload(&envelope(), &notification(AlertSeverity::Error));
        assert_eq!(body["channel"], "#deploys");
        assert_eq!(body["alias"], "serin");
        assert_eq!(body["text"], "podinfo.test");
        let a = &body["attachments"][0];
        assert_eq!(a["color"], "#a30200");
        assert_eq!(a["text"], "Canary analysis completed successfully, promotion finished.");
        assert_eq!(a["fields"][0]["title"], "Target");
        assert_eq!(a["ts"], "2023-11-14T22:13:20Z");
    }
}
