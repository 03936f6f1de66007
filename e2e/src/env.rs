//! Where the local environment lives, as printed by `e2e/cluster.sh env`.

use std::path::PathBuf;

const HINT: &str = "start the local environment with `e2e/cluster.sh up` and `eval \"$(e2e/cluster.sh env)\"`, \
                    or run `make test-e2e`";

fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {HINT}"),
    }
}

pub fn kubeconfig() -> String {
    required("KUBECONFIG")
}

/// Base URL of the Prometheus started by `cluster.sh`, e.g. `http://127.0.0.1:19090`.
pub fn prometheus_url() -> String {
    required("SERIN_PROMETHEUS_URL")
}

/// Directory that Prometheus watches for file-based service discovery.
pub fn prometheus_sd_dir() -> PathBuf {
    PathBuf::from(required("SERIN_PROMETHEUS_SD_DIR"))
}

/// The pinned helm client built by `e2e/build-helm.sh`.
pub fn helm() -> PathBuf {
    PathBuf::from(required("SERIN_E2E_HELM"))
}

/// The serin binary under test: `SERIN_BIN`, else the workspace's debug build
/// (honouring `CARGO_TARGET_DIR`).
pub fn serin_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SERIN_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug/serin");
    assert!(
        path.exists(),
        "{} does not exist: run `cargo build` or set SERIN_BIN",
        path.display()
    );
    path
}

/// A name unique to this process and call, usable in Kubernetes names.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n}", std::process::id() & 0xffff, nanos & 0xfffff)
}
