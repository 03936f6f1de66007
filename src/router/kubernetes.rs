//! The `kubernetes` provider: blue/green with no routing objects. The apex
//! Service always selects the primary; the canary is analysed through
//! `<apex>-canary` and promoted by copying it to the primary, so there is no
//! weight to set and nothing for a router to write.

use std::sync::Arc;

use async_trait::async_trait;
use kube::Client;

use crate::applied::Applied;

use super::{Router, RouterError};
use crate::api::Canary;
use crate::rollout::Weights;

pub struct KubernetesRouter;

pub(crate) fn router(_client: Client, _applied: Arc<Applied>) -> Arc<dyn Router> {
    Arc::new(KubernetesRouter)
}

#[async_trait]
impl Router for KubernetesRouter {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn apply(&self, _canary: &Canary, _weights: Weights) -> Result<(), RouterError> {
        Ok(())
    }

    async fn weights(&self, _canary: &Canary) -> Result<Option<Weights>, RouterError> {
        Ok(None)
    }

    async fn remove(&self, _canary: &Canary) -> Result<(), RouterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_nothing_and_reports_no_weights() {
        let canary = crate::router::fixtures::canary();
        let router = KubernetesRouter;
        router
            .apply(&canary, Weights::canary(40))
            .await
            .expect("apply is a no-op");
        assert_eq!(router.weights(&canary).await.expect("no API call"), None);
        router.remove(&canary).await.expect("remove is a no-op");
    }
}
