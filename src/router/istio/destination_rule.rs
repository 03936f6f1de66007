//! The DestinationRules serin wants for a Canary's primary and canary hosts.

use super::{canary_host, object_meta, primary_host};
use crate::api::Canary;
use crate::router::istio_types::{DestinationRule, DestinationRuleSpec};
use crate::router::{RouterError, apex_name};

/// `<apex>-primary` and `<apex>-canary`, both with `service.trafficPolicy`,
/// so the two sides of a comparison are served alike.
pub fn destination_rules(canary: &Canary) -> Result<Vec<DestinationRule>, RouterError> {
    let apex = apex_name(canary);
    [primary_host(apex), canary_host(apex)]
        .into_iter()
        .map(|host| {
            let mut rule = DestinationRule::new(
                &host,
                DestinationRuleSpec {
                    host: host.clone(),
                    traffic_policy: canary.spec.service.traffic_policy.clone(),
                },
            );
            rule.metadata = object_meta(canary, &host, Default::default())?;
            Ok(rule)
        })
        .collect()
}
