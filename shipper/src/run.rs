//! `run`: spawn a command with its stdout and stderr on pipes; pass each through to the
//! shipper's own stdout and stderr and append it to that stream's spool; forward SIGTERM and
//! SIGINT; report the command's exit status.
//!
//! The command never waits for the collector: its output is read as fast as it comes, and
//! only the spool (local disk) sits between it and the network.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;

use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process};
use tokio::sync::oneshot;

use crate::source::spool::Spool;

const READ_CHUNK: usize = 64 * 1024;

/// A running command.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    pid: Pid,
}

/// Resolves with the command's status once it exited.
pub type Exited = oneshot::Receiver<std::io::Result<ExitStatus>>;

impl Running {
    /// Sends `signal` to the command.
    pub fn signal(&self, signal: Signal) {
        if let Err(e) = kill_process(self.pid, signal) {
            tracing::debug!(error = %e, "cannot signal the command (already gone?)");
        }
    }
}

/// Starts `argv`, teeing its stdout and stderr into the spools.
pub fn spawn(
    argv: &[String],
    stdout: Arc<Spool>,
    stderr: Arc<Spool>,
) -> anyhow::Result<(Running, Exited)> {
    let (program, args) = argv.split_first().context("no command given")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program:?}"))?;
    let pid = Pid::from_child(&child);
    let out = child.stdout.take().context("child stdout")?;
    let err = child.stderr.take().context("child stderr")?;
    std::thread::Builder::new()
        .name("run-stdout".into())
        .spawn(move || tee(out, std::io::stdout(), &stdout))
        .context("while starting the stdout reader")?;
    std::thread::Builder::new()
        .name("run-stderr".into())
        .spawn(move || tee(err, std::io::stderr(), &stderr))
        .context("while starting the stderr reader")?;
    let (tx, exited) = oneshot::channel();
    std::thread::Builder::new()
        .name("run-wait".into())
        .spawn(move || {
            let _ = tx.send(child.wait());
        })
        .context("while starting the waiter")?;
    Ok((Running { pid }, exited))
}

/// Copies `input` to `pass` and into `spool` until EOF, then closes the spool. A failing
/// pass-through (closed terminal) stops passing through, never the capture.
pub fn tee(mut input: impl Read, pass: impl Write, spool: &Spool) {
    let mut pass = Some(pass);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(error = %e, "reading the command's output failed");
                break;
            }
        };
        if let Some(p) = pass.as_mut()
            && (p.write_all(&buf[..n]).is_err() || p.flush().is_err())
        {
            pass = None;
        }
        spool.append(&buf[..n]);
    }
    spool.close();
}

/// The exit code a shell would report for `status` (128 + signal when killed).
pub fn exit_code(status: &ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(255),
        (None, None) => 1,
    }
}
