//! Sealed storage: per-app segments of zstd frames, each with its own tantivy split, listed in
//! a manifest; sealing from the hot index, search across hot and sealed, and retention.
//!
//! Layout under `<data_dir>/segments/`: `manifest.json` and `<app>/<seq:010>.seg` with its
//! split `<app>/<seq:010>.split/`. The segments are the truth: the manifest is a cache of their
//! footers (rebuilt from them when lost), a split is rebuilt from its segment when missing or
//! unreadable, and each app's "sealed through" id (records up to it live in segments, so the
//! hot index leaves them out) is the highest id of its segments.

pub mod scan;
pub mod segment;
pub mod split;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use logq_schemas::StoredRecord;
use serde::{Deserialize, Serialize};

use crate::config::{AppRetention, RetentionConfig, StorageConfig};
use crate::index::{HotStats, LogIndex, SearchError, SearchRequest, SearchResult, build_query};
use segment::{SegmentFile, SegmentWriter};
use split::Split;

const MANIFEST: &str = "manifest.json";
const MANIFEST_VERSION: u32 = 1;
/// How often the sealer checks the global cap and the disk floor.
const SEAL_CHECK: Duration = Duration::from_millis(100);
/// Every this many checks it reads the hot index's statistics and seals what is due.
const SEALS_EVERY: u64 = 5;

/// A sealed segment as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SegmentMeta {
    pub seq: u64,
    pub app: String,
    pub first_id: u64,
    pub last_id: u64,
    /// Event time range, nanoseconds since the epoch.
    pub min_time: i64,
    pub max_time: i64,
    pub records: u64,
    pub raw_bytes: u64,
    pub segment_bytes: u64,
    pub split_bytes: u64,
}

