//! Runs the serin binary under test as a child process whose log is part
//! of the failure dump.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::{TestContext, env, rbac, wait};

pub struct SerinProcess {
    child: Child,
    pub log: PathBuf,
}

impl SerinProcess {
    /// Starts `serin <args>` with the test's (admin) KUBECONFIG, logging to a file.
    pub fn start(ctx: &TestContext, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with(ctx, &env::kubeconfig(), args)
    }

    /// Starts `serin <args>` with the given kubeconfig (another identity than the admin's).
    pub fn start_with(ctx: &TestContext, kubeconfig: &str, args: &[&str]) -> anyhow::Result<Self> {
        let log = std::env::temp_dir().join(format!("serin-{}-{}.log", ctx.namespace, env::unique_suffix()));
        let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(env::serin_bin())
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("starting serin")?;
        ctx.register_log(log.clone());
        Ok(Self { child, log })
    }

    /// Starts `serin controller` scoped to the test's namespace, with its
    /// metrics server on a free loopback port, as the Helm chart's
    /// ServiceAccount with only the chart's RBAC ([`rbac`]).
    pub async fn controller(ctx: &TestContext, extra: &[&str]) -> anyhow::Result<Self> {
        let identity = rbac::identity(&ctx.client).await?;
        if extra.contains(&"--leader-elect") {
            let namespace =
                flag_value(extra, "--leader-election-namespace").unwrap_or(rbac::RELEASE_NAMESPACE);
            identity.allow_leases_in(&ctx.client, namespace).await?;
        }
        let kubeconfig = identity
            .kubeconfig
            .to_str()
            .context("kubeconfig path is not UTF-8")?;
        let mut args = vec![
            "--log-level",
            "info,serin=debug",
            "controller",
            "--namespace",
            &ctx.namespace,
            "--metrics-addr",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::start_with(ctx, kubeconfig, &args)
    }

    /// Fetches `path` (e.g. `/metrics`) from the metrics server whose address the log announces.
    pub async fn get_ops(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let line = self
            .wait_for_log(&["serving /metrics"], Duration::from_secs(10))
            .await?;
        let address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("address="))
            .with_context(|| format!("no address in {line:?}"))?;
        Ok(reqwest::get(format!("http://{address}{path}")).await?)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a line of the log contains every one of `needles`.
    pub async fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> anyhow::Result<String> {
        let what = format!("a serin log line containing {needles:?}");
        wait::poll_until(&what, timeout, Duration::from_millis(100), || async {
            Ok(self
                .log_text()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string))
        })
        .await
    }

    /// Kills the process with SIGKILL, as a crash or an OOM kill would.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing serin")?;
        Ok(())
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_exit_status(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait().context("checking on serin")
    }

    /// Waits for the process to exit on its own.
    pub async fn wait(mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .with_context(|| format!("serin did not exit within {timeout:?}"))?
            .context("waiting for serin")
    }

    /// Sends SIGTERM and returns the exit status, failing if it does not stop in time.
    pub async fn terminate(mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().context("serin already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .with_context(|| format!("serin did not exit within {timeout:?} of SIGTERM"))?
            .context("waiting for serin")
    }
}

/// The value of `--flag value` or `--flag=value` in `args`.
fn flag_value<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if *arg == flag {
            args.get(i + 1).copied()
        } else {
            arg.strip_prefix(flag).and_then(|rest| rest.strip_prefix('='))
        }
    })
}
