//! The `x-kubernetes-validations` (CEL) rules of serin's CRDs, evaluated
//! offline by Rust equivalents, one per rule text.
//!
//! No CEL interpreter: serin's rules use Kubernetes' list extensions
//! (`isSorted`, `indexOf`, `lastIndexOf`) that general CEL crates lack, and
//! there are few of them. A rule without an equivalent here is reported as
//! "not checked offline" rather than passed silently, and a unit test fails
//! when the generated CRDs gain a rule this table does not know.

use serde_json::Value;

type Check = fn(&Value) -> bool;

const PROVIDER_PATTERN: &str = r"^(gatewayapi(:v1|:v1beta1)?|kubernetes|linkerd|istio|smi(:v1alpha[123])?(:[a-z0-9-]+)?|nginx|contour|gloo|traefik|skipper|apisix|kuma|osm|appmesh(:v1beta2)?|knative)$";

const RULES: &[(&str, Check)] = &[
    (
        "!has(self.min) || !has(self.max) || self.min <= self.max",
        |v| match (num(v, "min"), num(v, "max")) {
            (Some(min), Some(max)) => min <= max,
            _ => true,
        },
    ),
    ("self == 'FullPath' || self == 'PrefixMatch'", |v| {
        matches!(v.as_str(), Some("FullPath" | "PrefixMatch"))
    }),
    (
        "!has(self.deadline) || (has(self.type) && self.type in ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'])",
        |v| {
            !has(v, "deadline")
                || matches!(
                    str_field(v, "type"),
                    Some("confirm-rollout" | "confirm-traffic-increase" | "confirm-promotion")
                )
        },
    ),
    ("!has(self.onDeadline) || has(self.deadline)", |v| {
        !has(v, "onDeadline") || has(v, "deadline")
    }),
    (
        "self.name in ['request-success-rate', 'request-duration'] || has(self.templateRef) || has(self.query)",
        |v| {
            matches!(
                str_field(v, "name"),
                Some("request-success-rate" | "request-duration")
            ) || has(v, "templateRef")
                || has(v, "query")
        },
    ),
    ("self == 'Deployment'", |v| v.as_str() == Some("Deployment")),
    ("self == 'HorizontalPodAutoscaler'", |v| {
        v.as_str() == Some("HorizontalPodAutoscaler")
    }),
    (
        "self in ['prometheus', 'influxdb', 'datadog', 'externalmetrics', 'stackdriver', 'cloudwatch', 'newrelic', 'graphite', 'dynatrace', 'keptn', 'splunk']",
        |v| {
            matches!(
                v.as_str(),
                Some(
                    "prometheus"
                        | "influxdb"
                        | "datadog"
                        | "externalmetrics"
                        | "stackdriver"
                        | "cloudwatch"
                        | "newrelic"
                        | "graphite"
                        | "dynatrace"
                        | "keptn"
                        | "splunk"
                )
            )
        },
    ),
    ("self.all(w, w >= 1 && w <= 100)", |v| {
        ints(v).is_some_and(|w| w.iter().all(|w| (1..=100).contains(w)))
    }),
    (
        "self.isSorted() && self.all(w, self.indexOf(w) == self.lastIndexOf(w))",
        // Sorted with no duplicates is strictly increasing.
        |v| ints(v).is_some_and(|w| w.windows(2).all(|p| p[0] < p[1])),
    ),
    ("size(self) > 0", |v| match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }),
    ("!(has(self.stepWeight) && has(self.stepWeights))", |v| {
        !(has(v, "stepWeight") && has(v, "stepWeights"))
    }),
    (
        "has(self.stepWeight) || has(self.stepWeights) || has(self.iterations)",
        |v| has(v, "stepWeight") || has(v, "stepWeights") || has(v, "iterations"),
    ),
    (
        "self in ['slack', 'msteams', 'discord', 'rocket', 'gchat', 'webhook']",
        |v| {
            matches!(
                v.as_str(),
                Some("slack" | "msteams" | "discord" | "rocket" | "gchat" | "webhook")
            )
        },
    ),
    (
        "self.matches('^(gatewayapi(:v1|:v1beta1)?|kubernetes|linkerd|istio|smi(:v1alpha[123])?(:[a-z0-9-]+)?|nginx|contour|gloo|traefik|skipper|apisix|kuma|osm|appmesh(:v1beta2)?|knative)$')",
        |v| {
            v.as_str()
                .is_some_and(|s| regex::Regex::new(PROVIDER_PATTERN).is_ok_and(|re| re.is_match(s)))
        },
    ),
    ("has(self.address) || has(self.secretRef)", |v| {
        has(v, "address") || has(v, "secretRef")
    }),
];

/// The rule's verdict on `value`, or `None` for a rule with no equivalent here.
pub fn evaluate(rule: &str, value: &Value) -> Option<bool> {
    RULES
        .iter()
        .find(|(text, _)| *text == rule)
        .map(|(_, check)| check(value))
}

/// Every rule text this module can evaluate.
pub fn known_rules() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(text, _)| *text)
}

// CEL's `has()` is false for an absent field; a null one is pruned by the API server first.
fn has(v: &Value, field: &str) -> bool {
    v.get(field).is_some_and(|f| !f.is_null())
}

fn str_field<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn num(v: &Value, field: &str) -> Option<f64> {
    v.get(field).and_then(Value::as_f64)
}

fn ints(v: &Value) -> Option<Vec<i64>> {
    v.as_array()?.iter().map(Value::as_i64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Collects every CEL rule text from a schema.
    fn rules_in(schema: &Value, out: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                    out.extend(
                        rules
                            .iter()
                            .filter_map(|r| r.get("rule")?.as_str().map(str::to_string)),
                    );
                }
                map.values().for_each(|v| rules_in(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| rules_in(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_rule_in_the_generated_crds_has_an_offline_equivalent() {
        let mut rules = Vec::new();
        for kind in ["Canary", "MetricTemplate", "AlertProvider"] {
            let schema = crate::plugin::schema::for_kind(kind).expect("schema");
            rules_in(&schema, &mut rules);
        }
        assert!(rules.len() >= 10, "found only {} rules", rules.len());
        for rule in rules {
            assert!(
                known_rules().any(|k| k == rule),
                "CRD rule without an offline equivalent in plugin/cel.rs: {rule}"
            );
        }
    }

    #[test]
    fn step_weights_must_strictly_increase() {
        let rule = "self.isSorted() && self.all(w, self.indexOf(w) == self.lastIndexOf(w))";
        assert_eq!(evaluate(rule, &json!([5, 10, 50])), Some(true));
        assert_eq!(evaluate(rule, &json!([10, 10, 50])), Some(false));
        assert_eq!(evaluate(rule, &json!([20, 10])), Some(false));
    }

    #[test]
    fn unknown_rules_are_not_passed_silently() {
        assert_eq!(evaluate("self.foo == 1", &json!({})), None);
    }
}
