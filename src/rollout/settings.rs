//! The effective rollout settings of a Canary: its spec with Flagger's defaults
//! filled in, checked for what the CRD schema cannot express.

use std::time::Duration;

use crate::api::CanarySpec;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_PROGRESS_DEADLINE: Duration = Duration::from_secs(600);
pub const DEFAULT_MAX_WEIGHT: i32 = 100;
/// Flagger forces this many iterations on the `kubernetes` provider when none are set.
pub const KUBERNETES_DEFAULT_ITERATIONS: i32 = 10;
/// The provider assumed when `spec.provider` is unset (the reconciler normally fills it in).
pub const DEFAULT_PROVIDER: &str = "gatewayapi";

/// How traffic reaches the new version during the analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Progressive weights, one step per interval.
    Canary,
    /// No traffic split: a fixed number of iterations, then promotion.
    BlueGreen { iterations: i32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub interval: Duration,
    /// Failed checks (cumulative) that roll the canary back; at least 1.
    pub threshold: i32,
    pub max_weight: i32,
    /// Canary weights to walk through, strictly increasing, ending at `max_weight`.
    pub steps: Vec<i32>,
    /// Canary weight handed back to the primary per interval after promotion.
    pub step_weight_promotion: Option<i32>,
    pub progress_deadline: Duration,
    pub strategy: Strategy,
    /// A/B testing (`analysis.match` with iterations): during the analysis only
    /// matching requests go to the canary, all of them.
    pub ab_testing: bool,
    /// `analysis.mirror`: copy requests to the canary during the analysis
    /// (Blue/Green and A/B for their whole analysis, canary weights while at 0%).
    pub mirror: bool,
}

/// What makes a spec unusable although the schema accepted it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpec {
    #[error("spec.analysis.interval: {0}")]
    Interval(String),
    #[error("spec.analysis needs stepWeight, stepWeights or iterations greater than 0")]
    NoSteps,
    // An SMI TrafficSplit has no request matching: "A/B" there would send
    // every request to the canary for the whole analysis.
    #[error(
        "spec.analysis.match: provider {0} routes with an SMI TrafficSplit, which cannot route by request; \
         use istio, gatewayapi:v1, or linkerd with service.gatewayRefs (an HTTPRoute)"
    )]
    NoRequestMatching(String),
}

impl Settings {
    pub fn from_spec(spec: &CanarySpec) -> Result<Settings, InvalidSpec> {
        let analysis = &spec.analysis;
        let interval = interval(spec)?;
        let threshold = analysis.threshold.filter(|t| *t > 0).unwrap_or(1);
        let progress_deadline = progress_deadline(spec);
        let step_weights = analysis.step_weights.as_deref().filter(|w| !w.is_empty());
        let max_weight = analysis
            .max_weight
            .or_else(|| step_weights.and_then(|w| w.last().copied()))
            .unwrap_or(DEFAULT_MAX_WEIGHT)
            .clamp(1, 100);
        let iterations = analysis.iterations.filter(|i| *i > 0);
        let has_weights = analysis.step_weight.is_some() || step_weights.is_some();
        let provider = spec.provider.as_deref().unwrap_or(DEFAULT_PROVIDER);

        // The `kubernetes` provider cannot split traffic, so Flagger runs it as
        // Blue/Green whatever the weights say.
        let strategy = if provider == "kubernetes" {
            Strategy::BlueGreen {
                iterations: iterations.unwrap_or(KUBERNETES_DEFAULT_ITERATIONS),
            }
        } else if let (Some(iterations), false) = (iterations, has_weights) {
            Strategy::BlueGreen { iterations }
        } else if has_weights {
            Strategy::Canary
        } else {
            return Err(InvalidSpec::NoSteps);
        };

        let steps = match step_weights {
            Some(weights) => capped(weights.iter().copied(), max_weight),
            None => {
                let step = analysis.step_weight.unwrap_or(max_weight).clamp(1, 100);
                capped(
                    (1..).map(|n| n * step).take_while(|w| *w < max_weight),
                    max_weight,
                )
            }
        };

        let ab_testing = !analysis.match_.is_empty()
            && provider != "kubernetes"
            && matches!(strategy, Strategy::BlueGreen { .. });
        if ab_testing && crate::router::routes_with_traffic_split(spec, provider) {
            return Err(InvalidSpec::NoRequestMatching(provider.to_string()));
        }

        Ok(Settings {
            interval,
            threshold,
            max_weight,
            steps,
            step_weight_promotion: analysis.step_weight_promotion.filter(|s| *s > 0),
            progress_deadline,
            strategy,
            // The kubernetes provider cannot route by request: its match is
            // ignored, as in Flagger.
            ab_testing,
            mirror: analysis.mirror,
        })
    }

    /// The canary weight after the one given: the first step above it.
    pub fn next_weight(&self, current: i32) -> i32 {
        self.steps
            .iter()
            .copied()
            .find(|w| *w > current)
            .unwrap_or(self.max_weight)
    }
}

/// The analysis interval alone, for callers that need no other setting.
pub fn interval(spec: &CanarySpec) -> Result<Duration, InvalidSpec> {
    let Some(text) = &spec.analysis.interval else {
        return Ok(DEFAULT_INTERVAL);
    };
    let interval = text.parse().map_err(|e| InvalidSpec::Interval(e.to_string()))?;
    // A zero interval would run analysis steps back to back as fast as the
    // controller can reconcile.
    if interval < Duration::from_secs(1) {
        return Err(InvalidSpec::Interval(format!(
            "{text} is too short: use at least 1s"
        )));
    }
    Ok(interval)
}

/// Needed even for a spec that is otherwise invalid: deletion waits at most this long.
pub fn progress_deadline(spec: &CanarySpec) -> Duration {
    spec.progress_deadline_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_PROGRESS_DEADLINE, Duration::from_secs)
}

/// Weights in increasing order, capped at `max`, always ending at `max` so the
/// analysis reaches the highest weight the user allowed before promoting.
fn capped(weights: impl Iterator<Item = i32>, max: i32) -> Vec<i32> {
    let mut steps: Vec<i32> = Vec::new();
    for w in weights.map(|w| w.min(max)) {
        if w > 0 && steps.last().is_none_or(|last| w > *last) {
            steps.push(w);
        }
    }
    if steps.last() != Some(&max) {
        steps.push(max);
    }
    steps
}
