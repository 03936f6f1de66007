//! Latency percentiles in fixed memory.
//!
//! Keeping every sample would grow without bound over an hour-long test; Prometheus-style buckets are too
//! coarse for a p99 in a log line. Log-spaced buckets 1% wide give any percentile within 0.5% in about
//! 2,300 counters, whatever the number of requests.

use std::time::Duration;

/// Each bucket's upper bound is this factor times its lower bound.
const GROWTH: f64 = 1.01;
/// Buckets from 1 µs up to a little over one hour (1.01^2200 µs ≈ 3.2e9 µs); longer samples share the last.
const BUCKETS: usize = 2_200;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, latency: Duration) {
        let micros = latency.as_secs_f64() * 1e6;
        let index = if micros <= 1.0 {
            0
        } else {
            // Truncation is the bucketing; the value is positive and finite here.
            ((micros.ln() / GROWTH.ln()) as usize).min(BUCKETS - 1)
        };
        self.counts[index] += 1;
        self.total += 1;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0 < q ≤ 1), as the geometric middle of its bucket; `None` before any sample.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        // The sample of this rank (1-based) is the quantile: ceil keeps p100 on the largest sample.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let middle = GROWTH.powf(index as f64 + 0.5);
                return Some(Duration::from_secs_f64(middle / 1e6));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_has_no_quantiles() {
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
    }

    #[test]
    fn quantiles_are_within_one_percent() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=1000 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.count(), 1000);
        for (q, expected_ms) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0)] {
            let got = h.quantile(q).expect("samples recorded").as_secs_f64() * 1e3;
            assert!(
                (got - expected_ms).abs() / expected_ms < 0.01,
                "p{q}: {got} ms, expected about {expected_ms} ms"
            );
        }
    }

    #[test]
    fn extreme_samples_land_in_the_end_buckets() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(10 * 3600));
        assert!(h.quantile(0.5).expect("samples") < Duration::from_micros(2));
        assert!(h.quantile(1.0).expect("samples") > Duration::from_secs(3000));
    }
}
