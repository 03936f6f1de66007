//! `serin loadtester` as a process: its built-in load generator sends real requests at the asked rate
//! and stops at its duration, gate state kept in a ConfigMap survives a restart, and the load tester
//! chart's RBAC is exactly enough for that state.

use std::time::Duration;

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::json;
use serin_e2e::loadtester::{CountingTarget, Loadtester};
use serin_e2e::wait::poll_until;
use serin_e2e::with_namespace;

const RATE: u64 = 20;
const SECONDS: u64 = 5;

#[tokio::test]
async fn a_load_task_sends_the_asked_rate_and_stops_at_its_duration() {
    with_namespace("lt-load", |ctx| async move {
        let target = CountingTarget::start().await?;
        let lt = Loadtester::start(&ctx, &[]).await?;
        let task = json!({
            "name": "podinfo",
            "namespace": ctx.namespace,
            "phase": "Progressing",
            "checksum": "1",
            "metadata": {
                "type": "load",
                "url": target.url,
                "rate": RATE.to_string(),
                "duration": format!("{SECONDS}s"),
            },
        });
        let (status, body) = lt.post("/", &task).await?;
        ensure!(status == 202, "POST / answered {status}: {body}");
        // The next analysis tick asks again while the test runs: accepted, not stacked.
        let (status, body) = lt.post("/", &task).await?;
        ensure!(
            status == 202 && body.contains("already running"),
            "{status}: {body}"
        );

        let finished = lt
            .process
            .wait_for_log(&["load test finished", "podinfo."], Duration::from_secs(30))
            .await?;
        // Nothing more arrives after the end: wait for a second of silence, bounded.
        poll_until(
            "the target to go quiet",
            Duration::from_secs(15),
            Duration::from_millis(100),
            || async { Ok(target.quiet_for().filter(|q| *q >= Duration::from_secs(1))) },
        )
        .await?;

        let count = target.count();
        let expected = RATE * SECONDS;
        let span = target.span().context("no request arrived")?;
        eprintln!("load: {count} requests in {span:?} (asked {expected}); {finished}");
        ensure!(
            (expected * 3 / 4..=expected * 5 / 4).contains(&count),
            "{count} requests, expected {expected} ± 25%"
        );
        ensure!(
            span <= Duration::from_millis(SECONDS * 1000 + 500),
            "requests spread over {span:?}, longer than the {SECONDS}s duration"
        );
        ensure!(
            finished.contains(&format!("requests={count}")),
            "the load tester's count differs from the target's ({count}): {finished}"
        );

        let (_, metrics) = lt.get("/metrics").await?;
        let series = format!(
            "serin_loadtester_load_requests_total{{canary=\"podinfo.{}\"}} {count}",
            ctx.namespace
        );
        ensure!(metrics.contains(&series), "no {series:?} in:\n{metrics}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn gate_state_survives_a_restart() {
    with_namespace("lt-gates", |ctx| async move {
        let name = "loadtester-gates";
        let state = format!("{}/{name}", ctx.namespace);
        let flags = ["--state-configmap", state.as_str()];
        let canary = json!({ "name": "podinfo", "namespace": ctx.namespace });
        let key = format!("gate.podinfo.{}", ctx.namespace);
        let configmaps: Api<ConfigMap> = ctx.api();

        let lt = Loadtester::start(&ctx, &flags).await?;
        // Started with no ConfigMap: it creates one, and every gate starts closed.
        ensure!(
            configmaps.get_opt(name).await?.is_some(),
            "state ConfigMap not created"
        );
        ensure!(
            lt.post("/gate/check", &canary).await?.0 == 403,
            "a new gate is open"
        );
        let (status, body) = lt.post("/gate/open", &canary).await?;
        ensure!(status == 202, "/gate/open answered {status}: {body}");
        ensure!(
            lt.post("/gate/check", &canary).await?.0 == 200,
            "the opened gate is closed"
        );
        let stored = configmaps.get(name).await?.data.unwrap_or_default();
        ensure!(
            stored.get(&key).map(String::as_str) == Some("open"),
            "stored: {stored:?}"
        );

        // A crash: SIGKILL, no chance to flush anything.
        lt.process.kill().await?;
        let lt = Loadtester::start(&ctx, &flags).await?;
        let (status, body) = lt.post("/gate/check", &canary).await?;
        ensure!(
            status == 200,
            "after a restart the gate answered {status}: {body}"
        );

        let (status, body) = lt.post("/gate/close", &canary).await?;
        ensure!(status == 202, "/gate/close answered {status}: {body}");
        // A graceful stop this time.
        let exit = lt.process.terminate(Duration::from_secs(10)).await?;
        ensure!(exit.success(), "the load tester exited with {exit} on SIGTERM");
        let lt = Loadtester::start(&ctx, &flags).await?;
        let (status, body) = lt.post("/gate/check", &canary).await?;
        ensure!(
            status == 403,
            "after close and restart the gate answered {status}: {body}"
        );
        ensure!(
            lt.post("/rollback/check", &canary).await?.0 == 403,
            "rollback switch open"
        );
        lt.process.kill().await?;
        Ok(())
    })
    .await;
}

/// The load tester chart's Role is enough: `serin loadtester` running as the
/// chart's ServiceAccount, with nothing but the chart's RBAC, creates its gate
/// ConfigMap and opens and closes a gate; anything else on ConfigMaps is refused.
#[tokio::test]
async fn the_chart_rbac_is_enough_and_no_more() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use kube::api::{DeleteParams, ListParams, PostParams};
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use serin_e2e::{helm, rbac};

    with_namespace("lt-rbac", |ctx| async move {
        let yaml = helm::template(
            "serin-loadtester",
            "lt",
            &ctx.namespace,
            &[
                "--show-only",
                "templates/rbac.yaml",
                "--show-only",
                "templates/serviceaccount.yaml",
            ],
        )
        .await?;
        let mut account = None;
        for doc in helm::documents(&yaml)? {
            let post = PostParams::default();
            match helm::kind(&doc) {
                "Role" => drop(
                    ctx.api::<Role>()
                        .create(&post, &serde_json::from_value(doc)?)
                        .await?,
                ),
                "RoleBinding" => drop(
                    ctx.api::<RoleBinding>()
                        .create(&post, &serde_json::from_value(doc)?)
                        .await?,
                ),
                "ServiceAccount" => {
                    let sa = ctx
                        .api::<ServiceAccount>()
                        .create(&post, &serde_json::from_value(doc)?)
                        .await?;
                    account = sa.metadata.name;
                }
                other => anyhow::bail!("unexpected {other} in the chart's RBAC"),
            }
        }
        let account = account.context("the chart rendered no ServiceAccount")?;
        let kubeconfig = rbac::kubeconfig_for(&ctx.client, &ctx.namespace, &account).await?;
        let config = kube::Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig)?,
            &KubeConfigOptions::default(),
        )
        .await?;
        let restricted: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config)?, &ctx.namespace);
        let state = "lt-gates";
        // The authorizer learns of a new RoleBinding through a watch: wait until it has.
        poll_until(
            "the chart's RoleBinding to take effect",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                match restricted.get_opt(state).await {
                    Ok(_) => Ok(Some(())),
                    Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
                    Err(err) => Err(err.into()),
                }
            },
        )
        .await?;

        let flag = format!("{}/{state}", ctx.namespace);
        let path = kubeconfig.to_str().context("kubeconfig path is not UTF-8")?;
        let lt = Loadtester::start_as(&ctx, path, &["--state-configmap", &flag]).await?;
        let canary = json!({ "name": "podinfo", "namespace": ctx.namespace });
        for (path, expected) in [
            ("/gate/check", 403),
            ("/gate/open", 202),
            ("/gate/check", 200),
            ("/gate/close", 202),
            ("/gate/check", 403),
            ("/rollback/open", 202),
            ("/rollback/check", 200),
        ] {
            let (status, body) = lt.post(path, &canary).await?;
            ensure!(
                status == expected,
                "{path} answered {status}, not {expected}: {body}"
            );
        }
        let stored = ctx.api::<ConfigMap>().get(state).await?.data.unwrap_or_default();
        ensure!(
            stored
                .get(&format!("rollback.podinfo.{}", ctx.namespace))
                .map(String::as_str)
                == Some("open"),
            "stored: {stored:?}"
        );
        lt.process.kill().await?;

        let forbidden = |result: Result<(), kube::Error>, what: &str| match result {
            Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
            other => Err(anyhow::anyhow!("{what}: expected a 403, got {other:?}")),
        };
        forbidden(
            restricted.get("other").await.map(drop),
            "reading another ConfigMap",
        )?;
        forbidden(
            restricted.list(&ListParams::default()).await.map(drop),
            "listing ConfigMaps",
        )?;
        forbidden(
            restricted.delete(state, &DeleteParams::default()).await.map(drop),
            "deleting the gate ConfigMap",
        )?;
        Ok(())
    })
    .await;
}
