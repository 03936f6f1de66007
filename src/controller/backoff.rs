//! How fast watches come back after the API server was away.
//!
//! kube's default (client-go's) doubles from 0.8 s up to 30 s: after an API
//! server restart of a few seconds, whose RBAC caches also answer 403 for a
//! while, the Canary watch could stay down for minutes, and with it every
//! rollout (reconciles wait for the watch to show serin's own last status
//! write). Reconnect attempts are cheap; serin caps the pause at 5 s.

use std::time::Duration;

use kube::runtime::utils::Backoff;

const FIRST: Duration = Duration::from_millis(250);
const MAX: Duration = Duration::from_secs(5);

/// Doubling pauses from 250 ms up to 5 s; reset by a working watch.
#[derive(Debug, Clone)]
pub struct Reconnect {
    next: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Iterator for Reconnect {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX);
        Some(pause)
    }
}

impl Backoff for Reconnect {
    fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_five_seconds_and_start_over_after_a_reset() {
        let mut backoff = Reconnect::default();
        let pauses: Vec<_> = backoff.by_ref().take(7).map(|d| d.as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next(), Some(FIRST));
    }
}
