//! SMI `TrafficSplit` (`split.smi-spec.io`) in the versions serin writes:
//! v1alpha1 (Linkerd's SMI extension), v1alpha2 and v1alpha3.
//!
//! Only `spec.service` and `spec.backends` are modelled: that is all serin
//! sends, and server-side apply leaves everything else (v1alpha2's and
//! v1alpha3's `matches`, for one) to whoever set it.
//!
//! The versions differ for serin only in how a weight is spelled: v1alpha1
//! takes a `resource.Quantity` (serin writes integers as strings, "40", as
//! Flagger does), the later ones an integer. Meshes serve several versions
//! of one CRD without conversion, so the API server hands out whatever
//! spelling an object was written with, whichever version it is read as;
//! [`Weight`] therefore reads both everywhere.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::crd::{MergeError, merge_crds};
use kube::{CustomResourceExt, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "split.smi-spec.io";
pub const KIND: &str = "TrafficSplit";

/// A backend weight as stored: an integer, or a Quantity string such as
/// "40" or "500m".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Weight {
    Integer(i64),
    Quantity(String),
}

impl Weight {
    /// The weight as an integer, rounded up as Kubernetes' `Quantity.Value()`
    /// does; `None` when it is no quantity or does not fit.
    pub fn value(&self) -> Option<i32> {
        match self {
            Weight::Integer(n) => i32::try_from(*n).ok(),
            Weight::Quantity(q) => quantity_value(q),
        }
    }
}

fn quantity_value(quantity: &str) -> Option<i32> {
    let quantity = quantity.trim();
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let value = (number.parse::<f64>().ok()? * scale).ceil();
    (value.is_finite() && value >= f64::from(i32::MIN) && value <= f64::from(i32::MAX))
        .then_some(value as i32)
}

/// What serin needs of every TrafficSplit version, so one router serves them all.
pub trait TrafficSplitVersion:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const VERSION: &'static str;

    /// The weight spelled as this version's schema wants it.
    fn weight(weight: i32) -> Weight;

    /// A TrafficSplit with empty metadata.
    fn from_parts(service: String, backends: Vec<(String, Weight)>) -> Self;

    fn service(&self) -> &str;

    /// `(service, weight)` of every backend, in order.
    fn backends(&self) -> Vec<(&str, Option<&Weight>)>;
}

fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-int-or-string": true })
}

fn integer(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer" })
}

// One module per version, identical but for the version and the weight's
// schema and spelling: a macro keeps them from drifting apart.
macro_rules! traffic_split_version {
    ($module:ident, $version:tt, $weight_schema:tt, $weight:expr) => {
        pub mod $module {
            use kube::CustomResource;
            use schemars::JsonSchema;
            use serde::{Deserialize, Serialize};

            use super::Weight;

            #[derive(CustomResource, JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
            #[kube(
                group = "split.smi-spec.io",
                version = $version,
                kind = "TrafficSplit",
                plural = "trafficsplits",
                shortname = "ts",
                namespaced,
                doc = "TrafficSplit (the subset serin uses) splits the traffic sent to a root service between backends.",
                printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.service"}"#
            )]
            pub struct TrafficSplitSpec {
                /// The root service clients address.
                pub service: String,
                // Atomic (no list type), as upstream: serin owns the whole list.
                pub backends: Vec<TrafficSplitBackend>,
            }

            #[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
            pub struct TrafficSplitBackend {
                pub service: String,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                #[schemars(schema_with = $weight_schema)]
                pub weight: Option<Weight>,
            }

            impl super::TrafficSplitVersion for TrafficSplit {
                const VERSION: &'static str = $version;

                fn weight(weight: i32) -> Weight {
                    let spell: fn(i32) -> Weight = $weight;
                    spell(weight)
                }

                fn from_parts(service: String, backends: Vec<(String, Weight)>) -> Self {
                    let backends = backends
                        .into_iter()
                        .map(|(service, weight)| TrafficSplitBackend {
                            service,
                            weight: Some(weight),
                        })
                        .collect();
                    TrafficSplit::new("", TrafficSplitSpec { service, backends })
                }

                fn service(&self) -> &str {
                    &self.spec.service
                }

                fn backends(&self) -> Vec<(&str, Option<&Weight>)> {
                    self.spec
                        .backends
                        .iter()
                        .map(|b| (b.service.as_str(), b.weight.as_ref()))
                        .collect()
                }
            }
        }
    };
}

traffic_split_version!(
    v1alpha1,
    "v1alpha1",
    "super::int_or_string",
    |w| Weight::Quantity(w.to_string())
);
traffic_split_version!(v1alpha2, "v1alpha2", "super::integer", |w| Weight::Integer(
    w.into()
));
traffic_split_version!(v1alpha3, "v1alpha3", "super::integer", |w| Weight::Integer(
    w.into()
));

/// The TrafficSplit CRD serving all three versions, stored as v1alpha1 with
/// no conversion, as Linkerd's SMI extension installs it; for test clusters.
pub fn crd() -> Result<CustomResourceDefinition, MergeError> {
    let versions = vec![
        v1alpha1::TrafficSplit::crd(),
        v1alpha2::TrafficSplit::crd(),
        v1alpha3::TrafficSplit::crd(),
    ];
    let mut crd = merge_crds(versions, "v1alpha1")?;
    crd.spec.versions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(crd)
}
