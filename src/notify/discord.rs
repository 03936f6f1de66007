//! Discord webhooks, native format: one embed coloured by severity, the
//! fields as embed fields. (Flagger posts Slack JSON to Discord's `/slack`
//! endpoint instead; native embeds need no URL rewriting and render fully.)
//! Discord binds a webhook to its channel, so `channel` is not sent.

use serde_json::{Value, json};

use super::{Envelope, Notification};
use crate::api::AlertSeverity;

// Discord rejects embeds over these sizes.
const MAX_FIELDS: usize = 25;
const MAX_NAME: usize = 256;
const MAX_VALUE: usize = 1024;
const MAX_DESCRIPTION: usize = 4096;

pub fn payload(env: &Envelope, n: &Notification) -> Value {
    let color = match n.severity {
        AlertSeverity::Info => 0x2e_b8_86,
        AlertSeverity::Warn => 0xda_a0_38,
        AlertSeverity::Error => 0xa3_02_00,
    };
    let fields: Vec<Value> = n
        .fields
        .iter()
        .take(MAX_FIELDS)
        .map(|(name, value)| {
            json!({"name": clip(name, MAX_NAME), "value": clip(value, MAX_VALUE), "inline": false})
        })
        .collect();
    json!({
        "username": env.username,
        "embeds": [{
            "title": clip(&n.title, MAX_NAME),
            "description": clip(&n.message, MAX_DESCRIPTION),
            "color": color,
            "fields": fields,
            "timestamp": env.timestamp.to_string(),
        }],
    })
}

/// At most `max` characters (Discord counts characters, not bytes).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max - 1).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;

    #[test]
    fn one_embed_with_fields() {
        let body = payload(&envelope(), &notification(AlertSeverity::Warn));
        assert_eq!(body["username"], "serin");
        let e = &body["embeds"][0];
        assert_eq!(e["title"], "podinfo.test");
        assert_eq!(e["description"], "Canary analysis completed successfully, promotion finished.");
        assert_eq!(e["color"], 0xdaa038);
        assert_eq!(e["fields"][0]["name"], "Target");
        assert_eq!(e["fields"][0]["value"], "Deployment/podinfo.test");
        assert_eq!(e["timestamp"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn oversized_parts_are_clipped() {
        let mut n = notification(AlertSeverity::Error);
        n.fields = (0..30).map(|i| (format!("f{i}"), "v".repeat(2000))).collect();
        let body = payload(&envelope(), &n);
        let fields = body["embeds"][0]["fields"].as_array().cloned().unwrap_or_default();
        assert_eq!(fields.len(), MAX_FIELDS);
        let value = fields[0]["value"].as_str().unwrap_or_default();
        assert_eq!(value.chars().count(), MAX_VALUE);
        assert!(value.ends_with('…'));
    }
}
