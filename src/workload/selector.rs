//! The label that tells primary pods from canary pods, and label-selector rewriting.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::{WorkloadError, primary_name};

/// Candidate selector labels, in order of preference (Flagger's `-selector-labels` default).
pub const SELECTOR_LABELS: [&str; 3] = ["app", "name", "app.kubernetes.io/name"];

/// The target's selector label: primary pods carry `<key>: <value>-primary`,
/// canary (target) pods keep `<key>: <value>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorLabel {
    pub key: String,
    pub value: String,
}

impl SelectorLabel {
    /// The label's value on primary pods.
    pub fn primary_value(&self) -> String {
        primary_name(&self.value)
    }

    /// Pod selector of the primary (and apex) Service.
    pub fn primary_selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(self.key.clone(), self.primary_value())])
    }

    /// Pod selector of the canary Service.
    pub fn canary_selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(self.key.clone(), self.value.clone())])
    }
}

/// The first of [`SELECTOR_LABELS`] present in the target's `spec.selector.matchLabels`.
pub fn selector_label(target: &Deployment) -> Result<SelectorLabel, WorkloadError> {
    let match_labels = target
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref());
    let found = SELECTOR_LABELS
        .iter()
        .find_map(|key| match_labels.and_then(|m| m.get(*key)).map(|v| (*key, v)));
    match found {
        Some((key, value)) => Ok(SelectorLabel {
            key: key.to_string(),
            value: value.clone(),
        }),
        None => Err(WorkloadError::NoSelectorLabel {
            deployment: target.name_any(),
            wanted: SELECTOR_LABELS.join(", "),
            found: match match_labels {
                Some(m) if !m.is_empty() => m.keys().cloned().collect::<Vec<_>>().join(", "),
                _ => "no matchLabels".to_string(),
            },
        }),
    }
}

/// Points a selector written for the target's pods at the primary's pods: the
/// selector label's value gains `-primary`, everything else is kept.
pub(crate) fn rewrite_selector(selector: &mut LabelSelector, label: &SelectorLabel) {
    if let Some(value) = selector.match_labels.as_mut().and_then(|m| m.get_mut(&label.key))
        && *value == label.value
    {
        *value = label.primary_value();
    }
    for req in selector.match_expressions.iter_mut().flatten() {
        if req.key != label.key {
            continue;
        }
        for value in req.values.iter_mut().flatten() {
            if *value == label.value {
                *value = label.primary_value();
            }
        }
    }
}

/// Rewrites the pod (anti-)affinity and topology-spread selectors that address the
/// target's own pods, so the primary spreads against its own replicas rather than
/// against the canary's.
pub(crate) fn rewrite_pod_selectors(spec: &mut PodSpec, label: &SelectorLabel) {
    if let Some(affinity) = spec.affinity.as_mut() {
        let pod_affinity = affinity.pod_affinity.as_mut().map(|a| {
            (
                &mut a.required_during_scheduling_ignored_during_execution,
                &mut a.preferred_during_scheduling_ignored_during_execution,
            )
        });
        let anti_affinity = affinity.pod_anti_affinity.as_mut().map(|a| {
            (
                &mut a.required_during_scheduling_ignored_during_execution,
                &mut a.preferred_during_scheduling_ignored_during_execution,
            )
        });
        for (required, preferred) in pod_affinity.into_iter().chain(anti_affinity) {
            let required = required.iter_mut().flatten();
            let preferred = preferred.iter_mut().flatten().map(|w| &mut w.pod_affinity_term);
            for term in required.chain(preferred) {
                if let Some(selector) = term.label_selector.as_mut() {
                    rewrite_selector(selector, label);
                }
            }
        }
    }
    for constraint in spec.topology_spread_constraints.iter_mut().flatten() {
        if let Some(selector) = constraint.label_selector.as_mut() {
            rewrite_selector(selector, label);
        }
    }
}

/// Whether `selector` selects objects with `labels` (Kubernetes semantics; an
/// unknown operator matches nothing).
pub(crate) fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_match = selector.match_expressions.iter().flatten().all(|req| {
        let value = labels.get(&req.key);
        let listed = || value.is_some_and(|v| req.values.iter().flatten().any(|x| x == v));
        match req.operator.as_str() {
            "In" => listed(),
            "NotIn" => !listed(),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}
