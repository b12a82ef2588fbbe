//! Search over the whole store: the hot index and the splits of the sealed segments pruned by
//! app and time range, queried in parallel off the async runtime and merged newest first; or,
//! for a query the index cannot answer, a scan of the pruned segments' records.
//!
//! A search runs in two steps so that a million hits never sit in memory as records: [`find`]
//! ranks where the hits are, [`fetch`] reads them a chunk at a time.
//!
//! [`find`]: Store::find
//! [`fetch`]: Store::fetch

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use logq_schemas::StoredRecord;

use super::active::ActiveView;
use super::frame_filter::FrameFilter;
use super::{Sealed, State, Store, scan, segment, split};
use crate::index::histogram::Buckets;
use crate::index::{LogIndex, SearchError, SearchRequest, SearchResult, nanos};
use crate::query::Prefilter;

/// A sealed segment's frame filter with the groups of keys to ask it (see
/// [`FrameFilter::may_hold`]).
type KeyFilter<'a> = (&'a FrameFilter, &'a [Vec<u32>]);

/// Where a hit's record is.
#[derive(Debug)]
enum At {
    /// In the hot index: the record is read by app and id.
    Hot(String),
    /// In a split: frame and slot of its segment.
    Sealed(Arc<Sealed>, u32, u32),
    /// Already read (by a scan).
    Record(Box<StoredRecord>),
}

/// One hit: its sort key (event time, id) and where its record is.
#[derive(Debug)]
pub struct Hit {
    key: (i64, u64),
    at: At,
}

/// What [`Store::find`] found: hits ranked newest first (or oldest first once
/// [`Found::oldest_first`] is called), and how many records match in all.
#[derive(Debug)]
pub struct Found {
    pub total: u64,
    hits: std::collections::VecDeque<Hit>,
}

impl Found {
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// Puts the hits oldest first.
    pub fn oldest_first(&mut self) {
        self.hits.make_contiguous().reverse();
    }

    /// The next `n` hits, to [fetch](Store::fetch).
    pub fn next_chunk(&mut self, n: usize) -> Vec<Hit> {
        let n = n.min(self.hits.len());
        self.hits.drain(..n).collect()
    }
}

impl Store {
    /// Ranks the newest `req.limit` matches of `req` and counts them all. Blocking.
    pub fn find(&self, hot: &LogIndex, req: &SearchRequest) -> Result<Found, SearchError> {
        req.check()?;
        if req.query.needs_scan() {
            return Ok(self.scan(req));
        }
        // One snapshot: a split finished after it is neither searched nor left out of hot.
        let (sealed_through, candidates) = {
            let st = self.state.read().expect("store lock");
            (st.sealed_through.clone(), self.candidates(&st, req, true))
        };
        let (hot_hits, hot_total) = hot.search_hot(req, &sealed_through)?;
        let mut hits: Vec<Hit> = hot_hits
            .into_iter()
            .map(|(key, app)| Hit {
                key,
                at: At::Hot(app),
            })
            .collect();
        let mut total = hot_total;
        let per_split = each_split(&candidates, &self.damaged, |split| {
            let q = req.to_tantivy(&split.fields, &BTreeMap::new());
            Ok(split.search(&*q, req.limit)?)
        })?;
        for (s, (found, count)) in candidates.iter().zip(per_split) {
            total += count;
            hits.extend(found.into_iter().map(|h| Hit {
                key: (h.time, h.id),
                at: At::Sealed(s.clone(), h.frame, h.slot),
            }));
        }
        hits.sort_unstable_by_key(|h| std::cmp::Reverse(h.key));
        hits.truncate(req.limit);
        Ok(Found {
            total,
            hits: hits.into(),
        })
    }

    /// The records of `hits`, in their order; records gone since (evicted) are left out.
    pub fn fetch(&self, hits: Vec<Hit>) -> Vec<StoredRecord> {
        let mut hot_ids: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for h in &hits {
            if let At::Hot(app) = &h.at {
                hot_ids.entry(app).or_default().push(h.key.1);
            }
        }
        let mut hot: HashMap<u64, StoredRecord> = HashMap::new();
        for (app, mut ids) in hot_ids {
            ids.sort_unstable();
            hot.extend(self.lookup(app, &ids).into_iter().map(|r| (r.id, r)));
        }
        let mut frames: HashMap<(u64, u32), Vec<StoredRecord>> = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        for Hit { key: (_, id), at } in hits {
            match at {
                At::Hot(_) => out.extend(hot.remove(&id)),
                At::Record(r) => out.push(*r),
                At::Sealed(s, frame, slot) => {
                    let records = frames
                        .entry((s.meta.seq, frame))
                        .or_insert_with(|| self.read_frame(&s, frame as usize));
                    if let Some(r) = records.get(slot as usize).filter(|r| r.id == id) {
                        out.push(r.clone());
                    }
                }
            }
        }
        out
    }

