//! Gate state in a JSON file, for running outside a cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use super::StateError;

pub struct FileStore {
    path: PathBuf,
    /// Serialises read-modify-write, so two concurrent opens cannot lose one another's key.
    write: Mutex<()>,
}

impl FileStore {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            write: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A missing file is an empty state (first start); an unreadable one is an error.
    pub async fn load(&self) -> Result<BTreeMap<String, String>, StateError> {
        let text = match tokio::fs::read(&self.path).await {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(StateError::ReadFile {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_slice(&text).map_err(|source| StateError::ParseFile {
            path: self.path.clone(),
            source,
        })
    }

    pub async fn set(&self, key: &str, value: &str) -> Result<(), StateError> {
        let _held = self.write.lock().await;
        let mut data = self.load().await?;
        data.insert(key.to_string(), value.to_string());
        let write_err = |source| StateError::WriteFile {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(&data).map_err(|e| write_err(std::io::Error::other(e)))?;
        text.push(b'\n');
        // Write then rename: a crash mid-write leaves the old file, never half a file.
        let tmp = self.path.with_extension("tmp");
        tokio::fs::write(&tmp, &text).await.map_err(write_err)?;
        tokio::fs::rename(&tmp, &self.path).await.map_err(write_err)
    }
}
