//! A Canary whose provider's CRDs are not installed says so in its status
//! and events, and carries on by itself once they are.
//!
//! This removes the SMI TrafficSplit CRD, which is cluster-wide, so it lives
//! in a test binary of its own: `cargo test` runs test binaries one after
//! another, so no other test sees the CRD missing. It installs it again.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::json;
use serin::api::Phase;
use serin_e2e::{fixtures, wait, with_namespace};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_missing_provider_crd_is_reported_and_the_canary_recovers_when_it_appears() {
    with_namespace("no-crd", |ctx| async move {
        let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
        let name = "trafficsplits.split.smi-spec.io";
        if let Some(crd) = crds.get_opt(name).await? {
            crds.delete(name, &Default::default()).await?;
            let uid = crd.metadata.uid.unwrap_or_default();
            wait::for_deletion(&crds, name, &uid, T).await?;
        }

        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 1).await?;
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 }));
        canary["spec"]["provider"] = json!("linkerd");
        fixtures::create_canary(&ctx, canary).await?;

        let reported = fixtures::wait_for_status(&ctx, "podinfo", "a Ready=False condition", T, |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "RoutingCrdNotInstalled")
        })
        .await?;
        let status = reported.status.unwrap_or_default();
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("TrafficSplit CRD") && message.contains("linkerd smi install"),
            "the message says what is missing and how to install it: {message}"
        );
        let reasons = fixtures::event_reasons(&ctx, "podinfo").await?;
        assert!(
            reasons.iter().any(|r| r == "RoutingCrdNotInstalled"),
            "{reasons:?}"
        );

        fixtures::install_smi(&ctx.client).await?;
        let recovered = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        let status = recovered.status.unwrap_or_default();
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            "{:?}",
            status.conditions
        );
        Ok(())
    })
    .await;
}
