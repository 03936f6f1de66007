//! `e2e/crds/smi-trafficsplit.yaml`: the TrafficSplit CRD generated from
//! serin's own types, for clusters (the e2e one) without a mesh. A test
//! fails when the file and the types drift apart; with `SERIN_BLESS=1` it
//! rewrites the file instead. Same pattern as `router::crd_file`.

use crate::router::smi_types::{GROUP, crd};

const FILE: &str = "e2e/crds/smi-trafficsplit.yaml";
const REGENERATE: &str = "SERIN_BLESS=1 cargo test --lib router::smi::crd_file";

fn expected() -> String {
    let crd = crd().expect("the TrafficSplit versions merge");
    let yaml = serde_yaml::to_string(&crd).expect("the CRD serialises");
    format!(
        "# Generated from src/router/smi_types.rs by `{REGENERATE}`. Do not edit.\n\
         # Only the subset of SMI's TrafficSplit that serin uses, for test clusters;\n\
         # real clusters install the mesh's own CRD (e.g. the linkerd-smi extension).\n{yaml}"
    )
}

#[test]
fn e2e_trafficsplit_crd_matches_the_rust_types() {
    crate::router::crd_file::check_or_bless(FILE, &expected(), "src/router/smi_types.rs", REGENERATE);
}

#[test]
fn the_crd_serves_three_versions_stored_as_v1alpha1_without_conversion() {
    let crd = crd().expect("the TrafficSplit versions merge");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("trafficsplits.split.smi-spec.io")
    );
    assert_eq!(crd.spec.group, GROUP);
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["ts".to_string()][..])
    );
    // Not a *.k8s.io group, so no api-approved annotation is needed.
    assert_eq!(crd.metadata.annotations, None);
    assert_eq!(crd.spec.conversion, None, "None, as the meshes install it");
    let versions: Vec<_> = crd
        .spec
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.served, v.storage))
        .collect();
    assert_eq!(
        versions,
        [
            ("v1alpha1", true, true),
            ("v1alpha2", true, false),
            ("v1alpha3", true, false)
        ]
    );
}

#[test]
fn weights_are_int_or_string_in_v1alpha1_and_integers_later() {
    let crd = crd().expect("the TrafficSplit versions merge");
    for version in &crd.spec.versions {
        let schema = serde_json::to_value(&version.schema).expect("serialise");
        let backend = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["backends"]["items"];
        let weight = &backend["properties"]["weight"];
        match version.name.as_str() {
            "v1alpha1" => assert_eq!(weight["x-kubernetes-int-or-string"], true, "{weight}"),
            _ => assert_eq!(weight["type"], "integer", "{}: {weight}", version.name),
        }
        assert_eq!(backend["required"], serde_json::json!(["service"]));
        let spec_required = &schema["openAPIV3Schema"]["properties"]["spec"]["required"];
        assert_eq!(spec_required, &serde_json::json!(["backends", "service"]));
    }
}
