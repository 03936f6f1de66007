//! The local control plane runs real workloads: a Deployment becomes
//! Available with its pods Running on kwok's fake nodes, and goes away again.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::conditions;
use kube::{Api, ResourceExt};
use serin_e2e::{fixtures, wait, with_namespace};

const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

#[tokio::test]
async fn deployment_becomes_available_on_kwok_nodes_and_is_deleted() {
    with_namespace("cluster", |ctx| async move {
        let deployments: Api<Deployment> = ctx.api();
        let pods: Api<Pod> = ctx.api();
        let nodes: Api<Node> = Api::all(ctx.client.clone());

        let created = deployments
            .create(
                &PostParams::default(),
                &fixtures::deployment("demo", "registry.invalid/podinfo:6.0.0", 2),
            )
            .await?;
        let available = wait::for_object(
            &deployments,
            "demo",
            Duration::from_secs(120),
            conditions::is_deployment_completed(),
        )
        .await?;
        let status = available.status.unwrap_or_default();
        assert_eq!(status.available_replicas, Some(2), "available replicas");
        let conditions = status.conditions.unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True"),
            "Deployment has no Available=True condition: {conditions:?}"
        );

        let selected = pods.list(&ListParams::default().labels("app=demo")).await?.items;
        assert_eq!(selected.len(), 2, "pods of the Deployment");
        for pod in &selected {
            let status = pod.status.clone().unwrap_or_default();
            assert_eq!(
                status.phase.as_deref(),
                Some("Running"),
                "phase of pod {}",
                pod.name_any()
            );
            assert!(status.pod_ip.is_some(), "pod {} has no IP", pod.name_any());
            let node_name = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .expect("pod is scheduled");
            let node = nodes.get(&node_name).await?;
            assert_eq!(
                node.annotations().get(KWOK_NODE_ANNOTATION).map(String::as_str),
                Some("fake"),
                "pod {} runs on {node_name}, which is not a kwok node",
                pod.name_any()
            );
        }

        deployments.delete("demo", &DeleteParams::foreground()).await?;
        wait::for_deletion(
            &deployments,
            "demo",
            &created.uid().unwrap_or_default(),
            Duration::from_secs(60),
        )
        .await?;
        wait::poll_until(
            "the Deployment's pods to be gone",
            Duration::from_secs(60),
            Duration::from_millis(250),
            || {
                let pods = pods.clone();
                async move {
                    let left = pods.list(&ListParams::default().labels("app=demo")).await?.items;
                    Ok(left.is_empty().then_some(()))
                }
            },
        )
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn at_least_two_kwok_nodes_are_ready() {
    with_namespace("nodes", |ctx| async move {
        let nodes: Api<Node> = Api::all(ctx.client.clone());
        let ready: Vec<String> = nodes
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|n| n.annotations().get(KWOK_NODE_ANNOTATION).map(String::as_str) == Some("fake"))
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .map(|n| n.name_any())
            .collect();
        assert!(ready.len() >= 2, "ready kwok nodes: {ready:?}");
        Ok(())
    })
    .await;
}
