//! A Canary with `autoscalerRef` gets a primary HorizontalPodAutoscaler that
//! scales the primary Deployment, with the target's bounds and metrics.

use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::json;
use serin::api::Phase;
use serin_e2e::{fixtures, with_namespace};

#[tokio::test]
async fn the_primary_gets_its_own_autoscaler() {
    with_namespace("hpa", |ctx| async move {
        let hpas: Api<HorizontalPodAutoscaler> = ctx.api();
        let hpa = HorizontalPodAutoscaler {
            metadata: ObjectMeta { name: Some("podinfo".into()), ..ObjectMeta::default() },
            spec: HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: "podinfo".into(),
                },
                min_replicas: Some(2),
                max_replicas: 4,
                metrics: Some(vec![MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target: MetricTarget {
                            type_: "Utilization".into(),
                            average_utilization: Some(80),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                }]),
                ..HorizontalPodAutoscalerSpec::default()
            },
            ..HorizontalPodAutoscaler::default()
        };
        hpas.create(&PostParams::default(), &hpa).await?;
        let _serin = fixtures::podinfo_with_serin(&ctx, "podinfo:1", 2).await?;
        let mut canary = fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 }));
        canary["spec"]["autoscalerRef"] =
            json!({ "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo",
                    "primaryScalerReplicas": { "minReplicas": 3 } });
        fixtures::create_canary(&ctx, canary).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, Duration::from_secs(60)).await?;

        let primary_hpa = hpas.get("podinfo-primary").await?;
        let spec = primary_hpa.spec;
        assert_eq!(spec.scale_target_ref.name, "podinfo-primary");
        assert_eq!(spec.min_replicas, Some(3), "primaryScalerReplicas overrides the minimum");
        assert_eq!(spec.max_replicas, 4);
        assert_eq!(spec.metrics.map(|m| m.len()), Some(1), "metrics copied");
        let owners = primary_hpa.metadata.owner_references.unwrap_or_default();
        assert!(owners.iter().any(|o| o.kind == "Canary" && o.name == "podinfo"), "owned by the Canary");
        Ok(())
    })
    .await;
}
