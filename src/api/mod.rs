//! serin's custom resources, group `serin.dev`, version `v1beta1`.
//!
//! Field names and meanings follow Flagger's `flagger.app/v1beta1`, so a
//! Flagger manifest works after changing only its `apiVersion`. The CRD YAML
//! in `crds/` is generated from these types (`serin crd`).

mod alert_provider;
mod analysis;
mod canary;
mod duration;
mod metric_template;
mod service;
mod status;

pub use alert_provider::*;
pub use analysis::*;
pub use canary::*;
pub use duration::*;
pub use metric_template::*;
pub use service::*;
pub use status::*;

pub const GROUP: &str = "serin.dev";
pub const VERSION: &str = "v1beta1";

/// All of serin's CRDs, in the order `serin crd` prints them.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> {
    use kube::CustomResourceExt;
    vec![Canary::crd(), MetricTemplate::crd(), AlertProvider::crd()]
}
