//! Which Canary namespaces may use the load tester.
//!
//! A load tester runs arbitrary shell commands for whoever can reach it, so a shared one is usually
//! restricted to the teams that own it. `--namespace-regexp` is Flagger's flag (anchored, so `team-a`
//! does not also admit `team-ab`); `--allow-namespace` is a plain list. With both, either admits.

use std::collections::BTreeSet;

use regex::Regex;

#[derive(Debug, thiserror::Error)]
#[error("--namespace-regexp {pattern:?} is not a valid regular expression")]
pub struct AccessError {
    pattern: String,
    #[source]
    source: regex::Error,
}

#[derive(Debug, Clone, Default)]
pub struct NamespacePolicy {
    regex: Option<Regex>,
    allowed: BTreeSet<String>,
}

impl NamespacePolicy {
    pub fn new(pattern: Option<&str>, allowed: &[String]) -> Result<Self, AccessError> {
        let regex = pattern
            .filter(|p| !p.is_empty())
            .map(|p| {
                Regex::new(&format!("^(?:{p})$")).map_err(|source| AccessError {
                    pattern: p.to_string(),
                    source,
                })
            })
            .transpose()?;
        let allowed = allowed
            .iter()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
            .collect();
        Ok(Self { regex, allowed })
    }

    /// Everyone is admitted when no restriction is configured.
    pub fn is_restricted(&self) -> bool {
        self.regex.is_some() || !self.allowed.is_empty()
    }

    pub fn admits(&self, namespace: &str) -> bool {
        !self.is_restricted()
            || self.allowed.contains(namespace)
            || self.regex.as_ref().is_some_and(|r| r.is_match(namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrestricted_admits_everyone() {
        let policy = NamespacePolicy::new(None, &[]).expect("valid");
        assert!(policy.admits("anything"));
    }

    #[test]
    fn regexp_is_anchored() {
        let policy = NamespacePolicy::new(Some("team-a|team-b"), &[]).expect("valid");
        assert!(policy.admits("team-a"));
        assert!(policy.admits("team-b"));
        assert!(!policy.admits("team-ab"));
        assert!(!policy.admits("xteam-a"));
    }

    #[test]
    fn list_and_regexp_combine() {
        let policy = NamespacePolicy::new(Some("dev-.*"), &["prod".to_string()]).expect("valid");
        assert!(policy.admits("dev-1"));
        assert!(policy.admits("prod"));
        assert!(!policy.admits("staging"));
    }

    #[test]
    fn bad_regexp_is_an_error() {
        assert!(NamespacePolicy::new(Some("("), &[]).is_err());
    }
}
