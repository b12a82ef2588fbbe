//! Sources: where lines come from. Each runs on its own thread and sends [`SourceEvent`]s to
//! the delivery core over a bounded channel (so a slow collector slows the reading, never the
//! memory).
//!
//! Every source is re-readable: files are read again from the collector's durable position
//! after a reconnect, and stdin and child output go through an on-disk [`spool`] first. The
//! core places a source with its [`SeekHandle`] and reports acknowledged positions back
//! through it, so a source knows when it may let a rotated file or a spool segment go.

pub mod fingerprint;
pub mod shape;
pub mod spool;
pub mod tailer;
pub mod target;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use logq_schemas::{Line, StreamInfo};

/// What a source tells the delivery core.
#[derive(Debug)]
pub enum SourceEvent {
    /// A new stream, with the handle the core uses to place its reader.
    Register { info: StreamInfo, seek: SeekHandle },
    /// Lines read since the last event. `generation` is the placement they were read under;
    /// lines of an older generation are stale and dropped by the core. `held` gives the
    /// lines' bytes back to the source's [`InFlight`] budget when the core drops the event.
    Lines {
        stream: String,
        generation: u64,
        lines: Vec<Line>,
        held: Held,
    },
    /// The stream ended (stdin closed, child exited); every line has been sent as an event.
    /// The stream stays placeable: after a reconnect it is read again from the acked position.
    End { stream: String },
    /// The source let the stream go (a rotated file read to its end and fully acknowledged);
    /// the core forgets it and its checkpoint entry.
    Release { stream: String },
}

/// Where the core wants a source to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Wait (not connected, or not yet placed).
    Paused,
    /// Read from `position`; tag lines with `generation`.
    At { generation: u64, position: u64 },
    /// Stop the source.
    Stop,
}

#[derive(Debug)]
struct Shared {
    placement: Mutex<Placement>,
    changed: Condvar,
    /// Highest position the collector acknowledged.
    acked: AtomicU64,
    /// Highest position the source knows data up to (for reporting undelivered bytes).
    end: AtomicU64,
    /// The path a file stream was found at, kept in the checkpoint to look for it after a
    /// restart.
    path: Option<String>,
}

/// Shared state of one stream between its source and the core.
#[derive(Debug, Clone)]
pub struct SeekHandle(Arc<Shared>);

impl Default for SeekHandle {
    fn default() -> Self {
        SeekHandle::with_path(None)
    }
}

impl SeekHandle {
    /// The handle of a file found at `path`.
    pub fn for_file(path: String) -> SeekHandle {
        SeekHandle::with_path(Some(path))
    }

    fn with_path(path: Option<String>) -> SeekHandle {
        SeekHandle(Arc::new(Shared {
            placement: Mutex::new(Placement::Paused),
            changed: Condvar::new(),
            acked: AtomicU64::new(0),
            end: AtomicU64::new(0),
            path,
        }))
    }

    /// The path of a file stream.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    pub fn set(&self, placement: Placement) {
        *self.0.placement.lock().expect("placement lock") = placement;
        self.0.changed.notify_all();
    }

    pub fn get(&self) -> Placement {
        *self.0.placement.lock().expect("placement lock")
    }

    /// Waits up to `timeout` while paused; returns the placement then.
    pub fn wait_unpaused(&self, timeout: Duration) -> Placement {
        let guard = self.0.placement.lock().expect("placement lock");
        let (guard, _) = self
            .0
            .changed
            .wait_timeout_while(guard, timeout, |p| *p == Placement::Paused)
            .expect("placement lock");
        *guard
    }

    /// Records an acknowledged position (never moves back).
    pub fn set_acked(&self, position: u64) {
        self.0.acked.fetch_max(position, Ordering::AcqRel);
    }

    pub fn acked(&self) -> u64 {
        self.0.acked.load(Ordering::Acquire)
    }

    /// Records how far the source has data (never moves back).
    pub fn set_end(&self, position: u64) {
        self.0.end.fetch_max(position, Ordering::AcqRel);
    }

    pub fn end(&self) -> u64 {
        self.0.end.load(Ordering::Acquire)
    }
}

/// A source's budget of line bytes sent to the core and not yet taken in by it.
///
/// The channel to the core bounds events, not bytes, and one event of an over-long line holds
/// a whole piece (up to the line limit): sixteen queued pieces were sixteen line limits of
/// memory (a 100 MiB line without a newline took 22 times the default limit). A source takes
/// an event's bytes from its budget before sending it and waits while the budget is spent;
/// the core gives them back by dropping the event. An event larger than the whole budget
/// (a piece of a line limit above it) waits until nothing else is in flight, then goes alone.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Budget>);

#[derive(Debug)]
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
    max_bytes: usize,
}

impl InFlight {
    pub fn new(max_bytes: usize) -> InFlight {
        InFlight(Arc::new(Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            max_bytes,
        }))
    }

    /// The bytes of `lines`, taken from the budget (waiting until they fit).
    pub fn take(&self, lines: &[Line]) -> Held {
        let bytes = lines.iter().map(|l| l.text.len()).sum();
        let budget = &self.0;
        let mut used = budget.used.lock().expect("budget lock");
        while *used > 0 && *used + bytes > budget.max_bytes {
            used = budget.freed.wait(used).expect("budget lock");
        }
        *used += bytes;
        Held {
            budget: Some(self.clone()),
            bytes,
        }
    }

    /// Bytes in flight now.
    pub fn used(&self) -> usize {
        *self.0.used.lock().expect("budget lock")
    }
}

/// Bytes of an event taken from an [`InFlight`] budget; given back when dropped.
#[derive(Debug, Default)]
pub struct Held {
    budget: Option<InFlight>,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(InFlight(budget)) = self.budget.take() {
            let mut used = budget.used.lock().expect("budget lock");
            *used = used.saturating_sub(self.bytes);
            budget.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> Line {
        Line {
            time: None,
            end: n as u64,
            text: "x".repeat(n),
            split: false,
        }
    }

    #[test]
    fn the_budget_waits_for_dropped_events_and_lets_a_big_one_go_alone() {
        let budget = InFlight::new(10);
        let a = budget.take(&[line(6)]);
        let b = budget.take(&[line(4)]);
        assert_eq!(budget.used(), 10);
        let waiter = {
            let budget = budget.clone();
            // Over the whole budget: goes once nothing else is in flight, alone.
            std::thread::spawn(move || {
                let _big = budget.take(&[line(25)]);
                budget.used()
            })
        };
        drop(a);
        drop(b);
        assert_eq!(waiter.join().expect("waiter"), 25);
        assert_eq!(budget.used(), 0);
    }
}