impl SegmentMeta {
    pub fn disk_bytes(&self) -> u64 {
        self.segment_bytes + self.split_bytes
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Manifest {
    version: u32,
    next_seq: u64,
    segments: Vec<SegmentMeta>,
}

/// A segment open for search.
#[derive(Debug)]
struct Sealed {
    meta: SegmentMeta,
    file: SegmentFile,
    split: Split,
    /// Every frame's checksum was checked since the collector started.
    verified: AtomicBool,
}

impl Sealed {
    fn new(meta: SegmentMeta, file: SegmentFile, split: Split) -> Sealed {
        Sealed {
            meta,
            file,
            split,
            verified: AtomicBool::new(false),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    /// By seq (oldest first).
    sealed: BTreeMap<u64, Arc<Sealed>>,
}

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub segments: usize,
    pub splits_rebuilt: usize,
    pub segments_salvaged: usize,
    pub records_lost: u64,
    pub segments_dropped: usize,
}

/// Why records were evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvictReason {
    AppMaxBytes,
    AppMaxAge,
    GlobalMaxBytes,
    DiskFloor,
}

/// One app as `logq apps` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppInfo {
    pub app: String,
    pub records: u64,
    /// Raw message bytes (sealed segments' raw JSON for sealed data).
    pub raw_bytes: u64,
    /// Bytes of sealed segments and their splits on disk.
    pub disk_bytes: u64,
    pub segments: usize,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub retention: AppRetention,
}

/// Free space of the data dir's filesystem: (available bytes, total bytes).
pub type FreeSpace = Arc<dyn Fn(&Path) -> Option<(u64, u64)> + Send + Sync>;

/// The real probe: statvfs.
pub fn statvfs_probe() -> FreeSpace {
    Arc::new(|path: &Path| {
        let s = rustix::fs::statvfs(path).ok()?;
        Some((s.f_bavail * s.f_frsize, s.f_blocks * s.f_frsize))
    })
}

/// The sealed store.
pub struct Store {
    dir: PathBuf,
    data_dir: PathBuf,
    storage: StorageConfig,
    retention: RetentionConfig,
    free_space: FreeSpace,
    state: RwLock<State>,
    evictions: Mutex<HashMap<EvictReason, u64>>,
    /// Apps whose ingest is refused because the disk floor is breached with nothing left to
    /// evict.
    refused: RwLock<Vec<String>>,
    /// Segments a search found damaged, to be salvaged by the sealer thread.
    damaged: Mutex<std::collections::BTreeSet<u64>>,
    /// Records lost to damage since start.
    records_lost: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{}: {e}", path.display())
}

impl Store {
    /// Opens `<data_dir>/segments`, checking every segment and split against the manifest and
    /// repairing what it can (see [`OpenReport`]). Never fails on damaged data; fails only
    /// when the directory itself is unusable.
    pub fn open(
        data_dir: &Path,
        storage: StorageConfig,
        retention: RetentionConfig,
        free_space: FreeSpace,
    ) -> anyhow::Result<(Store, OpenReport)> {
        let dir = data_dir.join("segments");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let manifest: Manifest = std::fs::read(dir.join(MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let listed: HashMap<u64, SegmentMeta> =
            manifest.segments.into_iter().map(|m| (m.seq, m)).collect();
        let mut report = OpenReport::default();
        let mut state = State {
            next_seq: manifest.next_seq,
            sealed: BTreeMap::new(),
        };
        let mut on_disk = Vec::new();
        for app_dir in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
            if !app_dir.path().is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(app_dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") {
                    let _ = std::fs::remove_dir_all(&path);
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                if let Some(seq) = name
                    .strip_suffix(".seg")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    on_disk.push((seq, path));
                }
            }
        }
        on_disk.sort();
        let mut seen = std::collections::HashSet::new();
        for (seq, path) in on_disk {
            seen.insert(seq);
            state.next_seq = state.next_seq.max(seq + 1);
            match SegmentFile::open(&path) {
                Ok(file) => {
                    let split_dir = path.with_extension("split");
                    let split = match Split::open(&split_dir) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(segment = %path.display(), error = %e, "split missing or unreadable; rebuilding it from its segment");
                            report.splits_rebuilt += 1;
                            match Split::build(&split_dir, &file) {
                                Ok(s) => s,
                                Err(e) => {
                                    tracing::error!(segment = %path.display(), error = %e, "cannot rebuild the split; the segment is left out of search");
                                    continue;
                                }
                            }
                        }
                    };
                    let meta = meta_of(seq, &file, &path, &split_dir);
                    if listed.get(&seq).is_some_and(|m| m.app != meta.app) {
                        tracing::warn!(segment = %path.display(), "manifest disagrees with the segment's footer; the footer wins");
                    }
                    report.segments += 1;
                    state
                        .sealed
                        .insert(seq, Arc::new(Sealed::new(meta, file, split)));
                }
                Err(e) => {
                    tracing::warn!(segment = %path.display(), error = %e, "segment damaged; salvaging its intact frames");
                    report.segments_salvaged += 1;
                    let expected = listed.get(&seq).map(|m| m.records);
                    match salvage_into(&path, seq, &storage) {
                        Ok(Some(sealed)) => {
                            let kept = sealed.meta.records;
                            if let Some(n) = expected {
                                report.records_lost += n.saturating_sub(kept);
                            }
                            tracing::warn!(segment = %path.display(), kept, lost = expected.map(|n| n.saturating_sub(kept)), "segment salvaged");
                            state.sealed.insert(seq, Arc::new(sealed));
                        }
                        Ok(None) => {
                            report.segments_dropped += 1;
                            report.records_lost += expected.unwrap_or(0);
                            tracing::error!(segment = %path.display(), "nothing in the segment could be salvaged; dropped");
                        }
                        Err(e) => {
                            tracing::error!(segment = %path.display(), error = %e, "cannot salvage the segment; left out");
                        }
                    }
                }
            }
        }
        for (seq, meta) in &listed {
            if !seen.contains(seq) {
                report.segments_dropped += 1;
                report.records_lost += meta.records;
                tracing::error!(seq, app = %meta.app, records = meta.records, "a segment listed in the manifest is gone");
            }
        }
        let store = Store {
            dir,
            data_dir: data_dir.to_owned(),
            storage,
            retention,
            free_space,
            state: RwLock::new(state),
            evictions: Mutex::new(HashMap::new()),
            refused: RwLock::new(Vec::new()),
            damaged: Mutex::new(Default::default()),
            records_lost: std::sync::atomic::AtomicU64::new(report.records_lost),
        };
        store.write_manifest()?;
        Ok((store, report))
    }

    fn write_manifest(&self) -> anyhow::Result<()> {
        let st = self.state.read().expect("store lock");
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            next_seq: st.next_seq,
            segments: st.sealed.values().map(|s| s.meta.clone()).collect(),
        };
        drop(st);
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join("manifest.json.tmp");
        let bytes = serde_json::to_vec_pretty(&manifest).expect("manifests serialize");
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        std::io::Write::write_all(&mut f, &bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }

    /// Each app's highest sealed id: the hot index leaves out records up to it.
    pub fn sealed_through(&self) -> BTreeMap<String, u64> {
        let st = self.state.read().expect("store lock");
        let mut out = BTreeMap::new();
        for s in st.sealed.values() {
            let e = out.entry(s.meta.app.clone()).or_insert(0);
            *e = (*e).max(s.meta.last_id);
        }
        out
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentMeta> {
        let st = self.state.read().expect("store lock");
        st.sealed.values().map(|s| s.meta.clone()).collect()
    }

    /// Apps refused because the disk floor is breached and nothing is left to evict.
    pub fn refused_apps(&self) -> Vec<String> {
        self.refused.read().expect("refused lock").clone()
    }

    /// Whether `app`'s ingest is refused (disk floor, nothing left to evict).
    pub fn is_refused(&self, app: &str) -> bool {
        self.refused
            .read()
            .expect("refused lock")
            .iter()
            .any(|a| a == app)
    }

    /// Evictions so far, by reason.
    pub fn evictions(&self) -> HashMap<EvictReason, u64> {
        self.evictions.lock().expect("evictions").clone()
    }

    /// Seals `app`'s hot records with ids in (`after`, `through`] into a new segment with its
    /// split, and lists it. The hot index still holds them; the caller asks the indexer to drop
    /// them (search already leaves them out once this returns).
    pub fn seal(
        &self,
        hot: &LogIndex,
        app: &str,
        after: Option<u64>,
        through: u64,
    ) -> anyhow::Result<SegmentMeta> {
        let seq = {
            let mut st = self.state.write().expect("store lock");
            let seq = st.next_seq;
            st.next_seq += 1;
            seq
        };
        let app_dir = self.dir.join(app);
        std::fs::create_dir_all(&app_dir).map_err(io_err(&app_dir))?;
        let path = app_dir.join(format!("{seq:010}.seg"));
        let tmp = app_dir.join(format!("{seq:010}.seg.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut writer = SegmentWriter::create(
            &tmp,
            app,
            self.storage.frame_bytes as usize,
            self.storage.zstd_level,
        )?;
        hot.for_each_record(app, after, through, |r| {
            writer
                .push(&r)
                .map(|_| ())
                .map_err(|e| SearchError::BadRequest(e.to_string()))
        })?;
        writer.finish()?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        let file = SegmentFile::open(&path)?;
        let split_dir = path.with_extension("split");
        let split = Split::build(&split_dir, &file)?;
        let meta = meta_of(seq, &file, &path, &split_dir);
        self.state
            .write()
            .expect("store lock")
            .sealed
            .insert(seq, Arc::new(Sealed::new(meta.clone(), file, split)));
        self.write_manifest()?;
        Ok(meta)
    }

    /// Searches hot and sealed records: splits pruned by app and time range, hits merged
    /// newest first. Blocking.
    pub fn search(&self, hot: &LogIndex, req: &SearchRequest) -> Result<SearchResult, SearchError> {
        req.check()?;
        if let Some(re) = scan::regex_of(&req.query) {
            return self.scan(hot, req, &re?);
        }
        let sealed_through = self.sealed_through();
        let (hot_hits, hot_total) = hot.search_hot(req, &sealed_through)?;
        let candidates = self.candidates(req);
        enum Hit {
            Hot(StoredRecord),
            Sealed(usize, split::SplitHit),
        }
        let mut merged: Vec<((i64, u64), Hit)> = hot_hits
            .into_iter()
            .map(|(k, r)| (k, Hit::Hot(r)))
            .collect();
        let mut total = hot_total;
        let per_split = search_splits(&candidates, req)?;
        for (i, (hits, count)) in per_split.into_iter().enumerate() {
            total += count;
            merged.extend(
                hits.into_iter()
                    .map(|h| ((h.time, h.id), Hit::Sealed(i, h))),
            );
        }
        merged.sort_unstable_by_key(|m| std::cmp::Reverse(m.0));
        merged.truncate(req.limit);
        let mut frames: HashMap<(usize, u32), Vec<StoredRecord>> = HashMap::new();
        let mut hits = Vec::with_capacity(merged.len());
        for (_, hit) in merged {
            match hit {
                Hit::Hot(r) => hits.push(r),
                Hit::Sealed(i, h) => {
                    let records = frames.entry((i, h.frame)).or_insert_with(|| {
                        candidates[i]
                            .file
                            .frame(h.frame as usize)
                            .unwrap_or_else(|e| {
                                tracing::error!(error = %e, "a segment frame is damaged; its records are left out and the segment will be salvaged");
                                self.damaged.lock().expect("damaged").insert(candidates[i].meta.seq);
                                Vec::new()
                            })
                    });
                    if let Some(r) = records.get(h.slot as usize).filter(|r| r.id == h.id) {
                        hits.push(r.clone());
                    }
                }
            }
        }
        Ok(SearchResult { hits, total })
    }

    /// The segments `req` can match: its apps, overlapping its time range.
    fn candidates(&self, req: &SearchRequest) -> Vec<Arc<Sealed>> {
        let since = req.since.map(crate::index::nanos);
        let until = req.until.map(crate::index::nanos);
        let st = self.state.read().expect("store lock");
        st.sealed
            .values()
            .filter(|s| req.apps.is_empty() || req.apps.contains(&s.meta.app))
            .filter(|s| since.is_none_or(|t| s.meta.max_time >= t))
            .filter(|s| until.is_none_or(|t| s.meta.min_time <= t))
            .cloned()
            .collect()
    }

    /// The scan fallback (see [`scan`]): every record of the pruned segments and of the hot
    /// index is matched against `re`. Blocking.
    fn scan(
        &self,
        hot: &LogIndex,
        req: &SearchRequest,
        re: &regex::Regex,
    ) -> Result<SearchResult, SearchError> {
        let sealed_through = self.sealed_through();
        let mut newest = scan::Newest::new(req.limit);
        for (key, r) in hot.scan_hot(req, &sealed_through, |r| re.is_match(&r.record.message))? {
            newest.push(key, r);
        }
        let since = req.since.map(crate::index::nanos);
        let until = req.until.map(crate::index::nanos);
        let candidates = self.candidates(req);
        for s in candidates {
            for (i, f) in s.file.footer.frames.iter().enumerate() {
                if since.is_some_and(|t| f.max_time < t) || until.is_some_and(|t| f.min_time > t) {
                    continue;
                }
                let records = match s.file.frame(i) {
                    Ok(records) => records,
                    Err(e) => {
                        tracing::error!(error = %e, "a segment frame is damaged; left out of the scan and salvaged later");
                        self.damaged.lock().expect("damaged").insert(s.meta.seq);
                        continue;
                    }
                };
                for r in records {
                    if scan::matches(req, re, &r) {
                        newest.push((crate::index::nanos(r.record.time), r.id), r);
                    }
                }
            }
        }
        let total = newest.total;
        Ok(SearchResult {
            hits: newest.into_newest_first(),
            total,
        })
    }

    /// Every app with what it holds, hot and sealed, and its retention policy.
    pub fn apps(&self, hot: &LogIndex) -> Result<Vec<AppInfo>, SearchError> {
        let sealed_through = self.sealed_through();
        let hot_stats = hot.hot_stats(&sealed_through)?;
        let hot_apps: BTreeMap<String, crate::index::AppSummary> = hot
            .apps_excluding(&sealed_through)?
            .into_iter()
            .map(|a| (a.app.clone(), a))
            .collect();
        let mut out: BTreeMap<String, AppInfo> = BTreeMap::new();
        let time = |t: i64| Timestamp::from_nanosecond(i128::from(t)).ok();
        for s in self.segments() {
            let e = out.entry(s.app.clone()).or_insert_with(|| AppInfo {
                app: s.app.clone(),
                records: 0,
                raw_bytes: 0,
                disk_bytes: 0,
                segments: 0,
                first: None,
                last: None,
                retention: self.retention.for_app(&s.app).clone(),
            });
            e.records += s.records;
            e.raw_bytes += s.raw_bytes;
            e.disk_bytes += s.disk_bytes();
            e.segments += 1;
            e.first = min_opt(e.first, time(s.min_time));
            e.last = max_opt(e.last, time(s.max_time));
        }
        for (app, summary) in hot_apps {
            let stats = hot_stats.get(&app).copied().unwrap_or_default();
            let e = out.entry(app.clone()).or_insert_with(|| AppInfo {
                app: app.clone(),
                records: 0,
                raw_bytes: 0,
                disk_bytes: 0,
                segments: 0,
                first: None,
                last: None,
                retention: self.retention.for_app(&app).clone(),
            });
            e.records += summary.records;
            e.raw_bytes += stats.bytes;
            e.first = min_opt(e.first, summary.first);
            e.last = max_opt(e.last, summary.last);
        }
        Ok(out.into_values().collect())
    }

    /// Bytes the data dir holds: segments with splits, the hot index and the WAL.
    fn data_dir_bytes(&self) -> u64 {
        let sealed: u64 = self.segments().iter().map(SegmentMeta::disk_bytes).sum();
        sealed + tree_bytes(&self.data_dir.join("index")) + tree_bytes(&self.data_dir.join("wal"))
    }

    /// Applies retention: per-app age and size, the global cap, the disk floor. `hot` is each
    /// app's unsealed data: when the floor is breached with no segment left to evict, the app
    /// with the most of it is refused. Returns the segments evicted with their reasons.
    pub fn enforce_retention(
        &self,
        hot: &BTreeMap<String, HotStats>,
    ) -> Vec<(SegmentMeta, EvictReason)> {
        let mut evicted = Vec::new();
        let now = crate::index::nanos(Timestamp::now());
        // Per app: age, then size.
        for s in self.segments() {
            let policy = self.retention.for_app(&s.app);
            if let Some(age) = policy.max_age_secs
                && s.max_time < now.saturating_sub((age as i64).saturating_mul(1_000_000_000))
            {
                self.evict(&s, EvictReason::AppMaxAge, &mut evicted);
            }
        }
        let mut by_app: BTreeMap<String, Vec<SegmentMeta>> = BTreeMap::new();
        for s in self.segments() {
            by_app.entry(s.app.clone()).or_default().push(s);
        }
        for (app, segs) in by_app {
            let Some(max) = self.retention.for_app(&app).max_bytes else {
                continue;
            };
            let mut used: u64 = segs.iter().map(SegmentMeta::disk_bytes).sum();
            for s in segs {
                if used <= max {
                    break;
                }
                used -= s.disk_bytes();
                self.evict(&s, EvictReason::AppMaxBytes, &mut evicted);
            }
        }
        // Global cap, then the disk floor: the app most over its share loses its oldest.
        if let Some(max) = self.retention.max_bytes {
            while self.data_dir_bytes() > max {
                let Some(s) = self.most_over_share() else {
                    break;
                };
                self.evict(&s, EvictReason::GlobalMaxBytes, &mut evicted);
            }
        }
        let mut refused = Vec::new();
        let heaviest = || {
            hot.iter()
                .max_by_key(|(_, s)| s.bytes)
                .map(|(app, _)| vec![app.clone()])
                .unwrap_or_default()
        };
        if let Some(max) = self.retention.max_bytes {
            // What cannot be evicted (the hot index and the WAL) must leave room for the
            // sealed data being written: past that, the app writing most waits.
            let unevictable =
                tree_bytes(&self.data_dir.join("index")) + tree_bytes(&self.data_dir.join("wal"));
            if unevictable + 2 * self.storage.segment_max_bytes > max || self.data_dir_bytes() > max
            {
                refused = heaviest();
            }
        }
        while let Some((avail, total)) = (self.free_space)(&self.data_dir) {
            let floor = self
                .retention
                .min_free_bytes
                .max(total / 100 * u64::from(self.retention.min_free_percent));
            if avail >= floor {
                break;
            }
            match self.most_over_share() {
                Some(s) => self.evict(&s, EvictReason::DiskFloor, &mut evicted),
                None => {
                    refused = heaviest();
                    break;
                }
            }
        }
        let mut r = self.refused.write().expect("refused lock");
        if *r != refused {
            if refused.is_empty() {
                tracing::info!("disk floor holds again; ingest accepted from every app");
            } else {
                tracing::error!(apps = ?refused, "over the global cap or the disk floor with nothing left to evict: refusing these apps' ingest");
            }
            *r = refused;
        }
        evicted
    }

    /// The oldest segment of the app whose sealed bytes are highest relative to its own
    /// max_bytes (or in absolute terms when it has none).
    fn most_over_share(&self) -> Option<SegmentMeta> {
        let segs = self.segments();
        let mut used: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &segs {
            *used.entry(&s.app).or_default() += s.disk_bytes();
        }
        let score = |app: &str, bytes: u64| match self.retention.for_app(app).max_bytes {
            Some(max) if max > 0 => bytes as f64 / max as f64 * 1e12,
            _ => bytes as f64,
        };
        let app = used
            .iter()
            .max_by(|a, b| score(a.0, *a.1).total_cmp(&score(b.0, *b.1)))?
            .0
            .to_string();
        segs.into_iter().find(|s| s.app == app)
    }

    fn evict(
        &self,
        s: &SegmentMeta,
        reason: EvictReason,
        evicted: &mut Vec<(SegmentMeta, EvictReason)>,
    ) {
        let removed = self
            .state
            .write()
            .expect("store lock")
            .sealed
            .remove(&s.seq);
        if removed.is_none() {
            return;
        }
        if let Err(e) = self.write_manifest() {
            tracing::error!(error = %e, "cannot write the manifest after an eviction");
        }
        let path = self.dir.join(&s.app).join(format!("{:010}.seg", s.seq));
        let _ = std::fs::remove_dir_all(path.with_extension("split"));
        let _ = std::fs::remove_file(&path);
        *self
            .evictions
            .lock()
            .expect("evictions")
            .entry(reason)
            .or_default() += 1;
        tracing::info!(app = %s.app, seq = s.seq, records = s.records, bytes = s.disk_bytes(), ?reason, "evicted a segment");
        evicted.push((s.clone(), reason));
    }

    /// Records lost to damaged segments since start (including those found at open).
    pub fn records_lost(&self) -> u64 {
        self.records_lost.load(Ordering::Relaxed)
    }

    /// Checks every frame of up to `budget` segments not checked since start, salvaging the
    /// damaged ones, and salvages segments searches found damaged. Returns how many segments
    /// it checked.
    pub fn scrub(&self, budget: usize) -> usize {
        let damaged: Vec<u64> = std::mem::take(&mut *self.damaged.lock().expect("damaged"))
            .into_iter()
            .collect();
        for seq in damaged {
            self.repair(seq);
        }
        let todo: Vec<Arc<Sealed>> = {
            let st = self.state.read().expect("store lock");
            st.sealed
                .values()
                .filter(|s| !s.verified.load(Ordering::Relaxed))
                .take(budget)
                .cloned()
                .collect()
        };
        for s in &todo {
            let intact = (0..s.file.footer.frames.len()).all(|i| s.file.frame_bytes(i).is_ok());
            s.verified.store(true, Ordering::Relaxed);
            if !intact {
                self.repair(s.meta.seq);
            }
        }
        todo.len()
    }

    /// Rewrites segment `seq` from its intact frames (or drops it when none is left).
    fn repair(&self, seq: u64) {
        let Some(old) = self
            .state
            .read()
            .expect("store lock")
            .sealed
            .get(&seq)
            .cloned()
        else {
            return;
        };
        let path = self.dir.join(&old.meta.app).join(format!("{seq:010}.seg"));
        let result = salvage_into(&path, seq, &self.storage);
        let kept = match &result {
            Ok(Some(s)) => s.meta.records,
            _ => 0,
        };
        let lost = old.meta.records.saturating_sub(kept);
        match result {
            Ok(Some(sealed)) => {
                sealed.verified.store(true, Ordering::Relaxed);
                self.state
                    .write()
                    .expect("store lock")
                    .sealed
                    .insert(seq, Arc::new(sealed));
                tracing::warn!(app = %old.meta.app, seq, kept, lost, "salvaged a damaged segment");
            }
            Ok(None) => {
                self.state.write().expect("store lock").sealed.remove(&seq);
                tracing::error!(app = %old.meta.app, seq, lost, "a damaged segment had nothing left to salvage; dropped");
            }
            Err(e) => {
                tracing::error!(app = %old.meta.app, seq, error = %e, "cannot salvage a damaged segment");
                return;
            }
        }
        self.records_lost.fetch_add(lost, Ordering::Relaxed);
        if let Err(e) = self.write_manifest() {
            tracing::error!(error = %e, "cannot write the manifest after a repair");
        }
    }

    /// Whether `app`'s unsealed records are due for sealing.
    pub fn due(&self, stats: &HotStats) -> bool {
        let age_ns = (self.storage.segment_max_age_secs as i64).saturating_mul(1_000_000_000);
        stats.bytes >= self.storage.segment_max_bytes
            || crate::index::nanos(Timestamp::now()).saturating_sub(stats.oldest_received) >= age_ns
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Bytes of every file under `dir`.
fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn meta_of(seq: u64, file: &SegmentFile, path: &Path, split_dir: &Path) -> SegmentMeta {
    let f = &file.footer;
    SegmentMeta {
        seq,
        app: f.app.clone(),
        first_id: f.first_id,
        last_id: f.last_id,
        min_time: f.min_time,
        max_time: f.max_time,
        records: f.records,
        raw_bytes: f.raw_bytes,
        segment_bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        split_bytes: split::dir_bytes(split_dir),
    }
}

/// Rewrites what can be salvaged of a damaged segment as a new segment in its place.
fn salvage_into(path: &Path, seq: u64, storage: &StorageConfig) -> anyhow::Result<Option<Sealed>> {
    let salvaged = segment::salvage(path)?;
    let split_dir = path.with_extension("split");
    let _ = std::fs::remove_dir_all(&split_dir);
    if salvaged.records.is_empty() {
        std::fs::remove_file(path).map_err(io_err(path))?;
        return Ok(None);
    }
    let app = salvaged.records[0].record.app.clone();
    let tmp = path.with_extension("seg.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut w =
        SegmentWriter::create(&tmp, &app, storage.frame_bytes as usize, storage.zstd_level)?;
    for r in &salvaged.records {
        w.push(r)?;
    }
    w.finish()?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    let file = SegmentFile::open(path)?;
    let split = Split::build(&split_dir, &file)?;
    let meta = meta_of(seq, &file, path, &split_dir);
    Ok(Some(Sealed::new(meta, file, split)))
}

/// Queries every candidate split (in parallel, off the async runtime) for its newest
/// `req.limit` hits.
fn search_splits(
    candidates: &[Arc<Sealed>],
    req: &SearchRequest,
) -> Result<Vec<(Vec<split::SplitHit>, u64)>, SearchError> {
    let none = BTreeMap::new();
    let one = |s: &Sealed| -> Result<(Vec<split::SplitHit>, u64), SearchError> {
        let q = build_query(&s.split.index, req, &none)?;
        Ok(s.split.search(&*q, req.limit)?)
    };
    if candidates.len() < 4 {
        return candidates.iter().map(|s| one(s)).collect();
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = candidates.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|s| one(s)).collect::<Vec<_>>()))
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

/// Runs the sealer until `stop`. Every `SEAL_CHECK` it applies retention (the global cap and
/// the disk floor must hold between seals too); every `SEALS_EVERY` checks it reads the hot
/// index's per-app statistics (a scan of every unsealed record), seals each app that is due
/// and asks the indexer to drop what was sealed; the scrub checks one segment at that pace.
pub fn spawn_sealer(
    store: Arc<Store>,
    hot: LogIndex,
    deletes: crate::index::PendingDeletes,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("sealer".into())
        .spawn(move || {
            let mut stats = BTreeMap::new();
            let mut ticks: u64 = 0;
            while !stop.load(Ordering::SeqCst) {
                let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if ticks.is_multiple_of(SEALS_EVERY) {
                        stats = seal_due(&store, &hot, &deletes);
                        store.scrub(1);
                    }
                    store.enforce_retention(&stats);
                }));
                if round.is_err() {
                    tracing::error!("the sealer hit a bug (see the panic above); it goes on");
                }
                ticks += 1;
                std::thread::sleep(SEAL_CHECK);
            }
        })
}

