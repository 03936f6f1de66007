//! Session affinity (`analysis.sessionAffinity`) as the Istio and Gateway API
//! routers express it: while the canary gets traffic, its responses set a
//! cookie and requests carrying that cookie go to the canary only, so a user
//! who once reached the new version stays on it. After the run, requests
//! still carrying the cookie get it expired.
//!
//! Flagger keeps a random cookie value in `status.sessionAffinityCookie`.
//! Routers here cannot write status, so the value is derived from the
//! Canary's identity and `status.lastAppliedSpec` (the revision under
//! rollout): stable for a whole run, new for every revision, and the same
//! after promotion, which is what lets the finished run's cookie be expired
//! without remembering it anywhere.

use sha2::{Digest, Sha256};

use crate::api::{Canary, SessionAffinity};

/// Flagger's default cookie lifetime, one day.
const DEFAULT_MAX_AGE: i32 = 86_400;

/// The cookies of one run, ready to be put on routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cookies {
    /// `<cookieName>=<value>`, set by canary responses.
    pub canary: String,
    /// `<primaryCookieName>=<value>`, set by primary responses when configured.
    pub primary: Option<String>,
    attributes: String,
}

impl Cookies {
    /// The cookies for `canary`'s current revision; `None` without session affinity.
    pub fn of(canary: &Canary) -> Option<Cookies> {
        let affinity = canary.spec.analysis.session_affinity.as_ref()?;
        let revision = canary
            .status
            .as_ref()
            .map(|s| s.last_applied_spec.as_str())
            .unwrap_or_default();
        let identity = format!(
            "{}/{}/{revision}",
            canary.metadata.namespace.as_deref().unwrap_or_default(),
            canary.metadata.name.as_deref().unwrap_or_default()
        );
        let digest = Sha256::digest(identity.as_bytes());
        // 16 hex digits: unique enough to tell runs apart; not a secret.
        let value: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Some(Cookies {
            canary: format!("{}={value}", affinity.cookie_name),
            primary: affinity
                .primary_cookie_name
                .as_ref()
                .filter(|n| !n.is_empty())
                .map(|name| format!("{name}={value}")),
            attributes: attributes(affinity),
        })
    }

    /// The `Set-Cookie` value that gives `cookie` to the client.
    pub fn set(&self, cookie: &str) -> String {
        format!("{cookie}{}", self.attributes)
    }

    /// The `Set-Cookie` value that makes the client drop `cookie`.
    pub fn expire(cookie: &str) -> String {
        format!("{cookie}; Max-Age=-1")
    }

    /// Regex on the `Cookie` request header that finds `cookie` among the
    /// others, in Flagger's form `.*<name>.*<value>.*`.
    pub fn header_regex(cookie: &str) -> String {
        let (name, value) = cookie.split_once('=').unwrap_or((cookie, ""));
        format!(
            ".*{}.*{}.*",
            super::pattern::escape(name),
            super::pattern::escape(value)
        )
    }
}

/// `; Max-Age=…` and the optional attributes, in the order browsers document them.
fn attributes(affinity: &SessionAffinity) -> String {
    let mut out = format!("; Max-Age={}", affinity.max_age.unwrap_or(DEFAULT_MAX_AGE));
    if let Some(domain) = affinity.domain.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(&format!("; Domain={domain}"));
    }
    if let Some(path) = affinity.path.as_deref().filter(|p| !p.is_empty()) {
        out.push_str(&format!("; Path={path}"));
    }
    if let Some(same_site) = affinity.same_site.as_deref().filter(|s| !s.is_empty()) {
        out.push_str(&format!("; SameSite={same_site}"));
    }
    for (flag, set) in [
        ("HttpOnly", affinity.http_only),
        ("Secure", affinity.secure),
        ("Partitioned", affinity.partitioned),
    ] {
        if set == Some(true) {
            out.push_str(&format!("; {flag}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::router::fixtures;

    fn with_affinity(affinity: serde_json::Value, revision: &str) -> Canary {
        let mut canary = fixtures::canary();
        canary.spec.analysis.session_affinity = Some(serde_json::from_value(affinity).expect("affinity"));
        canary.status = Some(serde_json::from_value(json!({"lastAppliedSpec": revision})).expect("a status"));
        canary
    }

    #[test]
    fn the_value_is_stable_per_revision_and_new_for_the_next() {
        let a =
            Cookies::of(&with_affinity(json!({"cookieName": "flagger-cookie"}), "rev-1")).expect("cookies");
        let again =
            Cookies::of(&with_affinity(json!({"cookieName": "flagger-cookie"}), "rev-1")).expect("cookies");
        let next =
            Cookies::of(&with_affinity(json!({"cookieName": "flagger-cookie"}), "rev-2")).expect("cookies");
        assert_eq!(a, again);
        assert_ne!(a.canary, next.canary);
        assert!(a.canary.starts_with("flagger-cookie="), "{}", a.canary);
        assert_eq!(a.canary.len(), "flagger-cookie=".len() + 16);
        assert_eq!(a.primary, None);
        assert_eq!(Cookies::of(&fixtures::canary()), None, "no affinity, no cookies");
    }

    #[test]
    fn set_cookie_carries_the_attributes_and_expiry_a_negative_max_age() {
        let cookies = Cookies::of(&with_affinity(
            json!({"cookieName": "c", "primaryCookieName": "p", "maxAge": 60, "domain": "example.com",
                   "path": "/", "sameSite": "Lax", "httpOnly": true, "secure": true, "partitioned": false}),
            "rev",
        ))
        .expect("cookies");
        let value = cookies.canary.trim_start_matches("c=").to_string();
        assert_eq!(cookies.primary.as_deref(), Some(format!("p={value}").as_str()));
        assert_eq!(
            cookies.set(&cookies.canary),
            format!("c={value}; Max-Age=60; Domain=example.com; Path=/; SameSite=Lax; HttpOnly; Secure")
        );
        assert_eq!(Cookies::expire("c=1"), "c=1; Max-Age=-1");
        assert_eq!(Cookies::header_regex("my.cookie=ab12"), r".*my\.cookie.*ab12.*");
    }
}
