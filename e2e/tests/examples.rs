//! Every manifest in `examples/` is valid on a real API server: each
//! document is applied with strict field validation (an unknown or
//! misspelt field fails) as a server-side dry run, in the test's namespace.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery;
use serde::Deserialize;
use serin_e2e::{crds, fixtures, with_namespace};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_example_applies_with_strict_validation() {
    with_namespace("examples", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        fixtures::install_istio(&ctx.client).await?;
        fixtures::install_smi(&ctx.client).await?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut files = Vec::new();
        yaml_files(&root, &mut files)?;
        files.sort();
        let mut applied = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file)?;
            for document in serde_yaml::Deserializer::from_str(&text) {
                let mut object = serde_json::Value::deserialize(document)?;
                if object.is_null() {
                    continue;
                }
                // The examples name namespace `test`; the test's own namespace stands in for it.
                object["metadata"]["namespace"] = serde_json::json!(ctx.namespace);
                let object: DynamicObject = serde_json::from_value(object)?;
                let types = object.types.clone().context("apiVersion and kind")?;
                let gvk = GroupVersionKind::try_from(&types)?;
                let (resource, _) = discovery::pinned_kind(&ctx.client, &gvk).await?;
                let api: Api<DynamicObject> =
                    Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
                let name = object.metadata.name.clone().context("metadata.name")?;
                let params = PatchParams::apply("serin-e2e").validation_strict().dry_run();
                api.patch(&name, &params, &Patch::Apply(&object))
                    .await
                    .with_context(|| format!("{}: {} {name}", file.display(), types.kind))?;
                applied.push(format!("{}/{}", types.kind, file.display()));
            }
        }
        let canaries = applied.iter().filter(|a| a.starts_with("Canary/")).count();
        ensure!(
            canaries >= 8,
            "expected a Canary per example, applied {applied:?}"
        );
        Ok(())
    })
    .await;
}
