//! Gate state in a ConfigMap.
//!
//! Writes are read-modify-replace with the object's `resourceVersion`, retried on a conflict: two
//! replicas (or an operator's `kubectl edit`) changing different gates at once both land, and none is
//! overwritten by a stale copy.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::StateError;

/// Conflicts only happen when writers race; a handful of retries settles any realistic race.
const ATTEMPTS: u32 = 5;

pub struct ConfigMapStore {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
}

fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.is_conflict() || status.is_already_exists())
}

impl ConfigMapStore {
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn api_err(&self, action: &'static str) -> impl Fn(kube::Error) -> StateError + '_ {
        move |source| StateError::Api {
            action,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    fn empty(&self, data: BTreeMap<String, String>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    "serin-loadtester".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        }
    }

    /// Reads the state, creating an empty ConfigMap when there is none yet.
    pub async fn load(&self) -> Result<BTreeMap<String, String>, StateError> {
        if let Some(cm) = self.api.get_opt(&self.name).await.map_err(self.api_err("read"))? {
            return Ok(cm.data.unwrap_or_default());
        }
        match self
            .api
            .create(&PostParams::default(), &self.empty(BTreeMap::new()))
            .await
        {
            Ok(_) => tracing::info!(configmap = %self.describe(), "created the gate state ConfigMap"),
            // Another replica created it first: it is empty too, or has just gained a key we will read next.
            Err(err) if is_conflict(&err) => {}
            Err(err) => return Err(self.api_err("create")(err)),
        }
        Ok(BTreeMap::new())
    }

    pub async fn set(&self, key: &str, value: &str) -> Result<(), StateError> {
        for _ in 0..ATTEMPTS {
            let current = self.api.get_opt(&self.name).await.map_err(self.api_err("read"))?;
            let result = match current {
                None => {
                    let data = BTreeMap::from([(key.to_string(), value.to_string())]);
                    self.api
                        .create(&PostParams::default(), &self.empty(data))
                        .await
                        .map(drop)
                }
                Some(mut cm) => {
                    cm.data
                        .get_or_insert_default()
                        .insert(key.to_string(), value.to_string());
                    // `cm` carries the resourceVersion read above: a write in between makes this a 409.
                    self.api
                        .replace(&self.name, &PostParams::default(), &cm)
                        .await
                        .map(drop)
                }
            };
            match result {
                Ok(()) => return Ok(()),
                Err(err) if is_conflict(&err) => {
                    tracing::debug!(configmap = %self.describe(), key, "gate state changed concurrently; retrying");
                }
                Err(err) => return Err(self.api_err("update")(err)),
            }
        }
        Err(StateError::Contended {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            attempts: ATTEMPTS,
        })
    }
}
