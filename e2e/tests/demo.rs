//! `make demo` works end to end: the demo binary, in its CI mode, rolls out
//! the example's new version to Succeeded and rolls a bad one back, against
//! the cluster the tests run on (it neither starts nor stops one).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use serin_e2e::with_namespace;

/// The demo takes about a minute; it must stay well under three.
const LIMIT: Duration = Duration::from_secs(240);

#[tokio::test]
async fn the_demo_rolls_out_and_rolls_back() {
    with_namespace("demo", |ctx| async move {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_serin-demo"))
            .env("SERIN_DEMO_CHECK", "1")
            .env("SERIN_DEMO_NAMESPACE", &ctx.namespace)
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
            let (status, out, err) =
                tokio::join!(child.wait(), read(Box::new(stdout)), read(Box::new(stderr)));
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
