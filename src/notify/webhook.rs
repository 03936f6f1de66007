//! A generic JSON webhook for anything else (an incident tool, a bot):
//! `{name, namespace, severity, title, message, fields: {label: value}, timestamp}`.

use serde_json::{Map, Value, json};

use super::{Envelope, Notification, severity_name};

pub fn payload(env: &Envelope, n: &Notification) -> Value {
    let fields: Map<String, Value> = n
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "name": env.name,
        "namespace": env.namespace,
        "severity": severity_name(n.severity),
        "title": n.title,
        "message": n.message,
        "fields": fields,
        "timestamp": env.timestamp.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{envelope, notification};
    use super::*;
    use crate::api::AlertSeverity;

    #[test]
    fn flat_json() {
        let body = payload(&envelope(), &notification(AlertSeverity::Error));
        assert_eq!(
            body,
            json!({
                "name": "podinfo",
                "namespace": "test",
                "severity": "error",
                "title": "podinfo.test",
                "message": "Canary analysis completed successfully, promotion finished.",
                "fields": {"Target": "Deployment/podinfo.test"},
                "timestamp": "2023-11-14T22:13:20Z",
            })
        );
    }
}
