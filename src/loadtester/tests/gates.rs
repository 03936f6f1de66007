//! Gate endpoints and gate state persistence.

use super::super::state::{Backend, FileStore};
use super::*;

fn canary() -> Value {
    json!({ "name": "podinfo", "namespace": "test" })
}

#[tokio::test]
async fn approve_and_halt_are_fixed() {
    let app = app();
    assert_eq!(post(&app, "/gate/approve", canary()).await.0, StatusCode::OK);
    assert_eq!(get(&app, "/gate/approve").await.0, StatusCode::OK);
    assert_eq!(post(&app, "/gate/halt", canary()).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_gate_is_closed_until_opened_and_closes_again() {
    let app = app();
    assert_eq!(post(&app, "/gate/check", canary()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&app, "/gate/open", canary()).await.0, StatusCode::ACCEPTED);
    let (status, body) = post(&app, "/gate/check", canary()).await;
    assert_eq!(
        (status, body.trim()),
        (StatusCode::OK, "gate.podinfo.test is open")
    );
    // The rollback switch and other canaries are separate.
    assert_eq!(
        post(&app, "/rollback/check", canary()).await.0,
        StatusCode::FORBIDDEN
    );
    let other = json!({ "name": "podinfo", "namespace": "other" });
    assert_eq!(post(&app, "/gate/check", other).await.0, StatusCode::FORBIDDEN);

    assert_eq!(post(&app, "/gate/close", canary()).await.0, StatusCode::ACCEPTED);
    assert_eq!(post(&app, "/gate/check", canary()).await.0, StatusCode::FORBIDDEN);

    let metrics = get(&app, "/metrics").await.1;
    assert!(
        metrics.contains(r#"serin_loadtester_gate_checks_total{gate="gate",result="closed"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"serin_loadtester_gate_checks_total{gate="gate",result="open"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_rollback_switch_opens_and_closes() {
    let app = app();
    assert_eq!(
        post(&app, "/rollback/open", canary()).await.0,
        StatusCode::ACCEPTED
    );
    let (status, body) = post(&app, "/rollback/check", canary()).await;
    assert_eq!(
        (status, body.trim()),
        (StatusCode::OK, "rollback.podinfo.test is open")
    );
    assert_eq!(post(&app, "/gate/check", canary()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        post(&app, "/rollback/close", canary()).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(&app, "/rollback/check", canary()).await.0,
        StatusCode::FORBIDDEN
    );
}

fn temp_state_file() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("serin-loadtester-test-{}-{n}.json", std::process::id()))
}

async fn file_app(path: &std::path::Path) -> Arc<App> {
    let gates = GateStore::load(Backend::File(FileStore::new(path.to_path_buf())))
        .await
        .expect("state loads");
    app_with(Duration::from_secs(60), NamespacePolicy::default(), gates)
}

#[tokio::test]
async fn file_state_survives_a_restart() {
    let path = temp_state_file();
    let first = file_app(&path).await;
    assert_eq!(post(&first, "/gate/open", canary()).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        post(&first, "/rollback/open", canary()).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(&first, "/rollback/close", canary()).await.0,
        StatusCode::ACCEPTED
    );
    drop(first);

    let second = file_app(&path).await;
    assert_eq!(post(&second, "/gate/check", canary()).await.0, StatusCode::OK);
    assert_eq!(
        post(&second, "/rollback/check", canary()).await.0,
        StatusCode::FORBIDDEN
    );
    let text = std::fs::read_to_string(&path).expect("state file written");
    let stored: Value = serde_json::from_str(&text).expect("JSON state");
    assert_eq!(
        stored,
        json!({ "gate.podinfo.test": "open", "rollback.podinfo.test": "closed" })
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_corrupt_state_file_stops_the_start() {
    let path = temp_state_file();
    std::fs::write(&path, "not json").expect("write");
    let result = GateStore::load(Backend::File(FileStore::new(path.clone()))).await;
    assert!(
        result.is_err(),
        "a corrupt state must not silently close every gate"
    );
    let _ = std::fs::remove_file(&path);
}
