//! The indexer thread: turns durable WAL batches into documents and commits on a timer.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use tantivy::{IndexWriter, TantivyDocument};

use super::{IndexError, LogIndex};
use crate::normalize::records_of;
use crate::wal::{Durable, WalLocation};

/// Capacity of the channel from the WAL to the indexer, in batches.
const QUEUE_BATCHES: usize = 256;

/// Handle to the running indexer.
#[derive(Debug)]
pub struct IndexerHandle {
    pub tx: SyncSender<Durable>,
    pub join: std::thread::JoinHandle<()>,
}

/// Starts the indexer thread. `on_commit` is called after each commit with the WAL location
/// the index now covers (the WAL uses it to delete old files).
pub fn spawn_indexer(
    index: &LogIndex,
    writer_memory_bytes: usize,
    commit_interval: Duration,
    on_commit: impl Fn(WalLocation) + Send + 'static,
) -> Result<IndexerHandle, IndexError> {
    let writer: IndexWriter = index
        .index
        .writer_with_num_threads(1, writer_memory_bytes)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_BATCHES);
    let index = index.clone();
    let join = std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || run(index, writer, rx, commit_interval, on_commit))
        .map_err(|source| IndexError::Io {
            path: "indexer thread".into(),
            source,
        })?;
    Ok(IndexerHandle { tx, join })
}

fn run(
    index: LogIndex,
    mut writer: IndexWriter,
    rx: Receiver<Durable>,
    commit_interval: Duration,
    on_commit: impl Fn(WalLocation),
) {
    let f = index.fields;
    let mut last: Option<WalLocation> = None;
    let mut first_uncommitted: Option<Instant> = None;
    loop {
        let wait = first_uncommitted
            .map(|t| commit_interval.saturating_sub(t.elapsed()))
            .unwrap_or(Duration::from_secs(3600));
        let disconnected = match rx.recv_timeout(wait) {
            Ok(durable) => {
                add(&mut writer, &f, &durable);
                last = Some(durable.location);
                first_uncommitted.get_or_insert_with(Instant::now);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let due = first_uncommitted.is_some_and(|t| t.elapsed() >= commit_interval);
        if (due || disconnected)
            && let Some(location) = last
            && first_uncommitted.is_some()
        {
            match commit(&index, &mut writer, location) {
                Ok(()) => on_commit(location),
                Err(e) => {
                    tracing::error!(error = %e, "index commit failed; records stay in the WAL")
                }
            }
            first_uncommitted = None;
        }
        if disconnected {
            break;
        }
    }
}

fn add(writer: &mut IndexWriter, f: &super::Fields, durable: &Durable) {
    for stored in records_of(&durable.batch) {
        let r = &stored.record;
        let mut doc = TantivyDocument::new();
        doc.add_u64(f.id, stored.id);
        doc.add_i64(f.time, super::nanos(r.time));
        doc.add_text(f.app, &r.app);
        doc.add_text(f.host, &r.host);
        doc.add_text(f.level, r.level.map_or("none", |l| l.as_str()));
        doc.add_text(f.stream, &r.stream);
        doc.add_text(f.message, &r.message);
        doc.add_text(
            f.record,
            serde_json::to_string(&stored).expect("records serialize"),
        );
        if let Err(e) = writer.add_document(doc) {
            tracing::error!(error = %e, id = stored.id, "cannot index record");
        }
    }
}

fn commit(
    index: &LogIndex,
    writer: &mut IndexWriter,
    location: WalLocation,
) -> Result<(), IndexError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(&location).expect("locations serialize"));
    prepared.commit()?;
    index.reader.reload()?;
    Ok(())
}
