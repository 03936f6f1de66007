//! Microsoft Teams, through a Workflows (Power Automate) "when a Teams
//! webhook request is received" flow: a message with one Adaptive Card
//! (schema 1.4). Workflows accept only Adaptive Cards; the older
//! MessageCard belonged to the retired Office 365 connectors.

use serde_json::{Value, json};

use super::{Envelope, Notification};
use crate::api::AlertSeverity;

pub fn payload(_env: &Envelope, n: &Notification) -> Value {
    let color = match n.severity {
        AlertSeverity::Info => "Good",
        AlertSeverity::Warn => "Warning",
        AlertSeverity::Error => "Attention",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": n.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
        json!({"type": "TextBlock", "text": n.message, "wrap": true}),
    ];
    if !n.fields.is_empty() {
        let facts: Vec<Value> = n
            .fields
            .iter()
            .map(|(title, value)| json!({"title": title, "value": value}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;

    #[test]
    fn an_adaptive_card_with_a_fact_set() {
        let body = payload(&envelope(), &notification(AlertSeverity::Error));
        assert_eq!(body["type"], "message");
        let a = &body["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["text"], "podinfo.test");
        assert_eq!(card["body"][0]["color"], "Attention");
        assert_eq!(card["body"][1]["text"], "Canary analysis completed successfully, promotion finished.");
        assert_eq!(card["body"][2]["type"], "FactSet");
        assert_eq!(card["body"][2]["facts"][0]["title"], "Target");
    }

    #[test]
    fn no_fact_set_without_fields() {
        let mut n = notification(AlertSeverity::Info);
        n.fields.clear();
        let body = payload(&envelope(), &n);
        let blocks = body["attachments"][0]["content"]["body"].as_array().map(Vec::len);
        assert_eq!(blocks, Some(2));
    }
}
