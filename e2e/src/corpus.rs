//! The bad-input corpus in `e2e/corpus/`: one invalid object per file, with
//! what a user must be told in `# key: value` header comments (see
//! `e2e/corpus/README.md`). `schema/` cases are refused by the API server;
//! `semantic/` ones are accepted and reported by serin.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Case {
    /// The file's stem, e.g. `canary-step-weight-zero`.
    pub name: String,
    pub path: PathBuf,
    /// Substrings of the message the user gets (`# expect:`).
    pub expect: Vec<String>,
    /// Semantic cases: where the message shows (`failed`, `not-ready` or `event`).
    pub outcome: Option<String>,
    /// Semantic cases: the reason of the Warning event on the Canary.
    pub reason: Option<String>,
    /// `# target: none`: no Deployment is created for the Canary.
    pub without_target: bool,
    /// The object under test first, then the objects it refers to.
    pub documents: Vec<Value>,
}

pub fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(kind)
}

/// Every case of `kind` (`schema` or `semantic`), sorted by name, with each
/// `${NAME}` in the text replaced by its value from `substitutions`.
pub fn load(kind: &str, substitutions: &[(&str, &str)]) -> anyhow::Result<Vec<Case>> {
    let dir = dir(kind);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    paths.into_iter().map(|p| parse(&p, substitutions)).collect()
}

fn parse(path: &Path, substitutions: &[(&str, &str)]) -> anyhow::Result<Case> {
    let mut text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for (name, value) in substitutions {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    let header = |key: &str| -> Vec<String> {
        let prefix = format!("# {key}: ");
        text.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().to_string())
            .collect()
    };
    let documents = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).map_err(anyhow::Error::from))
        .map(|doc| Ok(serde_json::to_value(doc?)?))
        .collect::<anyhow::Result<Vec<Value>>>()
        .with_context(|| format!("parsing {}", path.display()))?;
    let expect = header("expect");
    if expect.is_empty() || documents.is_empty() {
        bail!(
            "{}: a case needs `# expect:` lines and a document",
            path.display()
        );
    }
    Ok(Case {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        expect,
        outcome: header("outcome").into_iter().next(),
        reason: header("reason").into_iter().next(),
        without_target: header("target").iter().any(|t| t == "none"),
        documents,
    })
}

impl Case {
    /// The object under test.
    pub fn subject(&self) -> &Value {
        &self.documents[0]
    }

    pub fn kind_of(doc: &Value) -> &str {
        doc["kind"].as_str().unwrap_or_default()
    }

    pub fn name_of(doc: &Value) -> &str {
        doc["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// Which of `expect` `message` lacks.
    pub fn missing_from(&self, message: &str) -> Vec<&str> {
        self.expect
            .iter()
            .map(String::as_str)
            .filter(|part| !message.contains(part))
            .collect()
    }
}
