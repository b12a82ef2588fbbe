//! The indexer thread: turns durable WAL batches into records, appends them to their apps'
//! active segments, indexes them in the hot index, and commits on a timer.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use tantivy::IndexWriter;

use super::{HotMark, IndexError, LogIndex, PendingDeletes, WatermarkSender, Watermarks};
use crate::normalize::{Normalized, Normalizer};
use crate::storage::Store;
use crate::wal::{Durable, WalLocation};

/// How often an idle indexer wakes to apply deletions of sealed records.
const IDLE_WAKE: Duration = Duration::from_millis(500);
/// Capacity of the channel from the WAL to the indexer, in batches. Small on purpose: when
/// indexing falls behind, the WAL writer waits and acks slow down, so the WAL (deleted only
/// once indexed) cannot outgrow the disk.
const QUEUE_BATCHES: usize = 16;

/// The hot index's merge policy. Sealing deletes an app's records in bulk, and the space comes
/// back only when their segments merge. Segments at least half deleted merge together (what
/// is left alive in them is at most half). The others merge by tiers of size: once
/// `MERGE_AT_SEGMENTS` segments are within the same tenfold of documents, they merge into one
/// of the next tier, so that a record is rewritten about once per tier, not once per merge.
/// Merging the smallest ten whatever their sizes (the policy before) took the big segment in
/// every time, rewriting the whole hot index every ten commits: 30 % of the collector's CPU
/// went to merges under steady ingest (`perf record`, 256 MiB of benches/corpus.py).
#[derive(Debug)]
struct HotMergePolicy;

const MERGE_AT_SEGMENTS: usize = 10;
/// Segments below this many documents are all of the first tier.
const FIRST_TIER_DOCS: u32 = 1_000;

/// A segment as the merge policy sees it.
#[derive(Debug, Clone, Copy)]
struct SegmentSize<Id> {
    id: Id,
    docs: u32,
    deleted: u32,
}

/// The merges to run among `segments` (none of them merging already): the ids of each.
fn merge_candidates<Id: Copy>(segments: &[SegmentSize<Id>]) -> Vec<Vec<Id>> {
    let (mostly_deleted, rest): (Vec<&SegmentSize<Id>>, Vec<&SegmentSize<Id>>) = segments
        .iter()
        .partition(|s| s.deleted > 0 && s.deleted * 2 >= s.docs);
    let mut out = Vec::new();
    if !mostly_deleted.is_empty() {
        out.push(mostly_deleted.iter().map(|s| s.id).collect());
    }
    let tier = |s: &SegmentSize<Id>| -> u32 {
        (s.docs - s.deleted)
            .max(1)
            .div_ceil(FIRST_TIER_DOCS)
            .ilog10()
    };
    let mut tiers: std::collections::BTreeMap<u32, Vec<Id>> = std::collections::BTreeMap::new();
    for s in rest {
        tiers.entry(tier(s)).or_default().push(s.id);
    }
    out.extend(
        tiers
            .into_values()
            .filter(|ids| ids.len() >= MERGE_AT_SEGMENTS),
    );
    out
}

impl tantivy::merge_policy::MergePolicy for HotMergePolicy {
    fn compute_merge_candidates(
        &self,
        segments: &[tantivy::SegmentMeta],
    ) -> Vec<tantivy::merge_policy::MergeCandidate> {
        let sizes: Vec<_> = segments
            .iter()
            .map(|s| SegmentSize {
                id: s.id(),
                docs: s.max_doc(),
                deleted: s.num_deleted_docs(),
            })
            .collect();
        merge_candidates(&sizes)
            .into_iter()
            .map(tantivy::merge_policy::MergeCandidate)
            .collect()
    }
}

/// When the indexer commits, and how long an event waits for its next line.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub commit_interval: Duration,
    pub event_idle: Duration,
}

/// What the indexer shares with the rest of the collector.
#[derive(Debug, Default)]
pub struct Links {
    /// Sealed records to drop from the hot index (from the sealer).
    pub deletes: PendingDeletes,
    /// Where the watermarks go (to live tails).
    pub watermarks: WatermarkSender,
}

/// Handle to the running indexer.
#[derive(Debug)]
pub struct IndexerHandle {
    pub tx: SyncSender<Durable>,
    pub join: std::thread::JoinHandle<()>,
}

