//! What starts a rollout: a change to a referenced ConfigMap does; setting
//! the image back to the promoted one does not.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapEnvSource, EnvFromSource};
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use serin::api::Phase;
use serin_e2e::fixtures;
use serin_e2e::serin::SerinProcess;
use serin_e2e::{crds, with_namespace};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_config_map_change_starts_a_rollout_and_reverting_the_image_does_not() {
    with_namespace("revisions", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        let config_maps: Api<ConfigMap> = ctx.api();
        let deployments: Api<Deployment> = ctx.api();
        let config = ConfigMap {
            metadata: ObjectMeta {
                name: Some("podinfo-config".into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([("COLOR".to_string(), "blue".to_string())])),
            ..ConfigMap::default()
        };
        config_maps.create(&PostParams::default(), &config).await?;
        let mut dep = fixtures::deployment("podinfo", "podinfo:1", 1);
        if let Some(container) = dep
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
            .and_then(|p| p.containers.first_mut())
        {
            container.env_from = Some(vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "podinfo-config".into(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            }]);
        }
        deployments.create(&PostParams::default(), &dep).await?;
        let _serin = SerinProcess::controller(&ctx, &[]).await?;
        fixtures::create_canary(
            &ctx,
            fixtures::gatewayapi_canary("podinfo", "1s", json!({ "stepWeight": 50 })),
        )
        .await?;
        let initialized = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Initialized, T).await?;
        let first_revision = initialized.status.unwrap_or_default().last_promoted_spec;
        let copy = config_maps.get("podinfo-config-primary").await?;
        assert_eq!(
            copy.data.unwrap_or_default().get("COLOR").map(String::as_str),
            Some("blue")
        );

        // Only the ConfigMap changes.
        let patch = json!({ "data": { "COLOR": "green" } });
        config_maps
            .patch("podinfo-config", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Progressing, T).await?;
        let succeeded = fixtures::wait_for_phase(&ctx, "podinfo", Phase::Succeeded, T).await?;
        let status = succeeded.status.unwrap_or_default();
        assert_ne!(
            status.last_promoted_spec, first_revision,
            "a config change is a new revision"
        );
        let copy = config_maps.get("podinfo-config-primary").await?;
        assert_eq!(
            copy.data.unwrap_or_default().get("COLOR").map(String::as_str),
            Some("green"),
            "promoted config"
        );

        // A new image that is aborted, then the image set back to the promoted one.
        fixtures::set_image(&ctx, "podinfo", "podinfo:2").await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Progressing, T).await?;
        fixtures::annotate_canary(&ctx, "podinfo", "serin.dev/abort", Some("stop")).await?;
        fixtures::wait_for_phase(&ctx, "podinfo", Phase::Failed, T).await?;
        fixtures::set_image(&ctx, "podinfo", "podinfo:1").await?;
        // Several intervals with no new analysis: the promoted revision is not a new one.
        fixtures::holds_for(
            &ctx,
            "podinfo",
            "no rollout of the promoted revision",
            Duration::from_secs(4),
            |s| s.phase == Phase::Failed && s.last_promoted_spec == status.last_promoted_spec,
        )
        .await?;
        assert_eq!(
            fixtures::replicas_of(&deployments.get("podinfo").await?),
            Some(0),
            "target stays at zero"
        );
        Ok(())
    })
    .await;
}
