//! Runs the pinned helm client (`e2e/build-helm.sh`) on the repository's charts.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::Command;

use crate::env;

/// `charts/<name>` in this repository.
pub fn chart(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts")
        .join(name)
}

/// Runs `helm <args>` and returns its standard output, failing with its
/// standard error when it exits non-zero.
pub async fn run(args: &[&str]) -> anyhow::Result<String> {
    let helm = env::helm();
    let output = Command::new(&helm)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {}", helm.display()))?;
    let stdout = String::from_utf8(output.stdout).context("helm printed non-UTF-8")?;
    if !output.status.success() {
        bail!(
            "helm {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            stdout
        );
    }
    Ok(stdout)
}

/// `helm template <release> charts/<chart> --namespace <namespace> <extra>`.
pub async fn template(
    chart_name: &str,
    release: &str,
    namespace: &str,
    extra: &[&str],
) -> anyhow::Result<String> {
    let dir = chart(chart_name);
    let dir = dir.to_str().context("chart path is not UTF-8")?;
    let mut args = vec!["template", release, dir, "--namespace", namespace];
    args.extend_from_slice(extra);
    run(&args).await
}

/// The non-empty documents of a multi-document YAML stream.
pub fn documents(yaml: &str) -> anyhow::Result<Vec<Value>> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = Value::deserialize(doc).context("parsing rendered YAML")?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// The `kind` of a rendered object.
pub fn kind(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or_default()
}
