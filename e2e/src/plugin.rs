//! Runs the `kubectl-serin` plugin binary under test with the test's
//! KUBECONFIG: to completion (exit code and output), or in the background
//! with its output collected line by line (`get --watch`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{TestContext, env, wait};

/// The plugin binary: `KUBECTL_SERIN_BIN`, else next to the serin binary under test.
pub fn bin() -> PathBuf {
    if let Ok(path) = std::env::var("KUBECTL_SERIN_BIN") {
        return PathBuf::from(path);
    }
    env::serin_bin().with_file_name("kubectl-serin")
}

/// What a finished plugin run produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

fn command(ctx: &TestContext, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .arg("--namespace")
        .arg(&ctx.namespace)
        .env("KUBECONFIG", env::kubeconfig())
        .kill_on_drop(true);
    cmd
}

/// Runs `kubectl-serin <args> -n <test namespace>` to completion, for at most `timeout`.
pub async fn run(ctx: &TestContext, args: &[&str], timeout: Duration) -> anyhow::Result<Output> {
    run_with_stdin(ctx, args, None, timeout).await
}

/// As [`run`], feeding `stdin` to the process.
pub async fn run_with_stdin(
    ctx: &TestContext,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Output> {
    use tokio::io::AsyncWriteExt;
    let mut child = command(ctx, args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin().display()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await?;
    }
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("kubectl-serin {args:?} did not finish within {timeout:?}"))??;
    Ok(Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A plugin process running in the background, its stdout collected by line.
pub struct Background {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: PathBuf,
}

impl Background {
    pub fn start(ctx: &TestContext, args: &[&str]) -> anyhow::Result<Self> {
        let stderr = std::env::temp_dir().join(format!(
            "kubectl-serin-{}-{}.log",
            ctx.namespace,
            env::unique_suffix()
        ));
        let file =
            std::fs::File::create(&stderr).with_context(|| format!("creating {}", stderr.display()))?;
        let mut child = command(ctx, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", bin().display()))?;
        ctx.register_log(stderr.clone());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(mut lines) = sink.lock() {
                    lines.push(line);
                }
            }
        });
        Ok(Self { child, lines, stderr })
    }

    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until a printed line contains `needle`.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        wait::poll_until(
            &format!("a kubectl-serin line containing {needle:?}"),
            timeout,
            Duration::from_millis(100),
            || async { Ok(self.lines().into_iter().find(|l| l.contains(needle))) },
        )
        .await
    }

    /// Waits for the process to exit on its own; returns its exit code and every line it printed.
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<(Option<i32>, Vec<String>)> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .map_err(|_| {
                anyhow!(
                    "kubectl-serin did not exit within {timeout:?}; printed {:?}; stderr {:?}",
                    self.lines(),
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                )
            })??;
        // The reader task may still hold the last line: wait for the pipe to close.
        let lines = wait::poll_until(
            "the output to be read",
            Duration::from_secs(5),
            Duration::from_millis(50),
            || async { Ok((Arc::strong_count(&self.lines) == 1).then(|| self.lines())) },
        )
        .await?;
        Ok((status.code(), lines))
    }
}