/// Seals every app whose unsealed records are due; returns the statistics read before.
fn seal_due(
    store: &Store,
    hot: &LogIndex,
    deletes: &crate::index::PendingDeletes,
) -> BTreeMap<String, HotStats> {
    let through = store.sealed_through();
    let stats = hot.hot_stats(&through).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read hot index statistics");
        BTreeMap::new()
    });
    for (app, st) in stats.iter().filter(|(_, st)| store.due(st)) {
        let started = Instant::now();
        match store.seal(hot, app, through.get(app).copied(), st.max_id) {
            Ok(meta) => {
                tracing::info!(%app, seq = meta.seq, records = meta.records, raw_bytes = meta.raw_bytes, disk_bytes = meta.disk_bytes(), took_ms = started.elapsed().as_millis() as u64, "sealed a segment");
                deletes
                    .lock()
                    .expect("deletes")
                    .push((app.clone(), st.max_id));
            }
            Err(e) => {
                tracing::error!(%app, error = %e, "sealing failed; the records stay in the hot index");
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::{batch, index_batches};

    /// A hot index holding `n` records of `app` (ids from `first`), one second apart;
    /// even ids mention ECONNREFUSED.
    fn hot(dir: &Path, app: &str, first: u64, n: u64) -> LogIndex {
        let t0: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let batches = (first..first + n)
            .map(|id| {
                let at = (t0 + jiff::SignedDuration::from_secs(id as i64)).to_string();
                let text = if id % 2 == 0 {
                    format!("line {id} connect ECONNREFUSED")
                } else {
                    format!("line {id} ok")
                };
                batch(id, app, &at, &[&text])
            })
            .collect();
        index_batches(&dir.join("index"), batches)
    }

    fn open(dir: &Path, retention: RetentionConfig) -> (Store, OpenReport) {
        let storage = StorageConfig {
            frame_bytes: 4096,
            ..StorageConfig::default()
        };
        Store::open(dir, storage, retention, Arc::new(|_: &Path| None)).expect("store")
    }

    fn req(q: &str, limit: usize) -> SearchRequest {
        SearchRequest {
            query: q.into(),
            limit,
            ..SearchRequest::default()
        }
    }

    fn ids(r: &SearchResult) -> Vec<u64> {
        r.hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn sealed_and_hot_records_search_as_one_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = hot(dir.path(), "web", 0, 400);
        let (store, _) = open(dir.path(), RetentionConfig::default());
        let meta = store.seal(&hot, "web", None, 249).expect("seal");
        assert_eq!((meta.first_id, meta.last_id, meta.records), (0, 249, 250));
        assert_eq!(store.sealed_through().get("web"), Some(&249));
        // The hot index still holds 0..=249 (the indexer drops them later): never twice.
        let all = store.search(&hot, &req("*", 1000)).expect("search");
        assert_eq!(ids(&all), (0..400).rev().collect::<Vec<_>>());
        assert_eq!(all.total, 400);
        let refused = store.search(&hot, &req("econnrefused", 5)).expect("search");
        assert_eq!(ids(&refused), [398, 396, 394, 392, 390]);
        assert_eq!(refused.total, 200);
        // The scan fallback finds what no token holds, hot and sealed alike, never twice.
        let scanned = store
            .search(&hot, &req("/line [13]\\d0 conn/i", 100))
            .expect("scan");
        let want: Vec<u64> = (0..400)
            .rev()
            .filter(|id| (100..200).contains(id) || (300..400).contains(id))
            .filter(|id| id % 10 == 0)
            .collect();
        assert_eq!(ids(&scanned), want);
        assert_eq!(scanned.total, want.len() as u64);
        let mut old = req("econnrefused", 3);
        old.until = Some("2026-11-23T10:02:00Z".parse().expect("ts"));
        let old = store.search(&hot, &old).expect("search");
        assert_eq!(ids(&old), [120, 118, 116], "from the sealed segment");
        assert_eq!(old.hits[0].record.message, "line 120 connect ECONNREFUSED");
        // Regression: statistics of an app with nothing sealed (tantivy refuses a range with
        // no bound; the sealer thread died on it).
        let stats = hot.hot_stats(&BTreeMap::new()).expect("stats");
        assert_eq!(stats["web"].records, 400);
        let apps = store.apps(&hot).expect("apps");
        assert_eq!((apps.len(), apps[0].records, apps[0].segments), (1, 400, 1));
        assert!(apps[0].disk_bytes > 0 && apps[0].raw_bytes > 0);
    }

    #[test]
    fn a_lost_split_is_rebuilt_and_a_damaged_segment_salvaged_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = hot(dir.path(), "web", 0, 300);
        let meta = {
            let (store, _) = open(dir.path(), RetentionConfig::default());
            store.seal(&hot, "web", None, 299).expect("seal")
        };
        let seg = dir
            .path()
            .join(format!("segments/web/{:010}.seg", meta.seq));
        std::fs::remove_dir_all(seg.with_extension("split")).expect("rm split");
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!((report.segments, report.splits_rebuilt), (1, 1));
        let found = store
            .search(&hot, &req("econnrefused", 1000))
            .expect("search");
        assert_eq!(found.total, 150);
        drop(store);
        // Flip a byte in the middle of the segment: only the damaged frame is lost.
        let mut bytes = std::fs::read(&seg).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&seg, &bytes).expect("write");
        // Opening trusts the footer (fast); the scrub checks every frame and salvages.
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!(report.segments, 1);
        assert_eq!(store.scrub(10), 1);
        let lost = store.records_lost();
        assert!(lost > 0 && lost < 300, "{lost} lost");
        let left = store.segments()[0].records;
        assert_eq!(left + lost, 300);
        let found = store.search(&hot, &req("*", 1000)).expect("search");
        assert_eq!(found.total, 300 - lost);
        drop(store);
        // A broken footer is seen at open and the segment salvaged there.
        let mut bytes = std::fs::read(&seg).expect("read");
        let at = bytes.len() - 25;
        bytes[at] ^= 0xff;
        std::fs::write(&seg, &bytes).expect("write");
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!((report.segments_salvaged, report.records_lost), (1, 0));
        assert_eq!(store.segments()[0].records, left);
    }

    #[test]
    fn retention_evicts_the_oldest_segments_of_the_app_over_its_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = hot(dir.path(), "web", 0, 300);
        let mut retention = RetentionConfig::default();
        let (store, _) = open(dir.path(), retention.clone());
        for (after, through) in [(None, 99), (Some(99), 199), (Some(199), 299)] {
            store.seal(&hot, "web", after, through).expect("seal");
        }
        let one = store.segments()[0].disk_bytes();
        drop(store);
        retention.apps.insert(
            "web".into(),
            AppRetention {
                max_bytes: Some(one * 2 + one / 2),
                max_age_secs: None,
            },
        );
        let (store, _) = open(dir.path(), retention);
        let evicted = store.enforce_retention(&BTreeMap::new());
        assert_eq!(evicted.len(), 1);
        assert_eq!(
            (evicted[0].0.first_id, evicted[0].1),
            (0, EvictReason::AppMaxBytes)
        );
        assert_eq!(store.evictions().get(&EvictReason::AppMaxBytes), Some(&1));
        let left = store.search(&hot, &req("*", 1000)).expect("search");
        assert_eq!(left.total, 200, "the oldest 100 went");
    }

    #[test]
    fn the_disk_floor_evicts_the_heaviest_app_first_then_refuses_its_ingest() {
        use std::sync::atomic::AtomicU64;
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = hot(dir.path(), "runaway", 0, 400);
        let free = Arc::new(AtomicU64::new(u64::MAX / 4));
        let probe: FreeSpace = {
            let free = free.clone();
            Arc::new(move |_: &Path| Some((free.load(Ordering::SeqCst), 100 << 30)))
        };
        let retention = RetentionConfig {
            min_free_bytes: 1 << 30,
            min_free_percent: 0,
            ..RetentionConfig::default()
        };
        let storage = StorageConfig {
            frame_bytes: 4096,
            ..StorageConfig::default()
        };
        let (store, _) = Store::open(dir.path(), storage, retention, probe).expect("store");
        for (after, through) in [(None, 99), (Some(99), 199), (Some(199), 299)] {
            store.seal(&hot, "runaway", after, through).expect("seal");
        }
        let hot_stats = BTreeMap::from([(
            "runaway".to_owned(),
            HotStats {
                records: 100,
                bytes: 3000,
                oldest_received: 0,
                max_id: 399,
            },
        )]);
        assert!(
            store.enforce_retention(&hot_stats).is_empty(),
            "space is plenty"
        );
        // Below the floor: segments go, oldest first, until it holds again.
        let one = store.segments()[0].disk_bytes();
        free.store((1 << 30) - one - 1, Ordering::SeqCst);
        let probe_free = free.clone();
        let evicted = store.enforce_retention(&hot_stats);
        assert!(!evicted.is_empty());
        assert!(evicted.iter().all(|(_, r)| *r == EvictReason::DiskFloor));
        assert_eq!(evicted[0].0.first_id, 0, "the oldest first");
        // Nothing sealed left and still below: the app writing is refused, then accepted once
        // space returns.
        probe_free.store(0, Ordering::SeqCst);
        store.enforce_retention(&hot_stats);
        assert!(store.segments().is_empty());
        assert!(store.is_refused("runaway"));
        assert!(!store.is_refused("calm"));
        probe_free.store(u64::MAX / 4, Ordering::SeqCst);
        store.enforce_retention(&hot_stats);
        assert!(!store.is_refused("runaway"));
    }

    /// Opening 1,000 segments reads only their footers and opens their splits. The time is
    /// printed (`cargo test -p logq-collector thousand -- --nocapture`), not asserted: the
    /// machines are shared.
    #[test]
    fn a_thousand_segments_open_and_serve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = hot(dir.path(), "web", 0, 50);
        let first = {
            let (store, _) = open(dir.path(), RetentionConfig::default());
            store.seal(&hot, "web", None, 49).expect("seal")
        };
        let app_dir = dir.path().join("segments/web");
        let seg = app_dir.join(format!("{:010}.seg", first.seq));
        for seq in 1..1000u64 {
            let to = app_dir.join(format!("{seq:010}.seg"));
            std::fs::copy(&seg, &to).expect("copy segment");
            let split_to = to.with_extension("split");
            std::fs::create_dir(&split_to).expect("mkdir");
            for f in std::fs::read_dir(seg.with_extension("split"))
                .expect("ls")
                .flatten()
            {
                std::fs::copy(f.path(), split_to.join(f.file_name())).expect("copy split");
            }
        }
        let started = Instant::now();
        let (store, report) = open(dir.path(), RetentionConfig::default());
        let took = started.elapsed();
        eprintln!("opened {} segments in {took:?}", report.segments);
        assert_eq!((report.segments, report.splits_rebuilt), (1000, 0));
        let mut r = req("econnrefused", 10);
        r.apps = vec!["web".into()];
        let found = store.search(&hot, &r).expect("search");
        assert_eq!(found.total, 25 * 1000);
    }
}
