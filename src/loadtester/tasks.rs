//! Starts tasks, at most one of each kind per canary at a time.
//!
//! A `rollout` webhook fires on every analysis tick, but a load test usually lasts longer than a tick; like
//! flagger-loadtester, a second request for a task that is still running is accepted (202) and ignored, so
//! load is not stacked. The de-duplication key is a SHA-256 of the canary (`name.namespace`), the task
//! type and what defines the task (the command, or the whole load spec). It is in memory only: after a
//! restart the next tick simply starts the task again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::load::LoadRun;
use super::metrics::Metrics;
use super::payload::Task;
use super::shell::{self, ShellError, ShellOutput};

/// Whether a background task was started by this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    AlreadyRunning,
}

pub struct Tasks {
    running: Arc<Mutex<HashSet<String>>>,
    metrics: Arc<Metrics>,
    timeout: Duration,
    /// Shared by every load test, so connections are pooled per target.
    client: reqwest::Client,
}

/// Removes a task's key when the task ends, however it ends (including a panic).
struct RunningGuard {
    running: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Tasks {
    pub fn new(metrics: Arc<Metrics>, timeout: Duration, client: reqwest::Client) -> Self {
        Self {
            running: Arc::default(),
            metrics,
            timeout,
            client,
        }
    }

    /// Starts a `cmd` or `load` task in the background unless the same one is running.
    pub fn start(&self, canary: &str, task: Task) -> Started {
        let kind = task.kind();
        let identity = match &task {
            Task::Cmd { command, .. } | Task::Bash { command, .. } => command.clone(),
            Task::Load(spec) => spec.identity(),
        };
        let Some(guard) = self.claim(dedup_key(canary, kind, &identity)) else {
            tracing::info!(
                canary,
                r#type = kind,
                "task already running; not starting another"
            );
            self.metrics.task_deduplicated(kind);
            return Started::AlreadyRunning;
        };
        self.metrics.task_started(kind);
        let (metrics, timeout, canary) = (self.metrics.clone(), self.timeout, canary.to_string());
        match task {
            // The server awaits `bash` tasks itself (`run_bash`); one passed here runs like `cmd`, in bash.
            Task::Cmd { command, log_output } => {
                tokio::spawn(async move {
                    let _guard = guard;
                    run_background("sh", &canary, &command, log_output, timeout, &metrics).await;
                });
            }
            Task::Bash { command, .. } => {
                tokio::spawn(async move {
                    let _guard = guard;
                    run_background("bash", &canary, &command, true, timeout, &metrics).await;
                });
            }
            Task::Load(spec) => {
                let run = LoadRun {
                    spec: Arc::new(spec),
                    client: self.client.clone(),
                    metrics: metrics.clone(),
                    canary: canary.clone(),
                };
                tokio::spawn(async move {
                    let _guard = guard;
                    // The spec's duration is already at most the timeout; this bounds the wind-down too.
                    if tokio::time::timeout(timeout, run.run()).await.is_err() {
                        tracing::warn!(canary, ?timeout, "load test cut off at the task timeout");
                        metrics.task_failed("load");
                    }
                });
            }
        }
        Started::New
    }

    /// Runs a `bash` task and waits for it. Not de-duplicated: the caller is waiting for this very run.
    pub async fn run_bash(&self, canary: &str, command: &str) -> Result<ShellOutput, ShellError> {
        self.metrics.task_started("bash");
        let result = shell::run("bash", command, self.timeout).await;
        let failed = !matches!(&result, Ok(output) if output.success);
        if failed {
            self.metrics.task_failed("bash");
        }
        match &result {
            Ok(output) => tracing::info!(canary, status = %output.status, "bash task finished"),
            Err(err) => tracing::warn!(canary, error = %crate::error::chain(err), "bash task failed"),
        }
        result
    }

    fn claim(&self, key: String) -> Option<RunningGuard> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.insert(key.clone()).then(|| RunningGuard {
            running: self.running.clone(),
            key,
        })
    }

    /// How many background tasks are running.
    pub fn running(&self) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

async fn run_background(
    shell: &'static str,
    canary: &str,
    command: &str,
    log_output: bool,
    timeout: Duration,
    metrics: &Metrics,
) {
    let kind = if shell == "sh" { "cmd" } else { "bash" };
    tracing::info!(canary, command, "{kind} task started");
    match shell::run(shell, command, timeout).await {
        Ok(output) => {
            if !output.success {
                metrics.task_failed(kind);
            }
            if log_output {
                tracing::info!(canary, status = %output.status, output = %output.combined(), "{kind} task finished");
            } else {
                tracing::info!(canary, status = %output.status, "{kind} task finished");
            }
        }
        Err(err) => {
            metrics.task_failed(kind);
            tracing::warn!(canary, command, error = %crate::error::chain(&err), "{kind} task failed");
        }
    }
}

fn dedup_key(canary: &str, kind: &str, identity: &str) -> String {
    let mut hash = Sha256::new();
    for part in [canary, kind, identity] {
        hash.update(part.as_bytes());
        // A separator that cannot occur in a canary name keeps ("a", "bc") and ("ab", "c") apart.
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