/// Starts the indexer thread. `on_commit` is called after each commit with the WAL location
/// below which every record is indexed and in a synced frame of its segment (the WAL deletes
/// the files before it).
pub fn spawn_indexer(
    index: &LogIndex,
    store: std::sync::Arc<Store>,
    writer_memory_bytes: usize,
    timing: Timing,
    links: Links,
    on_commit: impl Fn(WalLocation) + Send + 'static,
) -> Result<IndexerHandle, IndexError> {
    let writer: IndexWriter = index
        .index
        .writer_with_num_threads(1, writer_memory_bytes)?;
    writer.set_merge_policy(Box::new(HotMergePolicy));
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_BATCHES);
    let index = index.clone();
    let join = std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || run(index, &store, writer, rx, timing, links, on_commit))
        .map_err(|source| IndexError::Io {
            path: "indexer thread".into(),
            source,
        })?;
    Ok(IndexerHandle { tx, join })
}

fn run(
    index: LogIndex,
    store: &Store,
    mut writer: IndexWriter,
    rx: Receiver<Durable>,
    Timing {
        commit_interval,
        event_idle: idle,
    }: Timing,
    Links {
        deletes,
        watermarks,
    }: Links,
    on_commit: impl Fn(WalLocation),
) {
    let f = index.fields;
    // The WAL replays every file it kept; what the index holds already is left out (see
    // `Indexed::add`).
    let mark = index.committed_mark().unwrap_or_default();
    let mut indexed = Indexed {
        emitted: mark.emitted.clone(),
        mark,
    };
    let mut normalizer = Normalizer::with_idle(
        jiff::SignedDuration::try_from(idle).unwrap_or(crate::normalize::IDLE),
    );
    let mut last: Option<WalLocation> = Some(indexed.mark.location);
    let mut first_uncommitted: Option<Instant> = None;
    // The replay starts before every event open at the last commit, so what was final then
    // stays final.
    let mut next_id = indexed.mark.stored_below;
    let mut stored_below = indexed.mark.stored_below;
    watermarks.send_replace(Watermarks {
        stored: stored_below,
        searchable: stored_below,
    });

    loop {
        let mut wait = first_uncommitted
            .map(|t| commit_interval.saturating_sub(t.elapsed()))
            .unwrap_or(IDLE_WAKE);
        if normalizer.has_open() {
            wait = wait.min(idle);
        }
        let (out, disconnected) = match rx.recv_timeout(wait) {
            Ok(durable) => {
                let batch = &durable.batch;
                next_id = next_id.max(batch.first_id + batch.lines.len() as u64);
                let out = normalizer.push(batch, durable.location);
                last = last.max(Some(durable.location));
                (out, false)
            }
            Err(RecvTimeoutError::Timeout) => {
                (normalizer.flush_idle(jiff::Timestamp::now()), false)
            }
            Err(RecvTimeoutError::Disconnected) => (normalizer.flush_all(), true),
        };
        if !out.is_empty() {
            first_uncommitted.get_or_insert_with(Instant::now);
        }
        indexed.add(store, &mut writer, &f, out);
        let below = normalizer.lowest_pending().unwrap_or(next_id).min(next_id);
        if below > stored_below {
            stored_below = below;
            watermarks.send_modify(|w| w.stored = below);
        }
        let sealed: Vec<(String, u64)> = std::mem::take(&mut *deletes.lock().expect("deletes"));
        for (app, through) in &sealed {
            if let Err(e) = writer.delete_query(super::sealed_records(&f, app, *through)) {
                tracing::error!(error = %e, %app, "cannot drop sealed records from the hot index");
            }
        }
        if !sealed.is_empty() {
            first_uncommitted.get_or_insert_with(Instant::now);
        }
        let due = first_uncommitted.is_some_and(|t| t.elapsed() >= commit_interval);
        if (due || disconnected)
            && let Some(last) = last
            && first_uncommitted.is_some()
        {
            // A replay must rebuild the events still open: it starts before their first line.
            let location = normalizer.replay_from().map_or(last, |r| r.min(last));
            let mark = HotMark {
                location,
                emitted: indexed.emitted.clone(),
                stored_below,
            };
            match commit(&index, &mut writer, &mark) {
                Ok(()) => {
                    on_commit(store.commit_active(location));
                    watermarks.send_modify(|w| w.searchable = stored_below);
                }
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

/// What the hot index holds: the mark of its last commit at start, and the ids added since.
struct Indexed {
    mark: HotMark,
    emitted: std::collections::BTreeMap<String, u64>,
}

impl Indexed {
    /// Appends `out` (by app, then id) to the apps' active segments and indexes it, leaving out
    /// what a replay brings again: records in sealed segments, and records the hot index held
    /// at its last commit.
    fn add(
        &mut self,
        store: &Store,
        writer: &mut IndexWriter,
        f: &super::Fields,
        out: Vec<Normalized>,
    ) {
        for group in out.chunk_by(|a, b| a.record.record.app == b.record.record.app) {
            let app = &group[0].record.record.app;
            let sealed = store.sealed_through_of(app);
            let records: Vec<_> = group
                .iter()
                .filter_map(|n| n.after(sealed))
                .map(std::borrow::Cow::into_owned)
                .collect();
            let from = group.iter().map(|n| n.from).min().unwrap_or_default();
            if let Err(e) = store.append(records, from) {
                tracing::error!(error = %e, "cannot append to an active segment; the records stay in the WAL");
            }
            let emitted = self.emitted.get(app).copied();
            let fresh: Vec<_> = group
                .iter()
                .filter(|n| n.at > self.mark.location)
                .filter_map(|n| n.after(emitted))
                .collect();
            if let Some(max) = fresh.iter().map(|r| r.id).max() {
                self.emitted
                    .insert(app.clone(), max.max(emitted.unwrap_or(0)));
            }
            add(writer, f, &fresh);
        }
    }
}

fn add(
    writer: &mut IndexWriter,
    f: &super::Fields,
    records: &[std::borrow::Cow<'_, logq_schemas::StoredRecord>],
) {
    for stored in records {
        if let Err(e) = writer.add_document(f.document(stored)) {
            tracing::error!(error = %e, id = stored.id, "cannot index record");
        }
    }
}

fn commit(index: &LogIndex, writer: &mut IndexWriter, mark: &HotMark) -> Result<(), IndexError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(mark).expect("marks serialize"));
    prepared.commit()?;
    index.reader.reload()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(docs: &[(u32, u32)]) -> Vec<SegmentSize<usize>> {
        docs.iter()
            .enumerate()
            .map(|(id, &(docs, deleted))| SegmentSize { id, docs, deleted })
            .collect()
    }

    #[test]
    fn segments_merge_with_their_own_tier_and_a_big_one_is_left_alone() {
        // A big merged segment and ten fresh commits: the ten merge, the big one stays.
        let mut docs = vec![(400_000, 0)];
        docs.extend([(2_000, 0); 10]);
        assert_eq!(
            merge_candidates(&sizes(&docs)),
            [(1..=10).collect::<Vec<_>>()]
        );
        // Nine of a tier are not enough; nine small beside a middle one neither.
        assert!(merge_candidates(&sizes(&[(2_000, 0); 9])).is_empty());
        let mut docs = vec![(30_000, 0)];
        docs.extend([(500, 0); 9]);
        assert!(merge_candidates(&sizes(&docs)).is_empty());
        // Ten at each of two tiers: two merges.
        let mut docs = vec![(50_000, 0); 10];
        docs.extend([(900, 0); 10]);
        let merges = merge_candidates(&sizes(&docs));
        assert_eq!(merges.len(), 2, "{merges:?}");
    }

    #[test]
    fn mostly_deleted_segments_merge_together_whatever_their_size() {
        let docs = [(400_000, 300_000), (1_000, 500), (1_000, 0), (5, 5)];
        assert_eq!(merge_candidates(&sizes(&docs)), [vec![0, 1, 3]]);
    }

    #[test]
    fn a_record_is_rewritten_about_once_per_tier() {
        // Commits of 1,000 documents, the policy's merges run at once: how many times each
        // document is written in all.
        let mut segments: Vec<(u32, u32)> = Vec::new();
        let mut written: u64 = 0;
        let commits = 10_000u64;
        for _ in 0..commits {
            segments.push((1_000, 0));
            written += 1_000;
            while let Some(merge) = merge_candidates(&sizes(&segments)).into_iter().next() {
                let docs: u32 = merge.iter().map(|&i| segments[i].0).sum();
                written += u64::from(docs);
                segments = segments
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !merge.contains(i))
                    .map(|(_, s)| *s)
                    .collect();
                segments.push((docs, 0));
            }
        }
        let per_doc = written as f64 / (commits * 1_000) as f64;
        assert!(per_doc < 6.0, "each document written {per_doc:.1} times");
        assert!(segments.len() < 40, "{} segments", segments.len());
    }
}
