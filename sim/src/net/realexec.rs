//! Real exec: the command runs for real on the host, for tests that measure real tools (real `ping` in a network
//! namespace). The argv is run as is (never through a shell string), after an optional prefix
//! (`["ip", "netns", "exec", "NS"]`); stdout and stderr stream as they come; the exit code ends the stream. When
//! the client goes (the receiver is dropped) the child is killed (SIGKILL) and reaped. A command that cannot be
//! started is reported as the runtime would report a missing executable ([`ExecOutput::StartFailed`]).

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::api::Store;
use crate::api::hooks::{ExecHandler, ExecOutput, ExecRequest};

/// Counts running processes: one [`Running`] per process, released when the process is gone.
#[derive(Clone, Debug, Default)]
pub struct ProcessCount(Arc<AtomicUsize>);

impl ProcessCount {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Marks one process as running until the returned guard is dropped.
    pub fn enter(&self) -> Running {
        self.0.fetch_add(1, Ordering::SeqCst);
        Running(self.0.clone())
    }
}

/// One running process (see [`ProcessCount`]).
#[derive(Debug)]
pub struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The runtime's message for a command that cannot be started, as containerd/runc word it.
pub fn runtime_start_error(command: &str, exec_id: &str) -> String {
    let cause = if command.contains('/') {
        format!("exec: \"{command}\": stat {command}: no such file or directory")
    } else {
        format!("exec: \"{command}\": executable file not found in $PATH")
    };
    format!(
        "failed to exec in container: failed to start exec \"{exec_id}\": OCI runtime exec failed: exec failed: \
         unable to start container process: {cause}: unknown"
    )
}

/// A containerd exec id (64 hex digits).
pub fn exec_id() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// An [`ExecHandler`] running commands on the host.
#[derive(Clone, Debug, Default)]
pub struct RealExec {
    prefix: Vec<String>,
    running: ProcessCount,
}

impl RealExec {
    /// Runs every command after `prefix` (empty: as is).
    pub fn new(prefix: Vec<String>) -> Self {
        Self { prefix, running: ProcessCount::default() }
    }

    /// Host processes started here that are still running (or not yet reaped).
    pub fn running(&self) -> usize {
        self.running.get()
    }

    /// Starts `argv` (after the prefix) on the host.
    pub fn spawn(&self, argv: &[String]) -> mpsc::Receiver<ExecOutput> {
        let (tx, rx) = mpsc::channel(64);
        let full: Vec<String> = self.prefix.iter().chain(argv).cloned().collect();
        let guard = self.running.enter();
        let (Some(program), args) = (full.first(), full.get(1..).unwrap_or_default()) else {
            let _ = tx.try_send(ExecOutput::StartFailed(runtime_start_error("", &exec_id())));
            return rx;
        };
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let child = cmd.spawn();
        let program = program.clone();
        tokio::spawn(async move {
            let mut guard = Some(guard);
            let mut child = match child {
                Ok(c) => c,
                Err(_) => {
                    drop(guard.take());
                    let _ = tx.send(ExecOutput::StartFailed(runtime_start_error(&program, &exec_id()))).await;
                    return;
                }
            };
            let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
            let (mut out_buf, mut err_buf) = (vec![0u8; 8192], vec![0u8; 8192]);
            loop {
                tokio::select! {
                    n = read_some(&mut out, &mut out_buf) => match n {
                        Some(n) => if tx.send(ExecOutput::Stdout(Bytes::copy_from_slice(&out_buf[..n]))).await.is_err() { break },
                        None => out = None,
                    },
                    n = read_some(&mut err, &mut err_buf) => match n {
                        Some(n) => if tx.send(ExecOutput::Stderr(Bytes::copy_from_slice(&err_buf[..n]))).await.is_err() { break },
                        None => err = None,
                    },
                    status = child.wait(), if out.is_none() && err.is_none() => {
                        // Killed by a signal: the shell convention 128 + signal.
                        let code = status.map(|s| s.code().unwrap_or_else(|| 128 + signal_of(&s))).unwrap_or(1);
                        // The process is gone before its exit status is sent.
                        drop(guard.take());
                        let _ = tx.send(ExecOutput::Exit(code)).await;
                        return;
                    }
                    _ = tx.closed() => break,
                }
            }
            // The client went: kill and reap the child before the guard says it is gone.
            let _ = child.kill().await;
            drop(guard);
        });
        rx
    }
}

#[cfg(unix)]
fn signal_of(s: &std::process::ExitStatus) -> i32 {
    std::os::unix::process::ExitStatusExt::signal(s).unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> i32 {
    0
}

/// Reads what is available from a pipe: `Some(n > 0)`, or `None` at its end (and forever after, pending).
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(p) => match p.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

impl ExecHandler for RealExec {
    fn start(&self, _store: &Store, req: ExecRequest) -> mpsc::Receiver<ExecOutput> {
        self.spawn(&req.command)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    async fn drain(mut rx: mpsc::Receiver<ExecOutput>) -> (String, String, Option<ExecOutput>) {
        let (mut out, mut err) = (String::new(), String::new());
        while let Some(o) = rx.recv().await {
            match o {
                ExecOutput::Stdout(b) => out.push_str(&String::from_utf8_lossy(&b)),
                ExecOutput::Stderr(b) => err.push_str(&String::from_utf8_lossy(&b)),
                end => return (out, err, Some(end)),
            }
        }
        (out, err, None)
    }

    #[tokio::test]
    async fn runs_argv_without_a_shell() {
        let real = RealExec::default();
        let (out, _, end) = drain(real.spawn(&argv(&["echo", "a;b", "$HOME"]))).await;
        assert_eq!(out, "a;b $HOME\n", "arguments are passed as they are, not through a shell");
        assert_eq!(end, Some(ExecOutput::Exit(0)));
        let (_, err, end) = drain(real.spawn(&argv(&["sh", "-c", "echo oops >&2; exit 3"]))).await;
        assert_eq!((err.as_str(), end), ("oops\n", Some(ExecOutput::Exit(3))));
        let (_, _, end) = drain(real.spawn(&argv(&["no-such-tool-vmmigrate"]))).await;
        assert!(
            matches!(&end, Some(ExecOutput::StartFailed(m)) if m.ends_with("exec: \"no-such-tool-vmmigrate\": executable file not found in $PATH: unknown")),
            "{end:?}"
        );
        let prefixed = RealExec::new(argv(&["echo", "prefix"]));
        assert_eq!(drain(prefixed.spawn(&argv(&["x"]))).await.0, "prefix x\n");
    }

    #[tokio::test]
    async fn dropping_the_receiver_kills_the_process() {
        let real = RealExec::default();
        let mut rx = real.spawn(&argv(&["sh", "-c", "echo $$; exec sleep 300"]));
        let Some(ExecOutput::Stdout(pid)) = rx.recv().await else { panic!("no pid") };
        let pid = String::from_utf8_lossy(&pid).trim().to_string();
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        assert!(proc_dir.exists());
        assert_eq!(real.running(), 1);
        drop(rx);
        // Bounded only so that a broken kill fails instead of hanging.
        for _ in 0..600 {
            if real.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(real.running(), 0);
        assert!(!proc_dir.exists(), "the sleep is killed and reaped");
    }
}
