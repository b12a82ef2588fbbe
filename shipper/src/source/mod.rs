//! Sources: where lines come from. Each runs on its own thread and sends [`SourceEvent`]s to
//! the delivery core over a bounded channel (so a slow collector slows the reading, never the
//! memory).

pub mod file;
pub mod stdin;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use logq_schemas::{Line, StreamInfo};

/// What a source tells the delivery core.
#[derive(Debug)]
pub enum SourceEvent {
    /// A new stream. File streams come with the handle the core uses to place the reader.
    Register {
        info: StreamInfo,
        seek: Option<SeekHandle>,
    },
    /// Lines read since the last event. `generation` is the seek they were read under; lines
    /// of an older generation are stale and dropped by the core.
    Lines {
        stream: String,
        generation: u64,
        lines: Vec<Line>,
    },
    /// The stream ended (stdin closed); every line has been sent as an event.
    End { stream: String },
}

/// Where the core wants a re-readable source to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Wait (not connected, or not yet placed).
    Paused,
    /// Read from `position`; tag lines with `generation`.
    At { generation: u64, position: u64 },
    /// Stop the source.
    Stop,
}

/// Shared placement of one re-readable source.
#[derive(Debug, Clone)]
pub struct SeekHandle(Arc<(Mutex<Placement>, Condvar)>);

impl Default for SeekHandle {
    fn default() -> Self {
        SeekHandle(Arc::new((Mutex::new(Placement::Paused), Condvar::new())))
    }
}

impl SeekHandle {
    pub fn set(&self, placement: Placement) {
        let (lock, cvar) = &*self.0;
        *lock.lock().expect("placement lock") = placement;
        cvar.notify_all();
    }

    pub fn get(&self) -> Placement {
        *self.0.0.lock().expect("placement lock")
    }

    /// Waits up to `timeout` while paused; returns the placement then.
    pub fn wait_unpaused(&self, timeout: Duration) -> Placement {
        let (lock, cvar) = &*self.0;
        let guard = lock.lock().expect("placement lock");
        let (guard, _) = cvar
            .wait_timeout_while(guard, timeout, |p| *p == Placement::Paused)
            .expect("placement lock");
        *guard
    }
}
