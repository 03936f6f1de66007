//! Routing objects reduced to what the simulator needs: an ordered list of
//! rules, each with the requests it matches and the `(primary, canary)`
//! weights it splits them by, and which rule a simulated request takes.
//!
//! Simulated requests differ only in one optional header (an A/B header or
//! a cookie), so only header conditions are evaluated: a path, method or
//! authority condition is taken to match (every request is `GET /` to the
//! apex host), a query-parameter or sourceLabels condition never does (no
//! request has them). The first matching rule wins, which is how Istio
//! picks; Gateway API picks the most specific, which for serin's routes (the
//! header rules come first) is the same.

use regex::Regex;
use serde_json::Value;

/// A request's one optional header, `(name, value)`.
pub type Header<'a> = Option<(&'a str, &'a str)>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// Alternatives, any of which admits a request; none means all requests.
    pub matches: Vec<Vec<Condition>>,
    pub weights: (i64, i64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Header {
        name: String,
        test: Test,
    },
    /// A condition no simulated request meets.
    Never,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// Full match, as Envoy evaluates RE2.
    Regex(String),
}

impl Test {
    fn accepts(&self, value: &str) -> bool {
        match self {
            Test::Exact(v) => value == v,
            Test::Prefix(v) => value.starts_with(v.as_str()),
            Test::Suffix(v) => value.ends_with(v.as_str()),
            Test::Regex(re) => Regex::new(&format!("^(?:{re})$")).is_ok_and(|re| re.is_match(value)),
        }
    }
}

impl Condition {
    fn accepts(&self, header: Header<'_>) -> bool {
        match self {
            Condition::Header { name, test } => {
                header.is_some_and(|(n, v)| n.eq_ignore_ascii_case(name) && test.accepts(v))
            }
            Condition::Never => false,
        }
    }
}

impl Rule {
    fn admits(&self, header: Header<'_>) -> bool {
        self.matches.is_empty() || self.matches.iter().any(|m| m.iter().all(|c| c.accepts(header)))
    }
}

/// The weights a request with `header` is split by: the first rule that
/// admits it; `(0, 0)` (nobody) when none does.
pub(crate) fn weights_for(rules: &[Rule], header: Header<'_>) -> (i64, i64) {
    rules
        .iter()
        .find(|r| r.admits(header))
        .map_or((0, 0), |r| r.weights)
}

/// `None` unless some rule sends traffic to a `-primary` or `-canary` backend:
/// an object that does not, is not serin's split.
fn routes_to_workloads(rules: Vec<Rule>, any_backend: bool) -> Option<Vec<Rule>> {
    any_backend.then_some(rules)
}

fn ends_with(name: Option<&str>, part: &str) -> bool {
    name.is_some_and(|n| n.ends_with(part))
}

/// An HTTPRoute's rules.
pub(crate) fn http_route_rules(data: &Value) -> Option<Vec<Rule>> {
    let mut any = false;
    let rules = data.pointer("/spec/rules")?.as_array()?;
    let rules = rules
        .iter()
        .map(|rule| {
            let backends = rule
                .get("backendRefs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let weight_of = |part: &str| {
                backends
                    .iter()
                    .find(|b| ends_with(b.get("name").and_then(Value::as_str), part))
                    .map(|b| b.get("weight").and_then(Value::as_i64).unwrap_or(1))
            };
            let (primary, canary) = (weight_of("-primary"), weight_of("-canary"));
            any |= primary.is_some() || canary.is_some();
            let matches = rule
                .get("matches")
                .and_then(Value::as_array)
                .map(|ms| ms.iter().map(gateway_match).collect())
                .unwrap_or_default();
            Rule {
                matches,
                weights: (primary.unwrap_or(0), canary.unwrap_or(0)),
            }
        })
        .collect();
    routes_to_workloads(rules, any)
}

fn gateway_match(m: &Value) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for header in m.get("headers").and_then(Value::as_array).into_iter().flatten() {
        let name = header
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let value = header
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let test = match header.get("type").and_then(Value::as_str) {
            Some("RegularExpression") => Test::Regex(value),
            _ => Test::Exact(value),
        };
        conditions.push(Condition::Header { name, test });
    }
    if m.get("queryParams")
        .and_then(Value::as_array)
        .is_some_and(|q| !q.is_empty())
    {
        conditions.push(Condition::Never);
    }
    conditions
}

/// A VirtualService's HTTP routes.
pub(crate) fn virtual_service_rules(data: &Value) -> Option<Vec<Rule>> {
    let mut any = false;
    let routes = data.pointer("/spec/http")?.as_array()?;
    let rules = routes
        .iter()
        .map(|route| {
            let destinations = route
                .get("route")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let lone = destinations.len() == 1;
            let weight_of = |part: &str| {
                destinations
                    .iter()
                    .find(|d| {
                        d.pointer("/destination/host")
                            .and_then(Value::as_str)
                            .is_some_and(|h| h.contains(part))
                    })
                    .map(|d| {
                        d.get("weight")
                            .and_then(Value::as_i64)
                            .unwrap_or(if lone { 100 } else { 0 })
                    })
            };
            let (primary, canary) = (weight_of("-primary"), weight_of("-canary"));
            any |= primary.is_some() || canary.is_some();
            let matches = route
                .get("match")
                .and_then(Value::as_array)
                .map(|ms| ms.iter().map(istio_match).collect())
                .unwrap_or_default();
            Rule {
                matches,
                weights: (primary.unwrap_or(0), canary.unwrap_or(0)),
            }
        })
        .collect();
    routes_to_workloads(rules, any)
}

