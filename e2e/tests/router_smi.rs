//! The SMI router against the real API server: it creates the TrafficSplit
//! for a Canary, moves the weights without disturbing what other field
//! managers set on the split, reads the weights back and removes the split
//! again. The controller does not run; the Canary only has to exist so the
//! split can be owned by it.

use std::time::Duration;

use anyhow::Context;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use serin::rollout::Weights;
use serin::router::router_for;
use serin::router::smi_types::{Weight, v1alpha1, v1alpha3};
use serin_e2e::{fixtures, wait, with_namespace};

async fn install_crds(client: &Client) -> anyhow::Result<()> {
    serin_e2e::crds::install_serin(client).await?;
    serin_e2e::crds::install(client, vec![serin::router::smi_types::crd()?]).await
}

fn backends_v1alpha1(split: &v1alpha1::TrafficSplit) -> Vec<(&str, Option<&Weight>)> {
    split
        .spec
        .backends
        .iter()
        .map(|b| (b.service.as_str(), b.weight.as_ref()))
        .collect()
}

fn quantity(q: &str) -> Option<Weight> {
    Some(Weight::Quantity(q.into()))
}

#[tokio::test]
async fn linkerd_router_applies_moves_reads_and_removes_the_split() {
    with_namespace("router-smi", |ctx| async move {
        install_crds(&ctx.client).await?;
        let canary = fixtures::router_canary(&ctx, "podinfo", "linkerd", json!({"port": 9898})).await?;
        let router = router_for("linkerd", ctx.client.clone())?;
        let splits: Api<v1alpha1::TrafficSplit> = ctx.api();

        assert_eq!(router.weights(&canary).await?, None, "no split yet");
        fixtures::first_apply(router.as_ref(), &canary, Weights::ALL_PRIMARY).await?;

        let split = splits.get("podinfo").await?;
        assert_eq!(split.spec.service, "podinfo", "no hosts: the apex");
        assert_eq!(
            backends_v1alpha1(&split),
            [
                ("podinfo-canary", quantity("0").as_ref()),
                ("podinfo-primary", quantity("100").as_ref())
            ]
        );
        let owner = &split.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("Canary", Some(true)));
        assert_eq!(Some(&owner.uid), canary.metadata.uid.as_ref());

        // A user annotates the split; another controller labels it with its own apply.
        let annotate = PatchParams {
            field_manager: Some("kubectl-annotate".into()),
            ..PatchParams::default()
        };
        splits
            .patch(
                "podinfo",
                &annotate,
                &Patch::Merge(json!({"metadata": {"annotations": {"example.com/owner": "team-web"}}})),
            )
            .await?;
        let other_apply = json!({
            "apiVersion": "split.smi-spec.io/v1alpha1",
            "kind": "TrafficSplit",
            "metadata": {"name": "podinfo", "labels": {"mesh.example.com/tracked": "true"}}
        });
        splits
            .patch(
                "podinfo",
                &PatchParams::apply("other-controller"),
                &Patch::Apply(&other_apply),
            )
            .await
            .context("another manager's apply of a label must not conflict with serin")?;

        router.apply(&canary, Weights::canary(40)).await?;
        let split = splits.get("podinfo").await?;
        assert_eq!(
            backends_v1alpha1(&split),
            [
                ("podinfo-canary", quantity("40").as_ref()),
                ("podinfo-primary", quantity("60").as_ref())
            ]
        );
        assert_eq!(
            split.annotations().get("example.com/owner").map(String::as_str),
            Some("team-web")
        );
        assert_eq!(
            split.labels().get("mesh.example.com/tracked").map(String::as_str),
            Some("true")
        );
        let managers: Vec<_> = split
            .managed_fields()
            .iter()
            .filter_map(|m| m.manager.as_deref())
            .collect();
        for manager in ["serin", "kubectl-annotate", "other-controller"] {
            assert!(managers.contains(&manager), "{manager} missing from {managers:?}");
        }

        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(40)));
        // The CRD has no conversion, so v1alpha2 hands out v1alpha1's quantity strings.
        let as_v1alpha2 = router_for("smi:v1alpha2", ctx.client.clone())?;
        assert_eq!(as_v1alpha2.weights(&canary).await?, Some(Weights::canary(40)));

        // Applying the same weights again changes nothing on the server.
        router.apply(&canary, Weights::canary(40)).await?;
        let again = splits.get("podinfo").await?;
        assert_eq!(
            again.resource_version(),
            split.resource_version(),
            "a no-op apply wrote"
        );

        router.remove(&canary).await?;
        let uid = split.uid().context("a stored split has a uid")?;
        wait::for_deletion(&splits, "podinfo", &uid, Duration::from_secs(30)).await?;
        assert_eq!(router.weights(&canary).await?, None);
        router.remove(&canary).await.context("removing twice is fine")?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn smi_v1alpha3_router_writes_integers_and_leaves_a_split_it_does_not_control() {
    with_namespace("router-smi", |ctx| async move {
        install_crds(&ctx.client).await?;
        let router = router_for("smi:v1alpha3", ctx.client.clone())?;
        let splits: Api<v1alpha3::TrafficSplit> = ctx.api();

        let canary = fixtures::router_canary(
            &ctx,
            "backend",
            "smi:v1alpha3",
            json!({"port": 80, "hosts": ["backend.mesh"]}),
        )
        .await?;
        fixtures::first_apply(router.as_ref(), &canary, Weights::canary(20)).await?;
        let split = splits.get("backend").await?;
        assert_eq!(split.spec.service, "backend.mesh", "the first host");
        let weights: Vec<_> = split.spec.backends.iter().map(|b| b.weight.clone()).collect();
        assert_eq!(weights, [Some(Weight::Integer(20)), Some(Weight::Integer(80))]);
        assert_eq!(router.weights(&canary).await?, Some(Weights::canary(20)));

        let frontend = fixtures::router_canary(
            &ctx,
            "frontend",
            "smi:v1alpha3",
            json!({"port": 80, "name": "handmade"}),
        )
        .await?;
        let handmade: v1alpha3::TrafficSplit = serde_json::from_value(json!({
            "apiVersion": "split.smi-spec.io/v1alpha3",
            "kind": "TrafficSplit",
            "metadata": {"name": "handmade"},
            "spec": {"service": "handmade", "backends": [{"service": "handmade-v2", "weight": 100}]}
        }))?;
        splits.create(&PostParams::default(), &handmade).await?;
        router.remove(&frontend).await?;
        assert!(
            splits.get_opt("handmade").await?.is_some(),
            "a split the Canary does not control was deleted"
        );
        assert_eq!(router.weights(&frontend).await?, None, "no serin backends on it");
        Ok(())
    })
    .await;
}
