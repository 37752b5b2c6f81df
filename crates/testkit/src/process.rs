//! Running a service binary as a child process, for what only a real process shows:
//! signals (SIGTERM drains and flushes, SIGKILL loses nothing committed).

use std::process::Stdio;
use std::time::Duration;

use platform::config::Env;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A service binary running on its own port; killed when dropped.
#[derive(Debug)]
pub struct ChildService {
    child: Child,
    /// Its port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl ChildService {
    /// Starts `binary serve` with exactly `env` (plus `PATH`) on a free port, and waits until
    /// it logs that it is listening.
    pub async fn start(binary: &str, env: &Env) -> anyhow::Result<Self> {
        let port = crate::free_port()?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter())
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("\"listening\"") {
                    return Ok(());
                }
            }
            anyhow::bail!("{binary} exited before listening")
        })
        .await??;
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            port,
            base_url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) with kill(1).
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow::anyhow!("already exited"))?;
        let ok = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()?
            .success();
        anyhow::ensure!(ok, "kill -{signal} {pid} failed");
        Ok(())
    }

    /// Waits for the process to exit; its exit code (`None` when killed by a signal).
    pub async fn wait(&mut self, timeout: Duration) -> anyhow::Result<Option<i32>> {
        let status = tokio::time::timeout(timeout, self.child.wait()).await??;
        Ok(status.code())
    }
}
