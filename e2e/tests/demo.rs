//! `make demo` works end to end: the demo binary, in its CI mode, rolls out
//! the example's new version to Succeeded and rolls a bad one back, against
//! the cluster the tests run on (it neither starts nor stops one); and a
//! broken `kubectl serin get --watch` fails it.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};
use serin_e2e::{TestContext, with_namespace};

/// The demo takes under a minute on a quiet machine; CI allows three.
const LIMIT: Duration = Duration::from_secs(180);

/// Runs `serin-demo` with `SERIN_DEMO_CHECK=1` in the test's namespace and
/// returns how it exited with its standard output and error.
async fn run_demo(ctx: &TestContext, env: &[(&str, &str)]) -> anyhow::Result<(ExitStatus, String, String)> {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_serin-demo"))
        .env("SERIN_DEMO_CHECK", "1")
        .env("SERIN_DEMO_NAMESPACE", &ctx.namespace)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout also stops the serin and
        // kubectl-serin processes the demo started.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting serin-demo")?;
    let pid = child.id().context("serin-demo has no pid")?;
    let stdout = child.stdout.take().context("stdout")?;
    let stderr = child.stderr.take().context("stderr")?;
    let read = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        pipe.read_to_string(&mut text).await.map(|_| text)
    };
    let outcome = tokio::time::timeout(LIMIT, async {
        let (status, out, err) = tokio::join!(child.wait(), read(Box::new(stdout)), read(Box::new(stderr)));
        anyhow::Ok((status?, out?, err?))
    })
    .await;
    let Ok(outcome) = outcome else {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", &format!("-{pid}")])
            .status()
            .await;
        anyhow::bail!("the demo did not finish within {LIMIT:?}");
    };
    let (status, stdout, stderr) = outcome?;
    eprintln!("--- demo stdout\n{stdout}\n--- demo stderr\n{stderr}");
    Ok((status, stdout, stderr))
}

#[tokio::test]
async fn the_demo_rolls_out_and_rolls_back() {
    with_namespace("demo", |ctx| async move {
        let (status, stdout, _) = run_demo(&ctx, &[]).await?;
        ensure!(status.success(), "the demo failed: {status}");
        ensure!(stdout.contains("demo check passed"), "no success line");
        // The `kubectl serin get --watch` lines of both rollouts.
        for phase in ["| Progressing |", "| Succeeded |", "| Failed |"] {
            ensure!(
                stdout
                    .lines()
                    .any(|l| l.starts_with("podinfo ") && l.contains(phase)),
                "the watch never printed {phase:?}"
            );
        }
        Ok(())
    })
    .await;
}

/// A watch that exits non-zero (here a stand-in that always fails) must not
/// let the demo carry on as if it had shown the rollout.
#[tokio::test]
async fn a_failing_watch_fails_the_demo() {
    with_namespace("demo-watch", |ctx| async move {
        let (status, stdout, stderr) = run_demo(&ctx, &[("KUBECTL_SERIN_BIN", "false")]).await?;
        ensure!(!status.success(), "the demo passed with a broken watch");
        ensure!(
            !stdout.contains("demo check passed"),
            "a success line was printed"
        );
        ensure!(
            stderr.contains("`kubectl serin get podinfo --watch` failed"),
            "the demo failed for another reason: {stderr}"
        );
        Ok(())
    })
    .await;
}
