//! `e2e/crds/istio.yaml`: the VirtualService and DestinationRule CRDs
//! generated from serin's own types, for clusters (the e2e one) without
//! Istio. A test fails when the file and the types drift apart; with
//! `SERIN_BLESS=1` it rewrites the file instead.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::router::istio_types::{DestinationRule, VirtualService};

const FILE: &str = "e2e/crds/istio.yaml";
const REGENERATE: &str = "SERIN_BLESS=1 cargo test --lib router::istio::crd_file";

fn crds() -> [CustomResourceDefinition; 2] {
    [VirtualService::crd(), DestinationRule::crd()]
}

fn expected() -> String {
    let documents: Vec<String> = crds()
        .iter()
        .map(|crd| serde_yaml::to_string(crd).expect("the CRD serialises"))
        .collect();
    format!(
        "# Generated from src/router/istio_types.rs by `{REGENERATE}`. Do not edit.\n\
         # Only the subset of Istio's VirtualService and DestinationRule that serin uses,\n\
         # keeping unknown fields, for test clusters; real clusters install Istio's CRDs.\n{}",
        documents.join("---\n")
    )
}

#[test]
fn e2e_istio_crds_match_the_rust_types() {
    crate::router::crd_file::check_or_bless(FILE, &expected(), "src/router/istio_types.rs", REGENERATE);
}

#[test]
fn the_istio_crds_are_namespaced_v1beta1_and_keep_unknown_fields() {
    let [vs, dr] = crds();
    assert_eq!(
        vs.metadata.name.as_deref(),
        Some("virtualservices.networking.istio.io")
    );
    assert_eq!(
        dr.metadata.name.as_deref(),
        Some("destinationrules.networking.istio.io")
    );
    for crd in [vs, dr] {
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1beta1");
        let spec = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| s.properties.as_ref())
            .and_then(|p| p.get("spec"))
            .expect("a spec schema");
        assert_eq!(spec.x_kubernetes_preserve_unknown_fields, Some(true));
    }
}
