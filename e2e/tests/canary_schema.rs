//! The API server itself refuses invalid Canaries, with messages a user can
//! act on: OpenAPI and CEL rules generated from serin's types.

use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, CustomResourceExt};
use serde_json::{Value, json};
use serin::api::Canary;
use serin_e2e::{TestContext, crds, with_namespace};

fn valid_canary(name: &str) -> Value {
    json!({
        "apiVersion": "serin.dev/v1beta1",
        "kind": "Canary",
        "metadata": { "name": name },
        "spec": {
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo" },
            "service": { "port": 9898 },
            "analysis": { "interval": "30s", "threshold": 5, "maxWeight": 50, "stepWeight": 10 }
        }
    })
}

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

/// Applies `edit` to a valid Canary and expects the API server to refuse it
/// with a message containing every one of `expected`.
async fn assert_rejected(ctx: &TestContext, case: &str, edit: impl FnOnce(&mut Value), expected: &[&str]) {
    let mut body = valid_canary(case);
    edit(&mut body);
    match create(ctx, body).await {
        Ok(()) => panic!("{case}: the API server accepted an invalid Canary"),
        Err(message) => {
            for part in expected {
                assert!(
                    message.contains(part),
                    "{case}: message {message:?} does not mention {part:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn invalid_canaries_are_refused_with_readable_messages() {
    with_namespace("schema", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        create(&ctx, valid_canary("valid"))
            .await
            .map_err(anyhow::Error::msg)?;

        assert_rejected(
            &ctx,
            "step-weight-zero",
            |b| b["spec"]["analysis"]["stepWeight"] = json!(0),
            &["spec.analysis.stepWeight", "greater than or equal to 1"],
        )
        .await;
        assert_rejected(
            &ctx,
            "step-weight-above-100",
            |b| b["spec"]["analysis"]["stepWeight"] = json!(101),
            &["spec.analysis.stepWeight", "less than or equal to 100"],
        )
        .await;
        let use_step_weights = |b: &mut Value, weights: Value| {
            let analysis = b["spec"]["analysis"].as_object_mut().expect("analysis object");
            analysis.remove("stepWeight");
            analysis.insert("stepWeights".into(), weights);
        };
        assert_rejected(
            &ctx,
            "step-weights-empty",
            |b| use_step_weights(b, json!([])),
            &["stepWeights must not be empty"],
        )
        .await;
        assert_rejected(
            &ctx,
            "step-weights-decreasing",
            |b| use_step_weights(b, json!([10, 30, 20])),
            &["stepWeights must be strictly increasing"],
        )
        .await;
        assert_rejected(
            &ctx,
            "step-weights-repeated",
            |b| use_step_weights(b, json!([10, 10, 20])),
            &["stepWeights must be strictly increasing"],
        )
        .await;
        assert_rejected(
            &ctx,
            "step-weights-above-100",
            |b| use_step_weights(b, json!([50, 120])),
            &["stepWeights entries must be between 1 and 100"],
        )
        .await;
        assert_rejected(
            &ctx,
            "both-step-kinds",
            |b| b["spec"]["analysis"]["stepWeights"] = json!([10, 20]),
            &["set either stepWeight or stepWeights, not both"],
        )
        .await;
        assert_rejected(
            &ctx,
            "no-steps",
            |b| {
                b["spec"]["analysis"]
                    .as_object_mut()
                    .expect("analysis object")
                    .remove("stepWeight");
            },
            &["analysis needs stepWeight, stepWeights or iterations"],
        )
        .await;
        assert_rejected(
            &ctx,
            "max-weight-above-100",
            |b| b["spec"]["analysis"]["maxWeight"] = json!(150),
            &["spec.analysis.maxWeight", "less than or equal to 100"],
        )
        .await;
        assert_rejected(
            &ctx,
            "missing-target-ref",
            |b| {
                b["spec"]
                    .as_object_mut()
                    .expect("spec object")
                    .remove("targetRef");
            },
            &["spec.targetRef", "Required value"],
        )
        .await;
        assert_rejected(
            &ctx,
            "interval-not-a-duration",
            |b| b["spec"]["analysis"]["interval"] = json!("10"),
            &["spec.analysis.interval", "should match"],
        )
        .await;
        assert_rejected(
            &ctx,
            "interval-words",
            |b| b["spec"]["analysis"]["interval"] = json!("ten seconds"),
            &["spec.analysis.interval"],
        )
        .await;
        assert_rejected(
            &ctx,
            "negative-threshold",
            |b| b["spec"]["analysis"]["threshold"] = json!(-1),
            &["spec.analysis.threshold", "greater than or equal to 0"],
        )
        .await;
        assert_rejected(
            &ctx,
            "negative-iterations",
            |b| b["spec"]["analysis"]["iterations"] = json!(-2),
            &["spec.analysis.iterations", "greater than or equal to 0"],
        )
        .await;
        assert_rejected(
            &ctx,
            "target-not-a-deployment",
            |b| b["spec"]["targetRef"]["kind"] = json!("StatefulSet"),
            &["targetRef.kind must be Deployment"],
        )
        .await;
        assert_rejected(
            &ctx,
            "unknown-provider",
            |b| b["spec"]["provider"] = json!("envoy-magic"),
            &["unknown provider"],
        )
        .await;
        assert_rejected(
            &ctx,
            "deadline-on-a-load-test",
            |b| {
                b["spec"]["analysis"]["webhooks"] =
                    json!([{ "name": "load", "url": "http://lt/", "deadline": "5m" }])
            },
            &["deadline applies only to gates"],
        )
        .await;
        assert_rejected(
            &ctx,
            "on-deadline-without-deadline",
            |b| {
                b["spec"]["analysis"]["webhooks"] = json!([{
                    "name": "approve", "type": "confirm-promotion", "url": "http://lt/gate/check",
                    "onDeadline": "proceed"
                }])
            },
            &["onDeadline needs a deadline"],
        )
        .await;
        assert_rejected(
            &ctx,
            "unknown-deadline-action",
            |b| {
                b["spec"]["analysis"]["webhooks"] = json!([{
                    "name": "approve", "type": "confirm-promotion", "url": "http://lt/gate/check",
                    "deadline": "1h", "onDeadline": "ignore"
                }])
            },
            &["onDeadline", "supported values"],
        )
        .await;
        Ok(())
    })
    .await;
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
