//! Google Chat incoming webhooks: one `cardsV2` card whose header is the
//! title and severity, with the message as a paragraph and each field as
//! labelled text. Card text takes a little HTML, so ours is escaped.

use serde_json::{Value, json};

use super::{Envelope, Notification, severity_name};

pub fn payload(_env: &Envelope, n: &Notification) -> Value {
    let mut widgets = vec![json!({"textParagraph": {"text": escape(&n.message)}})];
    widgets.extend(
        n.fields
            .iter()
            .map(|(label, value)| json!({"decoratedText": {"topLabel": escape(label), "text": escape(value), "wrapText": true}})),
    );
    json!({
        "cardsV2": [{
            "cardId": "serin-notification",
            "card": {
                "header": {"title": n.title, "subtitle": severity_name(n.severity)},
                "sections": [{"widgets": widgets}],
            },
        }],
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;
    use crate::api::AlertSeverity;

    #[test]
    fn a_card_with_header_paragraph_and_fields() {
        let body = payload(&envelope(), &notification(AlertSeverity::Warn));
        let card = &body["cardsV2"][0]["card"];
        assert_eq!(card["header"]["title"], "podinfo.test");
        assert_eq!(card["header"]["subtitle"], "warn");
        let widgets = &card["sections"][0]["widgets"];
        assert_eq!(
            widgets[0]["textParagraph"]["text"],
            "Canary analysis completed successfully, promotion finished."
        );
        assert_eq!(widgets[1]["decoratedText"]["topLabel"], "Target");
        assert_eq!(widgets[1]["decoratedText"]["text"], "Deployment/podinfo.test");
    }

    #[test]
    fn html_is_escaped() {
        let mut n = notification(AlertSeverity::Error);
        n.message = "latency <b>5s</b> & more".into();
        let body = payload(&envelope(), &n);
        assert_eq!(
            body["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"],
            "latency &lt;b&gt;5s&lt;/b&gt; &amp; more"
        );
    }
}
