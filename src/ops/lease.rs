//! The rules of a `coordination.k8s.io/v1` Lease used as a leader lock, as pure functions of the lease
//! and the current time. The elector in `leader.rs` does the IO.
//!
//! The record has the same meaning as client-go's leader election: an empty `holderIdentity` is free, and
//! a holder's claim lasts `leaseDurationSeconds` after `renewTime`. So serin can share a Lease with tools
//! that follow client-go's convention, and `kubectl get lease` reads naturally.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// What a candidate should do with a Lease it has just read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The lease is ours: renew it.
    Renew,
    /// Nobody holds the lease, or its holder let it expire: take it.
    Acquire,
    /// Another replica holds a valid lease.
    Held { holder: String },
}

/// The holder, if the lease names one. An empty identity means released, as in client-go.
pub fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// When the holder's claim ends: the last renewal (or, lacking one, the acquisition) plus the lease's
/// duration, or `default_duration` when the lease does not state one. `None` when the lease has no time at
/// all, which cannot prove a live holder.
pub fn expiry(spec: &LeaseSpec, default_duration: Duration) -> Option<Timestamp> {
    let since = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = match spec.lease_duration_seconds {
        // A negative duration from a foreign writer is treated as already over.
        Some(s) => i64::from(s.max(0)),
        None => i64::try_from(default_duration.as_secs()).unwrap_or(i64::MAX),
    };
    // An overflow means a claim that never ends within representable time: far in the future.
    Some(
        since
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap_or(Timestamp::MAX),
    )
}

/// Whether the holder's claim has lapsed at `now` (renewTime + leaseDurationSeconds < now).
pub fn is_expired(spec: &LeaseSpec, now: Timestamp, default_duration: Duration) -> bool {
    match expiry(spec, default_duration) {
        Some(until) => until < now,
        None => true,
    }
}

/// What `identity` should do with the lease as read at `now` (`None`: no Lease object exists).
pub fn verdict(
    spec: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    default_duration: Duration,
) -> Verdict {
    let Some(spec) = spec else {
        return Verdict::Acquire;
    };
    match holder(spec) {
        Some(h) if h == identity => Verdict::Renew,
        Some(h) if !is_expired(spec, now, default_duration) => Verdict::Held {
            holder: h.to_string(),
        },
        _ => Verdict::Acquire,
    }
}

/// The spec that makes `identity` the holder at `now`, from the current spec (if any). Renewing keeps the
/// acquisition time; taking over counts a transition. Fields serin does not manage are kept.
pub fn claimed(current: Option<&LeaseSpec>, identity: &str, now: Timestamp, duration: Duration) -> LeaseSpec {
    let mut spec = current.cloned().unwrap_or_default();
    let renewing = current.and_then(holder) == Some(identity);
    if !renewing {
        spec.holder_identity = Some(identity.to_string());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(match current {
            Some(c) => c.lease_transitions.unwrap_or(0).saturating_add(1),
            None => 0,
        });
    } else if spec.acquire_time.is_none() {
        spec.acquire_time = Some(MicroTime(now));
    }
    spec.renew_time = Some(MicroTime(now));
    spec.lease_duration_seconds = Some(duration_seconds(duration));
    spec
}

/// The spec that gives the lease up so a successor can take it at once, without waiting for it to expire.
/// Like client-go, it also shortens the duration to one second for readers that only look at the time.
pub fn released(current: &LeaseSpec) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        ..current.clone()
    }
}

