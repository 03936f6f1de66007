//! The bad-input corpus (`e2e/corpus/`) on the real control plane: every
//! schema case is refused by the API server with its message, and every
//! semantic case is accepted, then reported by serin in the Canary's status
//! and a Warning event with the exact reason. `kubectl serin lint` is held to
//! the same corpus by a unit test (`src/plugin/lint_tests.rs`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::Value;
use serin::api::{AlertProvider, Canary, MetricTemplate, Phase};
use serin_e2e::corpus::{self, Case};
use serin_e2e::serin::SerinProcess;
use serin_e2e::{TestContext, crds, env, fixtures, wait, with_namespace};

const T: Duration = Duration::from_secs(90);

fn resource(kind: &str) -> anyhow::Result<ApiResource> {
    Ok(match kind {
        "Canary" => ApiResource::erase::<Canary>(&()),
        "MetricTemplate" => ApiResource::erase::<MetricTemplate>(&()),
        "AlertProvider" => ApiResource::erase::<AlertProvider>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        other => bail!("the corpus has no use for kind {other}"),
    })
}

/// Creates `doc` as it is, untyped, so the API server sees exactly the file.
async fn create(client: &Client, namespace: &str, doc: &Value) -> anyhow::Result<Result<(), String>> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource(Case::kind_of(doc))?);
    let obj: DynamicObject = serde_json::from_value(doc.clone())?;
    Ok(match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(other) => return Err(other.into()),
    })
}

#[tokio::test]
async fn schema_cases_are_refused_by_the_api_server_with_their_message() {
    with_namespace("bad-schema", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        let cases = corpus::load("schema", &[])?;
        let kinds = |k: &str| cases.iter().filter(|c| Case::kind_of(c.subject()) == k).count();
        eprintln!(
            "schema corpus: {} cases ({} Canary, {} MetricTemplate, {} AlertProvider)",
            cases.len(),
            kinds("Canary"),
            kinds("MetricTemplate"),
            kinds("AlertProvider")
        );
        // Each case is a valid object with one thing wrong: the valid ones are accepted.
        let canary = serde_json::json!({
            "apiVersion": "serin.dev/v1beta1", "kind": "Canary", "metadata": { "name": "valid" },
            "spec": { "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo" },
                      "service": { "port": 9898 },
                      "analysis": { "interval": "30s", "threshold": 5, "maxWeight": 50, "stepWeight": 10 } }
        });
        let template = serde_json::json!({
            "apiVersion": "serin.dev/v1beta1", "kind": "MetricTemplate", "metadata": { "name": "valid" },
            "spec": { "provider": { "type": "prometheus", "address": "http://prometheus:9090" }, "query": "up" }
        });
        let provider = serde_json::json!({
            "apiVersion": "serin.dev/v1beta1", "kind": "AlertProvider", "metadata": { "name": "valid" },
            "spec": { "type": "slack", "address": "https://hooks.slack.com/x" }
        });
        for valid in [canary, template, provider] {
            create(&ctx.client, &ctx.namespace, &valid)
                .await?
                .map_err(|m| anyhow!("a valid {} was refused: {m}", Case::kind_of(&valid)))?;
        }
        let mut wrong = Vec::new();
        for case in &cases {
            match create(&ctx.client, &ctx.namespace, case.subject()).await? {
                Ok(()) => wrong.push(format!("{}: accepted", case.name)),
                Err(message) => {
                    let missing = case.missing_from(&message);
                    if !missing.is_empty() {
                        wrong.push(format!("{}: {message:?} lacks {missing:?}", case.name));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} of {} cases:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
        Ok(())
    })
    .await;
}

/// Warning events recorded for Canary `name`: `(reason, note)`.
async fn warnings(ctx: &TestContext, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let api: Api<Event> = ctx.api();
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.regarding
                    .as_ref()
                    .is_some_and(|r| r.name.as_deref() == Some(name) && r.kind.as_deref() == Some("Canary"))
        })
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect())
}

