//! Installs CustomResourceDefinitions into the shared test cluster. Installs
//! are idempotent (server-side apply), so every test may call them.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::runtime::conditions;
use kube::{Api, Client, ResourceExt};

use crate::wait;

pub async fn install(client: &Client, crds: Vec<CustomResourceDefinition>) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("serin-e2e").force();
    for crd in crds {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        wait::for_object(
            &api,
            &name,
            Duration::from_secs(30),
            conditions::is_crd_established(),
        )
        .await?;
    }
    Ok(())
}

/// serin's own CRDs, generated from its Rust types.
pub async fn install_serin(client: &Client) -> anyhow::Result<()> {
    install(client, serin::api::crds()).await
}