    /// Searches hot and sealed records: the newest `req.limit` hits, newest first, and the
    /// number of matches. Blocking.
    pub fn search(&self, hot: &LogIndex, req: &SearchRequest) -> Result<SearchResult, SearchError> {
        let mut found = self.find(hot, req)?;
        let n = found.len();
        Ok(SearchResult {
            hits: self.fetch(found.next_chunk(n)),
            total: found.total,
        })
    }

    /// Counts the matches of `req` into `buckets` (matches outside them are not counted).
    /// Blocking.
    pub fn histogram(
        &self,
        hot: &LogIndex,
        req: &SearchRequest,
        mut buckets: Buckets,
    ) -> Result<Buckets, SearchError> {
        req.check()?;
        if req.query.needs_scan() {
            let empty = || {
                let mut b = buckets.clone();
                b.counts.iter_mut().for_each(|c| *c = 0);
                b
            };
            for part in self.scan_each(req, empty, |b, r| b.count(nanos(r.record.time))) {
                buckets.add(&part.counts);
            }
            return Ok(buckets);
        }
        let (sealed_through, candidates) = {
            let st = self.state.read().expect("store lock");
            (st.sealed_through.clone(), self.candidates(&st, req, true))
        };
        hot.histogram_hot(req, &sealed_through, &mut buckets)?;
        let per_split = each_split(&candidates, &self.damaged, |split| {
            let q = req.to_tantivy(&split.fields, &BTreeMap::new());
            Ok(split.histogram(&*q, &buckets)?)
        })?;
        for counts in per_split {
            buckets.add(&counts);
        }
        Ok(buckets)
    }

    /// The sealed segments `req` can match: its apps, overlapping its time range; only those
    /// with a split when `split_only`.
    pub(super) fn candidates(
        &self,
        st: &State,
        req: &SearchRequest,
        split_only: bool,
    ) -> Vec<Arc<Sealed>> {
        st.sealed
            .values()
            .filter(|s| !split_only || s.split.is_some())
            .filter(|s| req.may_hold(&s.meta.app, s.meta.min_time, s.meta.max_time))
            .filter(|s| req.through_id.is_none_or(|id| s.meta.first_id <= id))
            .cloned()
            .collect()
    }

    /// A frame's records; a damaged frame is logged, marked for salvage and read as empty.
    pub(super) fn read_frame(&self, s: &Sealed, frame: usize) -> Vec<StoredRecord> {
        s.file.frame(frame).unwrap_or_else(|e| {
            self.frame_damaged(s, &e);
            Vec::new()
        })
    }

    /// The scan fallback: the newest `req.limit` records matching `req`, read from the pruned
    /// segments, active and sealed.
    fn scan(&self, req: &SearchRequest) -> Found {
        let newest = self
            .scan_each(
                req,
                || scan::Newest::new(req.limit),
                |newest, r| newest.push((nanos(r.record.time), r.id), r),
            )
            .into_iter()
            .reduce(scan::Newest::merge)
            .unwrap_or_else(|| scan::Newest::new(req.limit));
        let total = newest.total;
        Found {
            total,
            hits: newest
                .into_newest_first()
                .into_iter()
                .map(|r| Hit {
                    key: (nanos(r.record.time), r.id),
                    at: At::Record(Box::new(r)),
                })
                .collect(),
        }
    }

