//! The TrafficSplit serin wants for a Canary, and the weights read back from one.

use kube::api::ObjectMeta;

use crate::api::Canary;
use crate::rollout::Weights;
use crate::router::smi_types::{TrafficSplitVersion, Weight};
use crate::router::{RouterError, apex_name, namespace, owner_reference};

/// The complete TrafficSplit serin applies for `canary` at `weights`, in
/// version `S`: only the fields serin owns, ready for server-side apply.
pub fn traffic_split<S: TrafficSplitVersion>(canary: &Canary, weights: Weights) -> Result<S, RouterError> {
    let apex = apex_name(canary);
    // Flagger's choice, kept for compatibility: meshes that route by host
    // name find the split under the first host.
    let service = canary
        .spec
        .service
        .hosts
        .first()
        .cloned()
        .unwrap_or_else(|| apex.to_string());
    // Canary first, as Flagger orders them; weights always explicit, since
    // meshes read an absent one as 0 or reject it.
    let mut split = S::from_parts(
        service,
        vec![
            (canary_service(apex), S::weight(weights.canary)),
            (primary_service(apex), S::weight(weights.primary)),
        ],
    );
    *split.meta_mut() = ObjectMeta {
        name: Some(apex.to_string()),
        namespace: Some(namespace(canary)?),
        owner_references: Some(vec![owner_reference(canary)?]),
        ..ObjectMeta::default()
    };
    Ok(split)
}

/// The weights of `<apex>-primary` and `<apex>-canary` as found (so not
/// necessarily adding up to 100 if someone edited them; an absent weight is
/// 0); `None` when the split has no canary backend or a weight serin cannot read.
pub fn split_weights<S: TrafficSplitVersion>(canary: &Canary, split: &S) -> Option<Weights> {
    let apex = apex_name(canary);
    let backends = split.backends();
    let weight_of = |name: String| {
        backends
            .iter()
            .find(|(service, _)| *service == name)
            .map(|(_, weight)| weight.map_or(Some(0), Weight::value))
    };
    let canary = weight_of(canary_service(apex))??;
    let primary = weight_of(primary_service(apex)).unwrap_or(Some(0))?;
    Some(Weights {
        primary,
        canary,
        mirror: false,
    })
}

fn primary_service(apex: &str) -> String {
    format!("{apex}-primary")
}

fn canary_service(apex: &str) -> String {
    format!("{apex}-canary")
}