/// `leaseDurationSeconds` for a duration: whole seconds, rounded up so the lease never claims less time
/// than the holder counts on.
pub fn duration_seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIFTEEN: Duration = Duration::from_secs(15);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("valid timestamp")
    }

    fn held_by(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_string()),
            acquire_time: Some(MicroTime(at(0))),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(duration),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_expires_after_renew_time_plus_its_duration() {
        let spec = held_by("a", 100, 15);
        assert!(!is_expired(&spec, at(100), FIFTEEN));
        assert!(
            !is_expired(&spec, at(115), FIFTEEN),
            "valid up to and including the last instant"
        );
        assert!(is_expired(&spec, at(116), FIFTEEN));
    }

    #[test]
    fn expiry_uses_the_leases_own_duration_before_the_default() {
        let spec = held_by("a", 100, 60);
        assert!(!is_expired(&spec, at(150), FIFTEEN));
        let no_duration = LeaseSpec {
            lease_duration_seconds: None,
            ..held_by("a", 100, 0)
        };
        assert!(!is_expired(&no_duration, at(110), FIFTEEN));
        assert!(is_expired(&no_duration, at(116), FIFTEEN));
    }

    #[test]
    fn odd_lease_data_never_panics_and_errs_on_a_sensible_side() {
        let negative = held_by("a", 100, -5);
        assert!(is_expired(&negative, at(101), FIFTEEN));
        let timeless = LeaseSpec {
            holder_identity: Some("a".into()),
            ..LeaseSpec::default()
        };
        assert!(
            is_expired(&timeless, at(0), FIFTEEN),
            "no time proves no live holder"
        );
        let forever = LeaseSpec {
            renew_time: Some(MicroTime(Timestamp::MAX)),
            ..held_by("a", 0, i32::MAX)
        };
        assert!(!is_expired(&forever, at(0), FIFTEEN));
    }

    #[test]
    fn verdicts() {
        let now = at(110);
        assert_eq!(verdict(None, "me", now, FIFTEEN), Verdict::Acquire);
        assert_eq!(
            verdict(Some(&held_by("me", 100, 15)), "me", now, FIFTEEN),
            Verdict::Renew
        );
        assert_eq!(
            verdict(Some(&held_by("other", 100, 15)), "me", now, FIFTEEN),
            Verdict::Held {
                holder: "other".into()
            }
        );
        assert_eq!(
            verdict(Some(&held_by("other", 90, 15)), "me", now, FIFTEEN),
            Verdict::Acquire
        );
        assert_eq!(
            verdict(Some(&held_by("", 109, 15)), "me", now, FIFTEEN),
            Verdict::Acquire
        );
        assert_eq!(
            verdict(Some(&LeaseSpec::default()), "me", now, FIFTEEN),
            Verdict::Acquire
        );
        // Our own lease is ours to renew even if it lapsed: nobody else took it.
        assert_eq!(
            verdict(Some(&held_by("me", 0, 15)), "me", now, FIFTEEN),
            Verdict::Renew
        );
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let spec = claimed(
            Some(&held_by("me", 100, 15)),
            "me",
            at(105),
            Duration::from_secs(20),
        );
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(105))));
        assert_eq!(spec.lease_duration_seconds, Some(20));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn taking_over_counts_a_transition_and_restarts_acquire_time() {
        let mut current = held_by("other", 80, 15);
        current.preferred_holder = Some("someone".into());
        let spec = claimed(Some(&current), "me", at(100), FIFTEEN);
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(100))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(100))));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(
            spec.preferred_holder.as_deref(),
            Some("someone"),
            "unmanaged fields are kept"
        );
    }

    #[test]
    fn a_new_lease_starts_at_zero_transitions() {
        let spec = claimed(None, "me", at(100), Duration::from_millis(2500));
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(spec.lease_duration_seconds, Some(3), "rounded up");
    }

    #[test]
    fn a_released_lease_is_free_at_once() {
        let spec = released(&held_by("me", 100, 15));
        assert_eq!(holder(&spec), None);
        assert_eq!(verdict(Some(&spec), "next", at(100), FIFTEEN), Verdict::Acquire);
        assert_eq!(spec.lease_transitions, Some(3));
        let next = claimed(Some(&spec), "next", at(101), FIFTEEN);
        assert_eq!(next.lease_transitions, Some(4));
    }
}
