//! Every manifest in `examples/` is valid on a real API server: each
//! document is applied with strict field validation (an unknown or
//! misspelt field fails) as a server-side dry run, in the test's namespace.
//! Every example holding a Canary also passes `kubectl serin lint`, which
//! checks what the API server cannot (steps, intervals, providers).

use anyhow::{Context, ensure};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery;
use serin_e2e::{crds, examples, fixtures, plugin, with_namespace};

#[tokio::test]
async fn every_example_applies_with_strict_validation() {
    with_namespace("examples", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        fixtures::install_istio(&ctx.client).await?;
        fixtures::install_smi(&ctx.client).await?;
        let files = examples::yaml_files(&examples::root())?;
        let mut applied = Vec::new();
        for file in &files {
            for mut object in examples::documents(file)? {
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
            canaries >= 9,
            "expected a Canary per example, applied {applied:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn every_example_canary_passes_lint() {
    with_namespace("examples-lint", |ctx| async move {
        let mut linted = Vec::new();
        for file in examples::yaml_files(&examples::root())? {
            let has_canary = examples::documents(&file)?
                .iter()
                .any(|d| examples::kind(d) == "Canary");
            if !has_canary {
                continue;
            }
            let path = file.to_str().context("example path is not UTF-8")?;
            let out = plugin::run(&ctx, &["lint", path], std::time::Duration::from_secs(30)).await?;
            ensure!(
                out.code == Some(0) && out.stdout.is_empty(),
                "kubectl serin lint {path}: {out:?}"
            );
            linted.push(file);
        }
        // Each example directory has a Canary; none may be skipped silently.
        ensure!(linted.len() >= 9, "linted only {linted:?}");
        Ok(())
    })
    .await;
}

/// Each example is complete: a user can apply its directory as it is.
#[test]
fn every_example_directory_has_a_deployment_and_a_canary() -> anyhow::Result<()> {
    let root = examples::root();
    let mut dirs = 0;
    for entry in std::fs::read_dir(&root)? {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let mut kinds = Vec::new();
        for file in examples::yaml_files(&dir)? {
            for doc in examples::documents(&file)? {
                kinds.push(examples::kind(&doc).to_string());
            }
        }
        for needed in ["Deployment", "Canary"] {
            ensure!(
                kinds.iter().any(|k| k == needed),
                "{} has no {needed}: {kinds:?}",
                dir.display()
            );
        }
        dirs += 1;
    }
    ensure!(dirs >= 9, "only {dirs} example directories");
    Ok(())
}
