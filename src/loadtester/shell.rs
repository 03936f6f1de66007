//! Runs one shell command under a deadline.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("could not start {shell}")]
    Spawn {
        shell: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("could not collect the command's output")]
    Wait(#[source] std::io::Error),
    #[error("the command did not finish within {0:?} and was killed")]
    Timeout(Duration),
}

#[derive(Debug)]
pub struct ShellOutput {
    pub success: bool,
    /// e.g. `exit status: 1`, for logs and error bodies.
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

impl ShellOutput {
    /// stderr then stdout: a failing test usually explains itself on stderr.
    pub fn combined(&self) -> String {
        let mut out = self.stderr.clone();
        if !out.is_empty() && !out.ends_with('\n') && !self.stdout.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.stdout);
        out
    }
}

/// Runs `<shell> -c <command>` and collects its output, killing it after `timeout`.
pub async fn run(shell: &'static str, command: &str, timeout: Duration) -> Result<ShellOutput, ShellError> {
    let child = Command::new(shell)
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can kill what the shell started (`hey`, `curl`) and not
        // only the shell itself.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ShellError::Spawn { shell, source })?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.map_err(ShellError::Wait)?;
            Ok(ShellOutput {
                success: output.status.success(),
                status: output.status.to_string(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
        Err(_) => {
            // Dropping the future has killed the shell; now the rest of its group.
            if let Some(pid) = pid {
                kill_group(pid).await;
            }
            Err(ShellError::Timeout(timeout))
        }
    }
}

/// `kill -KILL -- -<pgid>`: the standard tool rather than a libc binding, to keep `unsafe` out.
async fn kill_group(pgid: u32) {
    let result = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    // The group is usually gone already once the shell was its only member, so failure is normal.
    if let Err(err) = result {
        tracing::debug!(error = %err, pgid, "could not run kill for a timed-out task");
    }
}
