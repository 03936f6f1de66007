//! `POST /` tasks, the allow-list, `/healthz` and `/metrics`.

use super::*;

#[tokio::test]
async fn bad_json_is_a_400() {
    let (status, body) = post_raw(&app(), "/", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("invalid JSON payload"), "{body}");
}

#[tokio::test]
async fn a_payload_without_namespace_is_a_400() {
    let (status, body) = post(&app(), "/", json!({ "name": "podinfo" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("namespace"), "{body}");
}

#[tokio::test]
async fn a_name_that_is_not_a_kubernetes_name_is_a_400() {
    let (status, body) = post(
        &app(),
        "/gate/open",
        json!({ "name": "a b", "namespace": "test" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("not a valid Kubernetes name"), "{body}");
}

/// flagger-loadtester's types that serin does not implement, as the README lists them.
#[tokio::test]
async fn an_unknown_type_is_a_400_naming_it() {
    for type_ in ["helm", "helmv3", "tester", "concord", "ngrinder"] {
        let (status, body) = post(&app(), "/", payload(json!({ "type": type_, "cmd": "x" }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{type_}: {body}");
        assert!(body.contains(&format!("{type_:?}")), "{body}");
    }
}

#[tokio::test]
async fn a_task_without_cmd_is_a_400() {
    for metadata in [
        json!({}),
        json!({ "type": "cmd" }),
        json!({ "type": "bash", "cmd": " " }),
    ] {
        let (status, body) = post(&app(), "/", payload(metadata)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("metadata.cmd is required"), "{body}");
    }
}

#[tokio::test]
async fn a_load_task_without_url_or_duration_is_a_400() {
    let (status, body) = post(&app(), "/", payload(json!({ "type": "load", "rate": "10" }))).await;
    assert_eq!(
        (status, body.trim()),
        (
            StatusCode::BAD_REQUEST,
            "metadata.url is required for a load task"
        )
    );
    let no_duration = json!({ "type": "load", "rate": "10", "url": "http://127.0.0.1:1/" });
    let (status, body) = post(&app(), "/", payload(no_duration)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("metadata.duration is required"), "{body}");
}

#[tokio::test]
async fn bash_success_is_200_and_can_return_stdout() {
    let app = app();
    let (status, body) = post(&app, "/", payload(json!({ "type": "bash", "cmd": "echo hello" }))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "\n"));
    let returning = json!({ "type": "bash", "cmd": "echo hello", "returnCmdOutput": "true" });
    let (status, body) = post(&app, "/", payload(returning)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello\n"));
}

#[tokio::test]
async fn bash_failure_is_500_with_the_output() {
    let cmd = "echo checked 3 pages; echo page 4 is broken >&2; exit 3";
    let (status, body) = post(&app(), "/", payload(json!({ "type": "bash", "cmd": cmd }))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("exit status: 3"), "{body}");
    assert!(body.contains("page 4 is broken"), "{body}");
    assert!(body.contains("checked 3 pages"), "{body}");
}

#[tokio::test]
async fn cmd_is_accepted_at_once_and_deduplicated_while_running() {
    let app = app();
    let slow = payload(json!({ "cmd": "sleep 30" }));
    let (status, body) = post(&app, "/", slow.clone()).await;
    assert_eq!((status, body.trim()), (StatusCode::ACCEPTED, "cmd task started"));
    let (status, body) = post(&app, "/", slow).await;
    assert_eq!(
        (status, body.trim()),
        (StatusCode::ACCEPTED, "cmd task already running")
    );
    assert_eq!(app.tasks.running(), 1);

    // Another command, or the same command for another canary, is another task.
    let (_, body) = post(&app, "/", payload(json!({ "type": "cmd", "cmd": "sleep 31" }))).await;
    assert_eq!(body.trim(), "cmd task started");
    let mut other = payload(json!({ "cmd": "sleep 30" }));
    other["namespace"] = json!("other");
    let (_, body) = post(&app, "/", other).await;
    assert_eq!(body.trim(), "cmd task started");
    assert_eq!(app.tasks.running(), 3);

    let metrics = get(&app, "/metrics").await.1;
    assert!(
        metrics.contains(r#"serin_loadtester_tasks_started_total{type="cmd"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"serin_loadtester_tasks_deduplicated_total{type="cmd"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_finished_cmd_can_run_again() {
    let app = app();
    let quick = payload(json!({ "cmd": "true", "logCmdOutput": "true" }));
    assert_eq!(post(&app, "/", quick.clone()).await.0, StatusCode::ACCEPTED);
    eventually("the cmd to finish", Duration::from_secs(10), || {
        app.tasks.running() == 0
    })
    .await;
    let (_, body) = post(&app, "/", quick).await;
    assert_eq!(body.trim(), "cmd task started");
}

#[tokio::test]
async fn cmd_is_killed_at_the_timeout() {
    let app = app_with(
        Duration::from_millis(300),
        NamespacePolicy::default(),
        GateStore::in_memory(),
    );
    assert_eq!(
        post(&app, "/", payload(json!({ "cmd": "sleep 60" }))).await.0,
        StatusCode::ACCEPTED
    );
    eventually("the cmd to be killed", Duration::from_secs(10), || {
        app.tasks.running() == 0
    })
    .await;
    let metrics = get(&app, "/metrics").await.1;
    assert!(
        metrics.contains(r#"serin_loadtester_tasks_failed_total{type="cmd"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_namespace_outside_the_allow_list_is_a_403_naming_it() {
    let policy = NamespacePolicy::new(Some("team-.*"), &["test".to_string()]).expect("valid policy");
    let app = app_with(Duration::from_secs(60), policy, GateStore::in_memory());
    let mut outsider = payload(json!({ "type": "bash", "cmd": "true" }));
    outsider["namespace"] = json!("intruder");
    for path in ["/", "/gate/check", "/gate/open", "/rollback/check"] {
        let (status, body) = post(&app, path, outsider.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            body.contains("namespace \"intruder\" is not allowed"),
            "{path}: {body}"
        );
    }
    let (status, _) = post(&app, "/", payload(json!({ "type": "bash", "cmd": "true" }))).await;
    assert_eq!(status, StatusCode::OK);
    let mut team = payload(json!({ "type": "bash", "cmd": "true" }));
    team["namespace"] = json!("team-a");
    assert_eq!(post(&app, "/", team).await.0, StatusCode::OK);
}

#[tokio::test]
async fn healthz_is_ok() {
    assert_eq!(
        get(&app(), "/healthz").await,
        (StatusCode::OK, "ok\n".to_string())
    );
}

#[tokio::test]
async fn a_timeout_kills_what_the_shell_started_too() {
    let app = app_with(
        Duration::from_millis(300),
        NamespacePolicy::default(),
        GateStore::in_memory(),
    );
    let pid_file = std::env::temp_dir().join(format!("serin-lt-child-{}", std::process::id()));
    // The shell waits on a background child: killing only the shell would leave `sleep` running.
    let cmd = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    assert_eq!(
        post(&app, "/", payload(json!({ "cmd": cmd }))).await.0,
        StatusCode::ACCEPTED
    );
    eventually("the cmd to be killed", Duration::from_secs(10), || {
        app.tasks.running() == 0
    })
    .await;
    let pid = std::fs::read_to_string(&pid_file).expect("the shell wrote its child's pid");
    let _ = std::fs::remove_file(&pid_file);
    let alive = || {
        std::process::Command::new("kill")
            .args(["-0", pid.trim()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    eventually("the shell's child to be gone", Duration::from_secs(5), || {
        !alive()
    })
    .await;
}
