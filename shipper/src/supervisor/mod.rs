//! `logq-shipper supervisor`: a supervisord event listener for `PROCESS_LOG_STDOUT` and
//! `PROCESS_LOG_STDERR`, so every program's output is shipped without tailing its log files.
//!
//! - [`protocol`] frames the listener protocol (pure, over any `BufRead`/`Write`).
//! - [`Listener`] is the job. Each program output, one `(process, channel, pid)`, is a stream
//!   `supervisor:<process>:<channel>:<pid>` of app `app_name_from(process)`, stream `stdout`
//!   or `stderr`, with the stream fields `group`, `pid` and `channel`. Its bytes go to an
//!   on-disk [`Spool`](crate::source::spool::Spool) under the job directory
//!   (`<state dir>/supervisor/spool/<name>.<channel>.<pid>.<hash>/`, beside a `stream` file
//!   naming what it holds), where lines are put together across events.
//!
//! Delivery: an event is answered `RESULT 2\nOK` only once its bytes are appended to the
//! spool and fsynced; a failed append (disk full) is answered `RESULT 4\nFAIL`, so
//! supervisord sends it again. A kill -9 of the listener loses nothing acknowledged: the next
//! listener registers the spools it finds and ships them from the collector's position. The
//! event that was being spooled at the kill is sent again by supervisord and is recognised
//! (by its serials and a hash of its payload, in the job's `inflight` file), so it is never
//! spooled twice. supervisord itself drops the oldest queued event when a pool's
//! `buffer_size` is reached, so the listener answers at disk speed and never waits for the
//! collector.
//!
//! Lifecycle: a stream is closed (its partial last line ended) when a new pid of its process
//! appears, when its process is gone and it got no event for a while, at the start of a
//! listener when its process is gone, and when the listener stops. A closed stream is let go
//! (`SourceEvent::Release`, spool directory deleted) once the collector acknowledged all of
//! it. When stdin ends or on SIGTERM the listener closes every spool, waits up to
//! `--drain-timeout-secs` for the collector and exits 0; what is left stays spooled.
//!
//! It must never write anything but protocol answers to stdout: supervisord takes any other
//! byte as a violation and stops sending events to the listener (the shipper logs to stderr).

pub mod protocol;

mod listener;

use std::io::BufReader;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use listener::{Config, Listener, ListenerError};

use crate::source::SourceEvent;
use crate::state::JobState;

/// stdin is read through this much buffer (supervisord writes up to 128 KiB per event).
const STDIN_BUFFER: usize = 128 * 1024;

/// A running listener.
#[derive(Debug)]
pub struct Supervising {
    stop: CancellationToken,
    done: oneshot::Receiver<Result<(), ListenerError>>,
}

/// Opens the job's spools and starts answering supervisord on stdin/stdout in a thread of
/// its own. When the listener ends (stdin closed, [`Supervising::stop`], or a broken event
/// stream) it cancels `shutdown`, which ends the delivery core.
pub fn start(
    config: Config,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
    shutdown: CancellationToken,
) -> anyhow::Result<Supervising> {
    let listener = Listener::open(config, state.dir(), &state.checkpoint, tx)
        .with_context(|| format!("cannot open the spools under {}", state.dir().display()))?;
    let stop = CancellationToken::new();
    let (done_tx, done) = oneshot::channel();
    let stopping = stop.clone();
    std::thread::Builder::new()
        .name("supervisor".into())
        .spawn(move || {
            let input = BufReader::with_capacity(STDIN_BUFFER, std::io::stdin());
            let result = listener.serve(input, std::io::stdout(), &stopping);
            if let Err(e) = &result {
                tracing::error!(error = %e, "the listener stops; supervisord will start it again");
            }
            shutdown.cancel();
            let _ = done_tx.send(result);
        })
        .context("while starting the supervisor thread")?;
    Ok(Supervising { stop, done })
}

impl Supervising {
    /// Cancelling it (SIGTERM) makes the listener stop taking events and drain.
    pub fn stop(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// How the listener ended.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.done.await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("the supervisor thread vanished"),
        }
    }
}