    /// Reads every frame that may hold a record matching `req` on scoped threads (one per
    /// core, at most 8), calling `each` with each match and the thread's own state made by
    /// `init`; returns the states.
    fn scan_each<T: Send>(
        &self,
        req: &SearchRequest,
        init: impl Fn() -> T + Sync,
        each: impl Fn(&mut T, StoredRecord) + Sync,
    ) -> Vec<T> {
        let since = req.since.map(nanos);
        let until = req.until.map(nanos);
        let wanted = |min: i64, max: i64, first_id: u64| {
            since.is_none_or(|t| max >= t)
                && until.is_none_or(|t| min <= t)
                && req.through_id.is_none_or(|id| first_id <= id)
        };
        // Snapshots, so that ingest goes on while the scan reads.
        let (views, candidates) = {
            let active = self.active.lock().expect("active lock");
            let views: Vec<Arc<ActiveView>> = active
                .iter()
                .filter(|(app, _)| req.apps.matches(app))
                .filter_map(|(app, segment)| match segment.view() {
                    Ok(v) => Some(Arc::new(v)),
                    Err(e) => {
                        tracing::error!(%app, error = %e, "an active segment is unreadable; left out of the scan");
                        None
                    }
                })
                .collect();
            let st = self.state.read().expect("store lock");
            (views, self.candidates(&st, req, false))
        };
        // Each frame to read, with the frame filter to ask first (asked on the scan's threads:
        // a request id's search asks one for each of about 10,000 frames at 10 GiB).
        let mut work: Vec<(Frame, Option<KeyFilter<'_>>)> = Vec::new();
        for v in &views {
            work.extend(
                (0..v.frames.len())
                    .filter(|&i| {
                        wanted(
                            v.frames[i].min_time,
                            v.frames[i].max_time,
                            v.frames[i].first_id,
                        )
                    })
                    .map(|i| (Frame::Active(v.clone(), i), None)),
            );
            work.push((Frame::Tail(v.clone()), None));
        }
        // The ids a match holds leave out the sealed frames whose filter lacks them.
        let keys = req.query.frame_keys();
        for s in &candidates {
            let filter = keys.as_ref().and_then(|k| {
                let f = s.split.as_ref().map(|split| &*split.frames)?;
                if f.intact() {
                    Some((f, k.as_slice()))
                } else {
                    tracing::error!(seq = s.meta.seq, app = %s.meta.app, "a frame filter fails its checksum; scanning every frame and rebuilding the split");
                    self.damaged.lock().expect("damaged").insert(s.meta.seq);
                    None
                }
            });
            work.extend(
                (0..s.file.footer.frames.len())
                    .filter(|&i| {
                        let f = &s.file.footer.frames[i];
                        wanted(f.min_time, f.max_time, f.first_id)
                    })
                    .map(|i| (Frame::Sealed(s.clone(), i), filter)),
            );
        }
        // Only the lines holding the query's literals are parsed, when it has some.
        let prefilter = req.query.prefilter();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let worker = || {
            let mut state = init();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((frame, filter)) = work.get(i) else {
                    break;
                };
                if let (Frame::Sealed(_, n), Some((filter, keys))) = (frame, filter)
                    && !filter.may_hold(*n, keys)
                {
                    continue;
                }
                for r in self.frame_records(frame, prefilter.as_ref()) {
                    if req.matches(&r) {
                        each(&mut state, r);
                    }
                }
            }
            state
        };
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8)
            .min(work.len().max(1));
        std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
            let mut states = vec![worker()];
            states.extend(handles.into_iter().map(|h| h.join().expect("scan thread")));
            states
        })
    }

    /// The records of one frame to scan, only those on lines `prefilter` lets through when
    /// there is one; an unreadable frame is logged and read as empty.
    fn frame_records(&self, frame: &Frame, prefilter: Option<&Prefilter>) -> Vec<StoredRecord> {
        let (bytes, path) = match frame {
            Frame::Sealed(s, i) => (s.file.frame_bytes(*i), s.file.path()),
            Frame::Active(v, i) => (v.frame_bytes(*i), v.path()),
            Frame::Tail(v) => return v.tail.clone(),
        };
        let parsed = bytes.and_then(|raw| match prefilter {
            Some(p) => p
                .lines(&raw)
                .map(|line| segment::parse_record(path, line))
                .collect(),
            None => segment::parse_records(path, &raw),
        });
        parsed.unwrap_or_else(|e| {
            match frame {
                Frame::Sealed(s, _) => self.frame_damaged(s, &e),
                Frame::Active(..) | Frame::Tail(_) => {
                    tracing::error!(error = %e, "an active segment's frame is unreadable; left out of the scan");
                }
            }
            Vec::new()
        })
    }

    /// Logs a damaged frame of `s` and queues the segment for salvage.
    fn frame_damaged(&self, s: &Sealed, e: &segment::SegmentError) {
        tracing::error!(error = %e, "a segment frame is damaged; its records are left out and the segment will be salvaged");
        self.damaged.lock().expect("damaged").insert(s.meta.seq);
    }
}

/// A frame to scan.
enum Frame {
    Sealed(Arc<Sealed>, usize),
    Active(Arc<ActiveView>, usize),
    Tail(Arc<ActiveView>),
}

/// Runs `one` on every candidate's split (segments without one give `T::default()`), in
/// parallel on scoped threads when there are several.
/// A split whose search fails is put in `damaged`, for the sealer thread to rebuild from its
/// segment, and the search fails with [`SearchError::Repairing`].
fn each_split<T: Send + Default>(
    candidates: &[Arc<Sealed>],
    damaged: &Mutex<BTreeSet<u64>>,
    one: impl Fn(&split::Split) -> Result<T, SearchError> + Sync,
) -> Result<Vec<T>, SearchError> {
    let run = |s: &Sealed| {
        match &s.split {
        Some(split) => one(split).map_err(|e| match e {
            SearchError::Index(error) => {
                tracing::error!(seq = s.meta.seq, app = %s.meta.app, %error, "a split failed a search; rebuilding it from its segment");
                damaged.lock().expect("damaged").insert(s.meta.seq);
                SearchError::Repairing {
                    seq: s.meta.seq,
                    error: error.to_string(),
                }
            }
            other => other,
        }),
        None => Ok(T::default()),
    }
    };
    if candidates.len() < 4 {
        return candidates.iter().map(|s| run(s)).collect();
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = candidates.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(|s| run(s)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(candidates.len());
        for h in handles {
            for r in h.join().expect("split search thread") {
                out.push(r?);
            }
        }
        Ok(out)
    })
}