fn istio_match(m: &Value) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for (name, test) in m.get("headers").and_then(Value::as_object).into_iter().flatten() {
        let text = |key: &str| test.get(key).and_then(Value::as_str).map(str::to_string);
        let test = if let Some(v) = text("exact") {
            Test::Exact(v)
        } else if let Some(v) = text("prefix") {
            Test::Prefix(v)
        } else if let Some(v) = text("suffix") {
            Test::Suffix(v)
        } else if let Some(v) = text("regex") {
            Test::Regex(v)
        } else {
            conditions.push(Condition::Never);
            continue;
        };
        conditions.push(Condition::Header {
            name: name.clone(),
            test,
        });
    }
    let non_empty = |key: &str| {
        m.get(key)
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty())
    };
    if non_empty("queryParams") || non_empty("sourceLabels") {
        conditions.push(Condition::Never);
    }
    conditions
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::simulator::traffic::{Snapshot, mixed_shares};

    /// What serin's Istio router writes for an A/B analysis at canary 100.
    fn ab_virtual_service() -> Value {
        json!({"spec": {"http": [
            {"match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
                {"queryParams": {"beta": {"exact": "1"}}}
             ],
             "route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 0},
                {"destination": {"host": "podinfo-canary"}, "weight": 100}]},
            {"route": [{"destination": {"host": "podinfo-primary"}, "weight": 100}]}
        ]}})
    }

    /// The same for Gateway API.
    fn ab_http_route() -> Value {
        let root = json!({"type": "PathPrefix", "value": "/"});
        json!({"spec": {"rules": [
            {"matches": [
                {"path": root, "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]},
                {"path": root, "headers": [{"type": "RegularExpression", "name": "cookie", "value": "^(.*?;)?(canary=always)(;.*)?$"}]}
             ],
             "backendRefs": [{"name": "podinfo-primary", "weight": 0}, {"name": "podinfo-canary", "weight": 100}]},
            {"matches": [{"path": root}], "backendRefs": [{"name": "podinfo-primary", "weight": 100}]}
        ]}})
    }

    #[test]
    fn requests_with_the_header_or_cookie_take_the_ab_rule_and_the_rest_the_default() {
        for rules in [
            virtual_service_rules(&ab_virtual_service()).expect("rules"),
            http_route_rules(&ab_http_route()).expect("rules"),
        ] {
            assert_eq!(weights_for(&rules, None), (100, 0));
            assert_eq!(
                weights_for(&rules, Some(("X-Canary", "insider"))),
                (0, 100),
                "names ignore case"
            );
            assert_eq!(weights_for(&rules, Some(("x-canary", "outsider"))), (100, 0));
            assert_eq!(
                weights_for(&rules, Some(("cookie", "canary=always; a=1"))),
                (0, 100)
            );
            assert_eq!(weights_for(&rules, Some(("cookie", "canary=never"))), (100, 0));
        }
    }

    #[test]
    fn prefix_suffix_and_unmatchable_conditions() {
        let vs = json!({"spec": {"http": [
            {"match": [{"headers": {"x-build": {"prefix": "rc-"}}}],
             "route": [{"destination": {"host": "podinfo-canary"}}]},
            {"match": [{"headers": {"x-team": {"suffix": ".qa"}}, "sourceLabels": {"app": "web"}}],
             "route": [{"destination": {"host": "podinfo-canary"}}]},
            {"match": [{"uri": {"prefix": "/"}}],
             "route": [{"destination": {"host": "podinfo-primary"}}]}
        ]}});
        let rules = virtual_service_rules(&vs).expect("rules");
        assert_eq!(
            weights_for(&rules, Some(("x-build", "rc-7"))),
            (0, 100),
            "a lone destination takes all"
        );
        assert_eq!(
            weights_for(&rules, Some(("x-team", "web.qa"))),
            (100, 0),
            "sourceLabels never match"
        );
        assert_eq!(
            weights_for(&rules, None),
            (100, 0),
            "a uri condition is taken to match"
        );
        let only_ab = vec![Rule {
            matches: vec![vec![Condition::Header {
                name: "x".into(),
                test: Test::Exact("1".into()),
            }]],
            weights: (0, 100),
        }];
        assert_eq!(weights_for(&only_ab, None), (0, 0), "no rule admits it: nobody");
    }

    #[test]
    fn the_matching_share_follows_the_ab_rule() {
        let snapshot = Snapshot {
            routes: virtual_service_rules(&ab_virtual_service()),
            ..Snapshot::default()
        };
        let header = Some(("x-canary", "insider"));
        assert_eq!(mixed_shares(&snapshot, header, 0.25), (0.75, 0.25));
        assert_eq!(mixed_shares(&snapshot, header, 0.0), (1.0, 0.0));
        assert_eq!(
            mixed_shares(&snapshot, None, 0.25),
            (1.0, 0.0),
            "no header configured"
        );
        let wrong = Some(("x-canary", "nobody"));
        assert_eq!(mixed_shares(&snapshot, wrong, 0.25), (1.0, 0.0));
    }
}