/// Brings one semantic case to the point where serin reports it, and checks the report.
async fn check_semantic(ctx: &TestContext, case: &Case) -> anyhow::Result<()> {
    let canary = case
        .documents
        .iter()
        .find(|d| Case::kind_of(d) == "Canary")
        .context("a semantic case needs a Canary")?;
    let name = Case::name_of(canary);
    let target = canary["spec"]["targetRef"]["name"].as_str().unwrap_or_default();
    if !case.without_target {
        let deployments: Api<Deployment> = ctx.api();
        deployments
            .create(&Default::default(), &fixtures::deployment(target, "podinfo:1", 1))
            .await?;
    }
    // What the Canary refers to first, so the only problem is the one under test.
    for doc in case.documents.iter().rev() {
        create(&ctx.client, &ctx.namespace, doc)
            .await?
            .map_err(|m| anyhow!("the API server refused {}: {m}", Case::name_of(doc)))?;
    }
    let reason = case.reason.as_deref().context("`# reason:` header")?;
    let message = match case.outcome.as_deref() {
        Some("failed") => {
            fixtures::wait_for_phase(ctx, name, Phase::Initialized, T).await?;
            fixtures::set_image(ctx, target, "podinfo:2").await?;
            let failed = fixtures::wait_for_phase(ctx, name, Phase::Failed, T).await?;
            failed.status.and_then(|s| s.message).unwrap_or_default()
        }
        Some("not-ready") => {
            let blocked = fixtures::wait_for_status(ctx, name, &format!("Ready=False {reason}"), T, |s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == reason)
            })
            .await?;
            let status = blocked.status.unwrap_or_default();
            status
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.message)
                .unwrap_or_default()
        }
        Some("event") => {
            let what = format!(
                "a Warning event {reason} on Canary {name} saying {:?}",
                case.expect
            );
            wait::poll_until(&what, T, Duration::from_millis(250), || async {
                Ok(warnings(ctx, name)
                    .await?
                    .into_iter()
                    .find(|(r, note)| r == reason && case.missing_from(note).is_empty())
                    .map(|(_, note)| note))
            })
            .await?
        }
        other => bail!("unknown `# outcome:` {other:?}"),
    };
    let missing = case.missing_from(&message);
    if !missing.is_empty() {
        bail!("the message {message:?} lacks {missing:?}");
    }
    // The same problem as a Warning event with its stable reason (events may lag the status).
    wait::poll_until(
        &format!(
            "a Warning event {reason} on Canary {name} saying {:?}",
            case.expect
        ),
        T,
        Duration::from_millis(250),
        || async {
            let seen = warnings(ctx, name).await?;
            let found = seen
                .iter()
                .any(|(r, note)| r == reason && case.missing_from(note).is_empty());
            if !found && seen.iter().any(|(r, _)| r == reason) {
                // Keeps the notes in the timeout's message.
                bail!("{reason} events, none with the message: {seen:?}");
            }
            Ok(found.then_some(()))
        },
    )
    .await
}

#[tokio::test]
async fn semantic_cases_are_reported_by_serin_with_their_message_and_reason() {
    with_namespace("bad-semantic", |ctx| async move {
        crds::install_serin(&ctx.client).await?;
        fixtures::install_gateway_api(&ctx.client).await?;
        let prometheus = env::prometheus_url();
        let megabyte = "a".repeat(1 << 20);
        let cases = corpus::load(
            "semantic",
            &[
                ("PROMETHEUS", prometheus.as_str()),
                ("MEGABYTE", megabyte.as_str()),
            ],
        )?;
        eprintln!("semantic corpus: {} cases", cases.len());
        let _serin = SerinProcess::controller(&ctx, &[]).await?;
        // All at once in one serin: one bad Canary must not hold back another.
        let results = join_all(cases.iter().map(|case| {
            let ctx = &ctx;
            async move { (case, check_semantic(ctx, case).await) }
        }))
        .await;
        let wrong: Vec<String> = results
            .into_iter()
            .filter_map(|(case, result)| result.err().map(|e| format!("{}: {e:#}", case.name)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} cases:\n{}",
            wrong.len(),
            cases.len(),
            wrong.join("\n")
        );
        Ok(())
    })
    .await;
}
