//! Flagger's manifests apply to serin's CRDs once their apiVersion is changed.
//! (The invalid Canaries the API server refuses, with their messages, are
//! the `schema/` cases of the bad-input corpus: `e2e/tests/bad_input.rs`.)

use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, CustomResourceExt};
use serde_json::{Value, json};
use serin::api::Canary;
use serin_e2e::{TestContext, crds, with_namespace};

async fn create(ctx: &TestContext, body: Value) -> Result<(), String> {
    let resource = ApiResource::erase::<Canary>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource);
    let obj: DynamicObject = serde_json::from_value(body).map_err(|e| e.to_string())?;
    api.create(&PostParams::default(), &obj)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            kube::Error::Api(status) => status.message,
            other => other.to_string(),
        })
}

#[tokio::test]
async fn a_flagger_manifest_applies_after_changing_only_its_api_version() {
    with_namespace("flagger-compat", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        // The shape of Flagger's documented podinfo Canary, apiVersion changed.
        let manifest = json!({
            "apiVersion": "serin.dev/v1beta1",
            "kind": "Canary",
            "metadata": { "name": "podinfo" },
            "spec": {
                "provider": "gatewayapi:v1",
                "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo" },
                "autoscalerRef": { "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo" },
                "progressDeadlineSeconds": 60,
                "service": {
                    "port": 9898, "targetPort": 9898, "portName": "http",
                    "hosts": ["www.example.com"],
                    "gatewayRefs": [{ "name": "gateway", "namespace": "istio-ingress" }],
                    "match": [{ "uri": { "prefix": "/" } }],
                    "headers": { "request": { "add": { "x-some-header": "value" } } }
                },
                "analysis": {
                    "interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10,
                    "metrics": [
                        { "name": "request-success-rate", "thresholdRange": { "min": 99 }, "interval": "1m" },
                        { "name": "request-duration", "thresholdRange": { "max": 500 }, "interval": "30s" },
                        { "name": "error-rate", "templateRef": { "name": "error-rate", "namespace": "flagger-system" },
                          "templateVariables": { "route": "podinfo" }, "thresholdRange": { "max": 1 } }
                    ],
                    "webhooks": [
                        { "name": "acceptance-test", "type": "pre-rollout", "url": "http://flagger-loadtester.test/",
                          "timeout": "30s", "metadata": { "type": "bash", "cmd": "curl -s http://podinfo-canary.test:9898/token" } },
                        { "name": "load-test", "type": "", "url": "http://flagger-loadtester.test/",
                          "metadata": { "cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/" } }
                    ],
                    "alerts": [{ "name": "on-call", "severity": "error", "providerRef": { "name": "on-call", "namespace": "flagger" } }]
                }
            }
        });
        create(&ctx, manifest).await.map_err(anyhow::Error::msg)?;
        let canaries: kube::Api<Canary> = ctx.api();
        let canary = canaries.get("podinfo").await?;
        assert_eq!(canary.spec.analysis.step_weight, Some(10));
        assert_eq!(canary.spec.analysis.metrics.len(), 3);
        assert_eq!(Canary::crd_name(), "canaries.serin.dev");
        Ok(())
    })
    .await;
}
