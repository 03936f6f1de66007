//! `e2e/crds/gateway-api-httproute.yaml`: the HTTPRoute CRD generated from
//! serin's own types, for clusters (the e2e one) without Gateway API. A test
//! fails when the file and the types drift apart; with `SERIN_BLESS=1` it
//! rewrites the file instead.

use std::path::Path;

use kube::CustomResourceExt;

use super::gatewayapi_types::HTTPRoute;

const FILE: &str = "e2e/crds/gateway-api-httproute.yaml";
const REGENERATE: &str = "SERIN_BLESS=1 cargo test --lib router::crd_file";

fn expected() -> String {
    let yaml = serde_yaml::to_string(&HTTPRoute::crd()).expect("the CRD serialises");
    format!(
        "# Generated from src/router/gatewayapi_types.rs by `{REGENERATE}`. Do not edit.\n\
         # Only the subset of Gateway API's HTTPRoute that serin uses, for test clusters;\n\
         # real clusters install the upstream Gateway API CRDs.\n{yaml}"
    )
}

/// Compares `file` (relative to the crate) with `expected`; with
/// `SERIN_BLESS=1` rewrites it instead. Shared by every provider's CRD file.
pub(super) fn check_or_bless(file: &str, expected: &str, types: &str, regenerate: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if std::env::var("SERIN_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, expected).expect("write the CRD file");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{file} is out of date with {types}: run `{regenerate}` and commit the result"
    );
}

#[test]
fn e2e_httproute_crd_matches_the_rust_types() {
    check_or_bless(FILE, &expected(), "src/router/gatewayapi_types.rs", REGENERATE);
}

#[test]
fn the_httproute_crd_is_namespaced_v1_with_a_status_subresource() {
    let crd = HTTPRoute::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("httproutes.gateway.networking.k8s.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1");
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
}
