//! Storage: per app an active segment being written and sealed segments of zstd frames, each
//! sealed one with its own tantivy split, listed in a manifest; search across the hot index and
//! the splits, and retention.
//!
//! Layout under `<data_dir>/segments/`: `manifest.json` and, per app, `<seq:010>.active` (at
//! most one), `<seq:010>.seg` with its split `<seq:010>.split/`. The segments are the truth: the
//! manifest is a cache of their footers (rebuilt from them when lost), a split is rebuilt from
//! its segment when missing or unreadable, and each app's "sealed through" id (records up to it
//! are in segments with splits, so the hot index leaves them out) is kept in the manifest and
//! is at least the highest id of its segments.

pub mod active;
mod browse;
pub mod frame_filter;
mod record_line;
pub mod scan;
mod search;
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
use crate::wal::WalLocation;
use active::ActiveSegment;
pub use active::HotStats;
use segment::{SegmentFile, SegmentWriter};
use split::Split;

const MANIFEST: &str = "manifest.json";
const MANIFEST_VERSION: u32 = 1;
/// How often the sealer checks the global cap and the disk floor.
const SEAL_CHECK: Duration = Duration::from_millis(100);
/// Every this many checks the scrub checks one segment.
const SCRUB_EVERY: u64 = 5;
/// How long bytes evicted under the global cap or the disk floor still count in their app's use
/// (see [`Store::victim`]).
const PRESSURE_WINDOW: Duration = Duration::from_secs(600);

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
    #[serde(default)]
    sealed_through: BTreeMap<String, u64>,
}

/// A sealed segment open for search; its split is `None` while it is being built (the hot
/// index still answers for its records then).
#[derive(Debug)]
struct Sealed {
    meta: SegmentMeta,
    file: SegmentFile,
    split: Option<Split>,
    /// Every frame's checksum was checked since the collector started.
    verified: AtomicBool,
}

impl Sealed {
    fn new(meta: SegmentMeta, file: SegmentFile, split: Option<Split>) -> Sealed {
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
    /// Per app, the highest id in a segment with a split (kept after eviction).
    sealed_through: BTreeMap<String, u64>,
}

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub segments: usize,
    /// Active segments left by the last run, sealed.
    pub active_recovered: usize,
    pub splits_rebuilt: usize,
    pub segments_salvaged: usize,
    pub records_lost: u64,
    pub segments_dropped: usize,
    /// Per app, the records that only its active segment held (see [`Unsealed`]).
    pub unsealed: Vec<Unsealed>,
}

/// An app's records that were in neither a sealed segment nor the WAL at start: ids above
/// `after` and below `below`. Only its active segment held their text, and the hot index holds
/// every one of them (the WAL deletes a file only once its records are indexed and in a synced
/// frame), so the hot index's count of them minus the `kept` records recovered from the active
/// segment is what damage to that segment lost. (Records from `below` up come again from the WAL.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    pub app: String,
    pub after: Option<u64>,
    pub below: u64,
    pub kept: u64,
}

/// See [`Store::victim`].
enum Victim {
    Evict(SegmentMeta),
    Refuse(String),
    Nobody,
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
    /// Replaced whole by [`Store::set_retention`] (a config reload); read once per pass.
    retention: RwLock<Arc<RetentionConfig>>,
    free_space: FreeSpace,
    state: RwLock<State>,
    /// Each app's active segment. Lock order: `active`, then `state`.
    active: Mutex<BTreeMap<String, ActiveSegment>>,
    /// The WAL location before which every record is durable in a segment.
    wal_durable: Mutex<WalLocation>,
    evictions: Mutex<HashMap<EvictReason, u64>>,
    /// Segments evicted under the global cap or the disk floor in the last `PRESSURE_WINDOW`:
    /// when, whose, and their bytes on disk.
    pressure: Mutex<std::collections::VecDeque<(Instant, String, u64)>>,
    /// Apps whose ingest is refused because the disk floor is breached with nothing left to
    /// evict.
    refused: RwLock<Vec<String>>,
    /// Apps whose ingest waits (back-pressure) because the unevictable data is over its budget.
    throttled: RwLock<Vec<String>>,
    /// Segments a search found damaged, to be salvaged by the sealer thread.
    damaged: Mutex<std::collections::BTreeSet<u64>>,
    /// Records lost to damage since start.
    records_lost: std::sync::atomic::AtomicU64,
    /// Where appends and evictions are counted, once the server sets it.
    metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
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
            sealed_through: manifest.sealed_through,
        };
        let sealed_before = state.sealed_through.clone();
        // Records from this id up are in the WAL, which replays them at start.
        let wal_first = crate::wal::first_id(&data_dir.join("wal"));
        let mut on_disk = Vec::new();
        let mut actives = HashMap::new();
        let mut apps = std::collections::BTreeSet::new();
        for app_dir in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
            if !app_dir.path().is_dir() {
                continue;
            }
            apps.insert(app_dir.file_name().to_string_lossy().into_owned());
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
                } else if let Some(seq) = name
                    .strip_suffix(".active")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    // A segment being written when the collector stopped: its intact frames
                    // become a sealed segment; the WAL replays the rest.
                    let sealed = path.with_extension("seg");
                    match recover_active(&path, &sealed, seq, &storage, wal_first) {
                        Ok((Some(s), damaged)) => {
                            report.active_recovered += 1;
                            tracing::info!(segment = %sealed.display(), records = s.meta.records, damaged, "sealed an active segment left by the last run");
                            actives.insert(seq, damaged);
                            on_disk.push((seq, sealed));
                        }
                        Ok((None, damaged)) => {
                            if damaged && let Some(w) = wal_first {
                                raise_through(
                                    &mut state.sealed_through,
                                    &app_dir.file_name().to_string_lossy(),
                                    w,
                                );
                            }
                        }
                        Err(e) => {
                            tracing::error!(segment = %path.display(), error = %e, "cannot recover an active segment; left in place");
                        }
                    }
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
                    let split = match Split::open(&split_dir, file.footer.frames.len()) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::warn!(segment = %path.display(), error = %e, "split missing or unreadable; rebuilding it from its segment");
                            report.splits_rebuilt += 1;
                            match Split::build(&split_dir, &file) {
                                Ok(s) => Some(s),
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
                    match salvage_into(&path, &path, seq, &storage) {
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
        // Each app's records only its active segment held: above what sealed segments hold,
        // below what the WAL holds.
        let mut after = sealed_before;
        let mut kept: BTreeMap<String, u64> = BTreeMap::new();
        for s in state.sealed.values() {
            if actives.contains_key(&s.meta.seq) {
                *kept.entry(s.meta.app.clone()).or_default() += s.meta.records;
            } else {
                let e = after.entry(s.meta.app.clone()).or_default();
                *e = (*e).max(s.meta.last_id);
            }
        }
        apps.extend(after.keys().cloned());
        report.unsealed = apps
            .into_iter()
            .map(|app| Unsealed {
                after: after.get(&app).copied(),
                below: wal_first.unwrap_or(u64::MAX),
                kept: kept.get(&app).copied().unwrap_or(0),
                app,
            })
            .collect();
        for s in state.sealed.values() {
            let e = state.sealed_through.entry(s.meta.app.clone()).or_default();
            *e = (*e).max(s.meta.last_id);
            if actives.get(&s.meta.seq) == Some(&true)
                && let Some(w) = wal_first
            {
                raise_through(&mut state.sealed_through, &s.meta.app, w);
            }
        }
        let store = Store {
            dir,
            data_dir: data_dir.to_owned(),
            storage,
            retention: RwLock::new(Arc::new(retention)),
            free_space,
            state: RwLock::new(state),
            active: Mutex::new(BTreeMap::new()),
            wal_durable: Mutex::new(WalLocation::default()),
            evictions: Mutex::new(HashMap::new()),
            pressure: Mutex::new(Default::default()),
            refused: RwLock::new(Vec::new()),
            throttled: RwLock::new(Vec::new()),
            damaged: Mutex::new(Default::default()),
            records_lost: std::sync::atomic::AtomicU64::new(report.records_lost),
            metrics: std::sync::OnceLock::new(),
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
            sealed_through: st.sealed_through.clone(),
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

    /// Each app's highest id in a segment with a split: the hot index leaves out records up
    /// to it.
    pub fn sealed_through(&self) -> BTreeMap<String, u64> {
        self.state
            .read()
            .expect("store lock")
            .sealed_through
            .clone()
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

    /// Whether `app`'s ingest should wait: what cannot be evicted is over its budget (a
    /// quarter of the global cap) and `app` holds most of it.
    pub fn is_throttled(&self, app: &str) -> bool {
        self.throttled
            .read()
            .expect("throttled lock")
            .iter()
            .any(|a| a == app)
    }

    /// Counts appends and evictions into `metrics` from now on (the first call wins).
    pub fn set_metrics(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Evictions so far, by reason.
    pub fn evictions(&self) -> HashMap<EvictReason, u64> {
        self.evictions.lock().expect("evictions").clone()
    }

    /// Appends `records` (one batch, ids ascending, from the WAL batch ending at `at`) to
    /// their app's active segment, leaving out those already sealed: the WAL replays batches a
    /// segment may hold already.
    pub fn append(&self, mut records: Vec<StoredRecord>, at: WalLocation) -> anyhow::Result<()> {
        let Some(app) = records.first().map(|r| r.record.app.clone()) else {
            return Ok(());
        };
        let mut active = self.active.lock().expect("active lock");
        let through = self.sealed_through_of(&app);
        records.retain(|r| through.is_none_or(|t| r.id > t));
        if records.is_empty() {
            return Ok(());
        }
        if !active.contains_key(&app) {
            let seq = {
                let mut st = self.state.write().expect("store lock");
                st.next_seq += 1;
                st.next_seq - 1
            };
            let dir = self.dir.join(&app);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let segment = ActiveSegment::create(&dir, &app, seq, &self.storage)?;
            active.insert(app.clone(), segment);
        }
        let segment = active.get_mut(&app).expect("just inserted");
        if let Some(m) = self.metrics.get() {
            m.stored(&app, records.len() as u64);
        }
        let mut failed = None;
        for r in records {
            if let Err(e) = segment.push(r, at) {
                failed = Some(e);
            }
        }
        failed.map_or(Ok(()), |e| Err(e.into()))
    }

    /// The highest sealed id of `app` (in a segment, with or without its split yet).
    pub fn sealed_through_of(&self, app: &str) -> Option<u64> {
        let st = self.state.read().expect("store lock");
        let listed = st.sealed_through.get(app).copied();
        let newest = st
            .sealed
            .values()
            .rev()
            .find(|s| s.meta.app == app)
            .map(|s| s.meta.last_id);
        listed.max(newest)
    }

    /// After the hot index committed through `location`: returns the WAL location before
    /// which every record is indexed and durable in a segment (the WAL may delete the files
    /// before it). Only when that would free a WAL file does it pay for it: tails holding
    /// records from WAL files before `location`'s are written as frames and every active
    /// segment is synced (fsyncs on every commit halved the indexer's throughput).
    pub fn commit_active(&self, location: WalLocation) -> WalLocation {
        let mut active = self.active.lock().expect("active lock");
        let mut durable = self.wal_durable.lock().expect("durable lock");
        if location.file <= durable.file {
            return *durable;
        }
        let mut safe = location;
        for (app, segment) in active.iter_mut() {
            if segment.tail_since().is_some_and(|t| t.file < location.file)
                && let Err(e) = segment.flush_tail()
            {
                tracing::error!(%app, error = %e, "cannot write an active segment's frame");
            }
            if let Err(e) = segment.sync() {
                tracing::error!(%app, error = %e, "cannot sync an active segment");
                return *durable;
            }
            if let Some(t) = segment.tail_since() {
                safe = safe.min(t);
            }
        }
        *durable = (*durable).max(safe);
        *durable
    }

    /// Each app's unsealed records.
    pub fn hot_stats(&self) -> BTreeMap<String, HotStats> {
        let active = self.active.lock().expect("active lock");
        active
            .iter()
            .map(|(app, segment)| (app.clone(), segment.stats()))
            .filter(|(_, s)| s.records > 0)
            .collect()
    }

    /// Bytes the active segments' files take.
    fn active_bytes(&self) -> u64 {
        let active = self.active.lock().expect("active lock");
        active.values().map(ActiveSegment::file_bytes).sum()
    }

    /// Seals `app`'s active segment: its last frame and footer are written, it is listed, its
    /// split is built, and then its records leave the hot index (the caller asks the indexer
    /// to drop ids up to the returned segment's `last_id`). `None` when the app has nothing
    /// unsealed.
    pub fn seal(&self, app: &str) -> anyhow::Result<Option<SegmentMeta>> {
        let (seq, path, file) = {
            let mut active = self.active.lock().expect("active lock");
            let Some(segment) = active.get_mut(app) else {
                return Ok(None);
            };
            let seq = segment.seq;
            // On failure the segment stays active, whole, and is sealed at a later round.
            let path = segment.finish()?;
            active.remove(app);
            let file = SegmentFile::open(&path)?;
            let meta = meta_of(seq, &file, &path, &path.with_extension("split"));
            self.state
                .write()
                .expect("store lock")
                .sealed
                .insert(seq, Arc::new(Sealed::new(meta, file.try_clone()?, None)));
            (seq, path, file)
        };
        let split_dir = path.with_extension("split");
        let split = Split::build(&split_dir, &file)?;
        let meta = meta_of(seq, &file, &path, &split_dir);
        {
            let mut st = self.state.write().expect("store lock");
            if !st.sealed.contains_key(&seq) {
                // Evicted while its split was built.
                drop(st);
                let _ = std::fs::remove_dir_all(&split_dir);
                return Ok(None);
            }
            st.sealed
                .insert(seq, Arc::new(Sealed::new(meta.clone(), file, Some(split))));
            let e = st.sealed_through.entry(meta.app.clone()).or_default();
            *e = (*e).max(meta.last_id);
        }
        self.write_manifest()?;
        Ok(Some(meta))
    }

    /// `app`'s records with these ids (ascending), from its active segment or its sealed
    /// segments; ids no longer stored (evicted) are left out.
    fn lookup(&self, app: &str, ids: &[u64]) -> Vec<StoredRecord> {
        let active = self.active.lock().expect("active lock");
        let mut out = match active.get(app).map(|s| s.get(ids)) {
            Some(Ok(found)) => found,
            Some(Err(e)) => {
                tracing::error!(%app, error = %e, "an active segment's frame is unreadable");
                Vec::new()
            }
            None => Vec::new(),
        };
        let st = self.state.read().expect("store lock");
        drop(active);
        let have: std::collections::HashSet<u64> = out.iter().map(|r| r.id).collect();
        let rest: Vec<u64> = ids.iter().copied().filter(|i| !have.contains(i)).collect();
        for s in st.sealed.values().filter(|s| s.meta.app == app) {
            let mine: Vec<u64> = rest
                .iter()
                .copied()
                .filter(|i| (s.meta.first_id..=s.meta.last_id).contains(i))
                .collect();
            if mine.is_empty() {
                continue;
            }
            match s.file.get(&mine) {
                Ok(found) => out.extend(found),
                Err(e) => {
                    tracing::error!(error = %e, "a segment frame is damaged; its records are left out and the segment will be salvaged");
                    self.damaged.lock().expect("damaged").insert(s.meta.seq);
                }
            }
        }
        out
    }

    /// The retention policies in force.
    pub fn retention(&self) -> Arc<RetentionConfig> {
        self.retention.read().expect("retention lock").clone()
    }

    /// Replaces the retention policies (a config reload); the next pass applies them.
    pub fn set_retention(&self, retention: RetentionConfig) {
        *self.retention.write().expect("retention lock") = Arc::new(retention);
    }

    /// Every app with what it holds, active and sealed, and its retention policy.
    pub fn apps(&self) -> Vec<AppInfo> {
        let retention = self.retention();
        let mut out: BTreeMap<String, AppInfo> = BTreeMap::new();
        let time = |t: i64| Timestamp::from_nanosecond(i128::from(t)).ok();
        fn entry<'a>(
            out: &'a mut BTreeMap<String, AppInfo>,
            app: &str,
            retention: &RetentionConfig,
        ) -> &'a mut AppInfo {
            out.entry(app.to_owned()).or_insert_with(|| AppInfo {
                app: app.to_owned(),
                records: 0,
                raw_bytes: 0,
                disk_bytes: 0,
                segments: 0,
                first: None,
                last: None,
                retention: retention.for_app(app).clone(),
            })
        }
        for s in self.segments() {
            let e = entry(&mut out, &s.app, &retention);
            e.records += s.records;
            e.raw_bytes += s.raw_bytes;
            e.disk_bytes += s.disk_bytes();
            e.segments += 1;
            e.first = min_opt(e.first, time(s.min_time));
            e.last = max_opt(e.last, time(s.max_time));
        }
        for (app, stats) in self.hot_stats() {
            let e = entry(&mut out, &app, &retention);
            e.records += stats.records;
            e.raw_bytes += stats.bytes;
            e.first = min_opt(e.first, time(stats.min_time));
            e.last = max_opt(e.last, time(stats.max_time));
        }
        out.into_values().collect()
    }

    /// Applies retention: per-app age and size, the global cap, the disk floor. `hot` is each
    /// app's unsealed data: when the floor is breached with no segment left to evict, the app
    /// with the most of it is refused. Returns the segments evicted with their reasons.
    pub fn enforce_retention(
        &self,
        hot: &BTreeMap<String, HotStats>,
    ) -> Vec<(SegmentMeta, EvictReason)> {
        let retention = self.retention();
        let mut evicted = Vec::new();
        let now = crate::index::nanos(Timestamp::now());
        // Per app: age, then size.
        for s in self.segments() {
            let policy = retention.for_app(&s.app);
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
            let Some(max) = retention.for_app(&app).max_bytes else {
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
        // Global cap, then the disk floor: the app most over its share loses its oldest
        // segment; when that app has none left, it is refused instead (never another app's
        // data for its sake).
        let mut refused = Vec::new();
        // Unsealed data grows with the ingest rate and gives space back only once sealed: near
        // a limit, the app holding most of it waits.
        let segment = self.storage.segment_max_bytes;
        // An active segment at twice its seal size means sealing has fallen behind the ingest
        // (a runaway on a busy machine): left alone it grows on, and a seal that big overshoots
        // the cap and the floor by as much.
        let mut slow = hot.values().any(|h| h.bytes > 2 * segment);
        let hot_index = tree_bytes(&self.data_dir.join("hot"));
        // What eviction cannot free; the hot index counts twice, as a merge writes its new
        // segment before it drops the old ones.
        let unevictable =
            self.active_bytes() + 2 * hot_index + tree_bytes(&self.data_dir.join("wal"));
        if let Some(max) = retention.max_bytes {
            slow |= unevictable > (max / 4).max(2 * segment);
            let mut sealed: u64 = self.segments().iter().map(SegmentMeta::disk_bytes).sum();
            loop {
                // Room is kept for a segment being sealed (its split is built beside it).
                let over = sealed + unevictable + segment > max;
                if !over && unevictable + 2 * segment <= max {
                    break;
                }
                match self.victim(hot, Some(max)) {
                    Victim::Evict(s) if over => {
                        sealed = sealed.saturating_sub(s.disk_bytes());
                        self.evict(&s, EvictReason::GlobalMaxBytes, &mut evicted)
                    }
                    Victim::Evict(_) => break,
                    Victim::Refuse(app) => {
                        refused = vec![app];
                        break;
                    }
                    Victim::Nobody => break,
                }
            }
        }
        while let Some((avail, total)) = (self.free_space)(&self.data_dir) {
            let floor = retention
                .min_free_bytes
                .max(total / 100 * u64::from(retention.min_free_percent));
            // Room is kept for a segment being sealed and for a merge of the hot index.
            let room = segment + hot_index;
            slow |= avail < floor.saturating_add(4 * room);
            if avail >= floor.saturating_add(room) {
                break;
            }
            match self.victim(hot, retention.max_bytes) {
                Victim::Evict(s) => self.evict(&s, EvictReason::DiskFloor, &mut evicted),
                Victim::Refuse(app) => {
                    refused = vec![app];
                    break;
                }
                Victim::Nobody => break,
            }
        }
        let throttled: Vec<String> = hot
            .iter()
            .max_by_key(|(_, h)| h.bytes)
            .filter(|_| slow)
            .map(|(app, _)| app.clone())
            .into_iter()
            .collect();
        let mut t = self.throttled.write().expect("throttled lock");
        if *t != throttled {
            if !throttled.is_empty() {
                tracing::info!(apps = ?throttled, "unsealed data over its budget: these apps' ingest waits");
            }
            *t = throttled;
        }
        drop(t);
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

    /// Who gives way when the global cap or the disk floor is breached: the app using most
    /// relative to its share (its own `max_bytes`, or an equal part of the cap) loses its
    /// oldest segment, or is refused when it has none. An app's use is what is its own on
    /// disk, its sealed segments and its active segment, plus what the cap or the floor
    /// evicted from it in the last `PRESSURE_WINDOW`: a runaway whose segments are gone is
    /// still the app that filled the disk, and is refused rather than a calm app losing its
    /// data for it (as when something outside logq fills the disk next). (The hot index and
    /// the WAL are not attributed: right after a runaway's seal they still hold its records
    /// while its active segment is empty, and a calm app would be blamed for them.)
    fn victim(&self, hot: &BTreeMap<String, HotStats>, cap: Option<u64>) -> Victim {
        let segs = self.segments();
        let mut used: BTreeMap<String, f64> = BTreeMap::new();
        for s in &segs {
            *used.entry(s.app.clone()).or_default() += s.disk_bytes() as f64;
        }
        for (app, h) in hot {
            *used.entry(app.clone()).or_default() += h.file_bytes as f64;
        }
        {
            let mut pressure = self.pressure.lock().expect("pressure lock");
            while pressure
                .front()
                .is_some_and(|(at, _, _)| at.elapsed() > PRESSURE_WINDOW)
            {
                pressure.pop_front();
            }
            for (_, app, bytes) in pressure.iter() {
                *used.entry(app.clone()).or_default() += *bytes as f64;
            }
        }
        let total: f64 = used.values().sum();
        let equal = cap.map_or(total, |c| c as f64) / used.len().max(1) as f64;
        let retention = self.retention();
        let share = |app: &str| match retention.for_app(app).max_bytes {
            Some(max) => (max as f64).max(1.0),
            None => equal.max(1.0),
        };
        let Some(app) = used
            .iter()
            .map(|(app, bytes)| (app, bytes / share(app)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(app, _)| app.clone())
        else {
            return Victim::Nobody;
        };
        match segs.iter().find(|s| s.app == app).cloned() {
            Some(s) => Victim::Evict(s),
            // Refused even while it has nothing unsealed: it is the app refused writes would
            // come from, and it has nothing left to give.
            None => Victim::Refuse(app),
        }
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
        if matches!(reason, EvictReason::GlobalMaxBytes | EvictReason::DiskFloor) {
            self.pressure.lock().expect("pressure lock").push_back((
                Instant::now(),
                s.app.clone(),
                s.disk_bytes(),
            ));
        }
        if let Some(m) = self.metrics.get() {
            m.evicted(reason);
        }
        tracing::info!(app = %s.app, seq = s.seq, records = s.records, bytes = s.disk_bytes(), ?reason, "evicted a segment");
        evicted.push((s.clone(), reason));
    }

    /// Records lost to damaged segments since start (including those found at open).
    pub fn records_lost(&self) -> u64 {
        self.records_lost.load(Ordering::Relaxed)
    }

    /// Counts records found lost outside the store's own checks (see [`Unsealed`]).
    pub fn add_records_lost(&self, n: u64) {
        self.records_lost.fetch_add(n, Ordering::Relaxed);
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
            // A split's files carry checksums that opening does not read: checked here.
            let split_intact = s.split.as_ref().is_none_or(|split| {
                match split.index.validate_checksum() {
                    Ok(bad) if bad.is_empty() => true,
                    Ok(bad) => {
                        tracing::error!(seq = s.meta.seq, app = %s.meta.app, files = ?bad, "a split's files fail their checksums; rebuilding it from its segment");
                        false
                    }
                    Err(error) => {
                        tracing::error!(seq = s.meta.seq, app = %s.meta.app, %error, "cannot check a split; rebuilding it from its segment");
                        false
                    }
                }
            });
            s.verified.store(true, Ordering::Relaxed);
            if !intact || !split_intact {
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
        let result = salvage_into(&path, &path, seq, &self.storage);
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

/// Writes what can be salvaged of the segment `src` (damaged, or active and footerless) as a
/// sealed segment `dst` with its split (`src` is gone after).
fn salvage_into(
    src: &Path,
    path: &Path,
    seq: u64,
    storage: &StorageConfig,
) -> anyhow::Result<Option<Sealed>> {
    let salvaged = segment::salvage(src)?;
    write_salvaged(salvaged, src, path, seq, storage)
}

/// Seals the active segment `src` left by the last run as `dst` (see [`salvage_into`]), and
/// says whether it was damaged (a frame failed its checksum, or bytes follow the last intact
/// frame). A damaged one keeps only the records below `wal_first`: the WAL replays those from
/// it up, the damaged frames' included, and they are appended again.
fn recover_active(
    src: &Path,
    dst: &Path,
    seq: u64,
    storage: &StorageConfig,
    wal_first: Option<u64>,
) -> anyhow::Result<(Option<Sealed>, bool)> {
    let mut salvaged = segment::salvage(src)?;
    let damaged = salvaged.bad_frames > 0 || salvaged.unwalked_bytes > 0;
    if damaged && let Some(w) = wal_first {
        salvaged.records.retain(|r| r.id < w);
    }
    Ok((write_salvaged(salvaged, src, dst, seq, storage)?, damaged))
}

/// Leaves `app`'s records below `wal_first` out of the hot index and out of the appends of the
/// WAL replay: they are sealed or lost, and the replay brings every record from it up.
fn raise_through(sealed_through: &mut BTreeMap<String, u64>, app: &str, wal_first: u64) {
    if let Some(below) = wal_first.checked_sub(1) {
        let e = sealed_through.entry(app.to_owned()).or_default();
        *e = (*e).max(below);
    }
}

/// Writes `salvaged` as the sealed segment `path` with its split; removes `src`.
fn write_salvaged(
    salvaged: segment::Salvaged,
    src: &Path,
    path: &Path,
    seq: u64,
    storage: &StorageConfig,
) -> anyhow::Result<Option<Sealed>> {
    let split_dir = path.with_extension("split");
    let _ = std::fs::remove_dir_all(&split_dir);
    if salvaged.records.is_empty() {
        std::fs::remove_file(src).map_err(io_err(src))?;
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
    if src != path {
        std::fs::remove_file(src).map_err(io_err(src))?;
    }
    let file = SegmentFile::open(path)?;
    let split = Split::build(&split_dir, &file)?;
    let meta = meta_of(seq, &file, path, &split_dir);
    Ok(Some(Sealed::new(meta, file, Some(split))))
}

/// Runs the sealer until `stop`. Every `SEAL_CHECK` it seals each app whose active segment is
/// due, asks the indexer to drop what was sealed from the hot index, and applies retention (the
/// global cap and the disk floor must hold between seals too); every `SCRUB_EVERY` checks the
/// scrub checks one segment.
pub fn spawn_sealer(
    store: Arc<Store>,
    deletes: crate::index::PendingDeletes,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("sealer".into())
        .spawn(move || {
            let mut ticks: u64 = 0;
            while !stop.load(Ordering::SeqCst) {
                let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let stats = seal_due(&store, &deletes);
                    if ticks.is_multiple_of(SCRUB_EVERY) {
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

/// Seals every app whose active segment is due; returns the statistics read before.
fn seal_due(store: &Store, deletes: &crate::index::PendingDeletes) -> BTreeMap<String, HotStats> {
    let stats = store.hot_stats();
    for (app, _) in stats.iter().filter(|(_, st)| store.due(st)) {
        let started = Instant::now();
        match store.seal(app) {
            Ok(Some(meta)) => {
                tracing::info!(%app, seq = meta.seq, records = meta.records, raw_bytes = meta.raw_bytes, disk_bytes = meta.disk_bytes(), took_ms = started.elapsed().as_millis() as u64, "sealed a segment");
                deletes
                    .lock()
                    .expect("deletes")
                    .push((app.clone(), meta.last_id));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(%app, error = %e, "sealing failed; the segment stays active and is sealed later");
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::{batch, index_batches};
    use crate::index::{LogIndex, SearchRequest, SearchResult};

    /// Indexes `n` records of `app` (ids from `first`), one second apart, into `store`'s
    /// active segment and the hot index in `dir/hot`; even ids mention ECONNREFUSED.
    fn fill(dir: &Path, store: &Arc<Store>, app: &str, first: u64, n: u64) -> LogIndex {
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
        index_batches(&dir.join("hot"), store.clone(), batches)
    }

    /// Fills `app` with records `first..first + n` and seals them.
    fn sealed(dir: &Path, store: &Arc<Store>, app: &str, first: u64, n: u64) -> SegmentMeta {
        fill(dir, store, app, first, n);
        store.seal(app).expect("seal").expect("something to seal")
    }

    fn open(dir: &Path, retention: RetentionConfig) -> (Arc<Store>, OpenReport) {
        let storage = StorageConfig {
            frame_bytes: 4096,
            ..StorageConfig::default()
        };
        let (store, report) =
            Store::open(dir, storage, retention, Arc::new(|_: &Path| None)).expect("store");
        (Arc::new(store), report)
    }

    fn req(q: &str, limit: usize) -> SearchRequest {
        SearchRequest {
            limit,
            ..SearchRequest::new(crate::query::Query::parse(q).expect("query"))
        }
    }

    fn ids(r: &SearchResult) -> Vec<u64> {
        r.hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn sealed_and_hot_records_search_as_one_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(dir.path(), RetentionConfig::default());
        let meta = sealed(dir.path(), &store, "web", 0, 250);
        let hot = fill(dir.path(), &store, "web", 250, 150);
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
        let stats = store.hot_stats();
        assert_eq!((stats["web"].records, stats["web"].max_id), (150, 399));
        let apps = store.apps();
        assert_eq!((apps.len(), apps[0].records, apps[0].segments), (1, 400, 1));
        assert!(apps[0].disk_bytes > 0 && apps[0].raw_bytes > 0);
    }

    #[test]
    fn the_scan_prefilter_finds_what_matching_every_record_finds() {
        // Messages whose JSON in a frame differs from their text (quotes, backslashes, tabs,
        // a stack trace's newline), other scripts and cases; sealed and active alike.
        let texts: [&[&str]; 9] = [
            &["say \"hi\" to C:\\temp now"],
            &["tab\there items/12345 done"],
            &["Error: boom", "    at Object.<anonymous> (/srv/app.js:1:1)"],
            &["ÉCOLE naïve ERROR"],
            &["items/9 Err at x"],
            &["error: items/123456 refused"],
            &["line one"],
            &["\"quoted\" at start"],
            &["ends with at x"],
        ];
        let t0: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let batches = |first: u64| -> Vec<_> {
            let mut id = first;
            texts
                .iter()
                .cycle()
                .take(40)
                .map(|lines| {
                    let at = (t0 + jiff::SignedDuration::from_secs(id as i64)).to_string();
                    let b = batch(id, "web", &at, lines);
                    id += lines.len() as u64;
                    b
                })
                .collect()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(dir.path(), RetentionConfig::default());
        index_batches(&dir.path().join("hot"), store.clone(), batches(0));
        store.seal("web").expect("seal").expect("sealed");
        let hot = index_batches(&dir.path().join("hot"), store.clone(), batches(1000));
        let all = store.search(&hot, &req("*", 10_000)).expect("all").hits;
        assert!(all.len() > 60, "{} records", all.len());
        for q in [
            r#"/"hi"/"#,
            r"/C:\\temp/",
            r"/tab\there/",
            r"/boom\n\s+at/",
            "/^Error/",
            "/école/i",
            "/NAÏVE/i",
            r"/items\/\d+/",
            r"/items\/1\d{4}\b/",
            "/err/i",
            "/at x$/",
            "/^\"quoted/",
            "/one/ OR /école/i",
            "level:error /items/",
            "-/items/",
        ] {
            let request = req(q, 10_000);
            let want: Vec<u64> = all
                .iter()
                .filter(|r| request.matches(r))
                .map(|r| r.id)
                .collect();
            let got = store.search(&hot, &request).expect("scan");
            assert_eq!(ids(&got), want, "{q}");
            assert_eq!(got.total, want.len() as u64, "{q}");
            assert!(!want.is_empty(), "{q} matches something");
        }
    }

    #[test]
    fn ids_are_found_through_frame_filters_as_matching_every_record_finds() {
        // Request ids, order numbers, pids and JSON field values: not in the index, found by
        // reading the frames whose filter holds them (sealed) or every frame (active).
        // One format per stream: JSON lines, some with fields.
        let line = |i: u64| {
            let msg = |text: String| format!(r#"{{"level":"info","msg":"{text}"}}"#);
            match i % 4 {
                0 => msg(format!(
                    "[{:016x}] Completed 200 OK in 12ms",
                    0xf6fa_dfa7_e5c1_5b00 + i
                )),
                1 => msg(format!(
                    "GET /orders/{} 200 session=db8fe554c9{:02}",
                    9_533_000 + i,
                    i % 100
                )),
                2 => format!(
                    r#"{{"level":"error","msg":"charge failed","reqId":"015c0eff6439ed{:02x}","pid":{}}}"#,
                    i % 256,
                    67_000 + i % 7
                ),
                _ => msg(format!("Booting worker with pid: {}", 60_000 + i % 5)),
            }
        };
        let t0: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let batches = |first: u64, n: u64| -> Vec<_> {
            (first..first + n)
                .map(|id| {
                    let at = (t0 + jiff::SignedDuration::from_secs(id as i64)).to_string();
                    batch(id, "web", &at, &[&line(id)])
                })
                .collect()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(dir.path(), RetentionConfig::default());
        index_batches(&dir.path().join("hot"), store.clone(), batches(0, 400));
        store.seal("web").expect("seal").expect("sealed");
        let hot = index_batches(&dir.path().join("hot"), store.clone(), batches(400, 100));
        let all = store.search(&hot, &req("*", 10_000)).expect("all").hits;
        assert_eq!(all.len(), 500);
        let matching = |q: &str| -> Vec<u64> {
            let request = req(q, 10_000);
            all.iter()
                .filter(|r| request.matches(r))
                .map(|r| r.id)
                .collect()
        };
        for q in [
            "f6fadfa7e5c15b08",
            "F6FADFA7E5C15B08",
            "9533201",
            "9533401 OR 9533205",
            "\"orders 9533201\"",
            "\"orders 9533201\" 200",
            "session=db8fe554c909",
            "request_id:015c0eff6439ed0a",
            "request_id:015c0eff6439ed0a level:error",
            "pid:67003",
            "60002 booting",
            "-60002 worker",
            "\"completed 200\" -f6fadfa7e5c15b08",
        ] {
            assert!(crate::query::Query::parse(q).expect(q).needs_scan(), "{q}");
            let want = matching(q);
            assert!(!want.is_empty(), "{q} matches something");
            let got = store.search(&hot, &req(q, 10_000)).expect("search");
            assert_eq!(ids(&got), want, "{q}");
            assert_eq!(got.total, want.len() as u64, "{q}");
        }
        // A prefix completes no id (as the index, which holds none).
        for q in ["f6fadfa7*", "request_id:015c*", "95332*"] {
            assert!(matching(q).is_empty(), "{q}");
            assert_eq!(store.search(&hot, &req(q, 10)).expect(q).total, 0, "{q}");
        }
        // The sealed segment's filter lets through the frames holding the id, and no other.
        let sealed = store
            .state
            .read()
            .expect("state")
            .sealed
            .values()
            .next()
            .cloned();
        let sealed = sealed.expect("a sealed segment");
        let split = sealed.split.as_ref().expect("split");
        let keys = crate::query::Query::parse("9533201")
            .expect("q")
            .frame_keys();
        let keys = keys.expect("keys");
        let passed: Vec<usize> = (0..sealed.file.footer.frames.len())
            .filter(|&i| split.frames.may_hold(i, &keys))
            .collect();
        let holding: Vec<usize> = (0..sealed.file.footer.frames.len())
            .filter(|&i| {
                let records = sealed.file.frame(i).expect("frame");
                records.iter().any(|r| r.record.message.contains("9533201"))
            })
            .collect();
        assert!(sealed.file.footer.frames.len() > 5, "frames");
        assert_eq!(passed, holding);
    }

    #[test]
    fn a_lost_split_is_rebuilt_and_a_damaged_segment_salvaged_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(dir.path(), RetentionConfig::default());
        let meta = sealed(dir.path(), &store, "web", 0, 300);
        let hot = LogIndex::open(&dir.path().join("hot")).expect("hot");
        drop(store);
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
        // Regression (fault scenario `corruption`): one file of a split gone, its positions,
        // which tantivy opens only for a phrase; the split opened and every phrase search
        // failed. Now it is found missing at open and the split rebuilt.
        let pos = std::fs::read_dir(seg.with_extension("split"))
            .expect("ls split")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "pos"))
            .expect("a positions file");
        std::fs::remove_file(pos).expect("rm positions");
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!((report.segments, report.splits_rebuilt), (1, 1));
        let found = store
            .search(&hot, &req("\"connect econnrefused\"", 1000))
            .expect("phrase search");
        assert_eq!(found.total, 150);
        drop(store);
        // A flipped byte inside a split file (its footer intact) opens; the scrub finds it by
        // the file's checksum and rebuilds the split, losing nothing.
        let postings = std::fs::read_dir(seg.with_extension("split"))
            .expect("ls split")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("a postings file");
        let mut bytes = std::fs::read(&postings).expect("read");
        bytes[10] ^= 0xff;
        std::fs::write(&postings, &bytes).expect("write");
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!(report.splits_rebuilt, 0, "opening reads no checksum");
        assert_eq!(store.scrub(10), 1);
        assert_eq!(store.records_lost(), 0);
        assert_ne!(std::fs::read(&postings).ok(), Some(bytes), "rebuilt");
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
    fn an_active_segment_left_by_a_crash_is_sealed_at_open_with_its_written_frames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(dir.path(), RetentionConfig::default());
        let hot = fill(dir.path(), &store, "web", 0, 100);
        let unsealed = store.hot_stats()["web"];
        assert_eq!((unsealed.records, unsealed.max_id), (100, 99));
        // Hits in the active segment are read from its frames and its tail.
        let found = store
            .search(&hot, &req("econnrefused", 1000))
            .expect("search");
        assert_eq!(
            ids(&found),
            (0..100).rev().filter(|i| i % 2 == 0).collect::<Vec<_>>()
        );
        let active: Vec<_> = std::fs::read_dir(dir.path().join("segments/web"))
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(active.len(), 1);
        assert!(active[0].ends_with(".active"), "{active:?}");
        // "Crash": the frames written so far stay, the tail (in the WAL) is gone.
        std::mem::forget(store);
        let (store, report) = open(dir.path(), RetentionConfig::default());
        assert_eq!(report.active_recovered, 1);
        let kept = store.segments()[0].records;
        assert!(kept > 0 && kept < 100, "{kept} records in written frames");
        assert_eq!(store.sealed_through()["web"], kept - 1);
        let found = store.search(&hot, &req("*", 1000)).expect("search");
        assert_eq!(
            found.total, 100,
            "sealed ones from the split, the rest still hot"
        );
    }

    #[test]
    fn retention_evicts_the_oldest_segments_of_the_app_over_its_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut retention = RetentionConfig::default();
        let (store, _) = open(dir.path(), retention.clone());
        for first in [0, 100, 200] {
            sealed(dir.path(), &store, "web", first, 100);
        }
        let hot = LogIndex::open(&dir.path().join("hot")).expect("hot");
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

    /// A store on a 100 GiB disk with a 1 GiB floor whose free space the test sets.
    fn under_a_floor() -> (
        tempfile::TempDir,
        Arc<Store>,
        Arc<std::sync::atomic::AtomicU64>,
    ) {
        use std::sync::atomic::AtomicU64;
        let dir = tempfile::tempdir().expect("tempdir");
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
        (dir, Arc::new(store), free)
    }

    #[test]
    fn the_disk_floor_evicts_the_heaviest_app_first_then_refuses_its_ingest() {
        let (dir, store, free) = under_a_floor();
        for first in [0, 100, 200] {
            sealed(dir.path(), &store, "runaway", first, 100);
        }
        fill(dir.path(), &store, "runaway", 300, 100);
        let hot_stats = store.hot_stats();
        assert_eq!(hot_stats["runaway"].records, 100);
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

    /// Regression (fault scenario `disk`, full profile): once the floor had taken a runaway's
    /// segments, a ballast outside logq made the floor evict a calm app's segments, as the
    /// runaway then counted as using almost nothing.
    #[test]
    fn under_the_floor_a_runaway_whose_segments_are_gone_is_refused_before_a_calm_app_loses_data() {
        let (dir, store, free) = under_a_floor();
        for first in [0, 100, 200, 300] {
            sealed(dir.path(), &store, "runaway", first, 100);
        }
        for first in [400, 500] {
            sealed(dir.path(), &store, "calm", first, 100);
        }
        let calm_segments = || store.segments().iter().filter(|s| s.app == "calm").count();
        // The runaway breaches the floor: its own segments go, all of them, and it is refused.
        free.store(0, Ordering::SeqCst);
        let evicted = store.enforce_retention(&BTreeMap::new());
        assert_eq!(evicted.len(), 4, "{evicted:?}");
        assert!(evicted.iter().all(|(s, _)| s.app == "runaway"));
        assert_eq!(calm_segments(), 2);
        assert!(store.is_refused("runaway") && !store.is_refused("calm"));
        // Space returns, then something outside logq fills the disk again while the calm app
        // writes: the runaway stays the one refused and the calm app keeps its data.
        free.store(u64::MAX / 4, Ordering::SeqCst);
        store.enforce_retention(&BTreeMap::new());
        assert!(!store.is_refused("runaway"));
        fill(dir.path(), &store, "calm", 600, 10);
        free.store(0, Ordering::SeqCst);
        let evicted = store.enforce_retention(&store.hot_stats());
        assert!(evicted.is_empty(), "{evicted:?}");
        assert_eq!(calm_segments(), 2);
        assert!(store.is_refused("runaway") && !store.is_refused("calm"));
    }

    /// Opening 1,000 segments reads only their footers and opens their splits. The time is
    /// printed (`cargo test -p logq-collector thousand -- --nocapture`), not asserted: the
    /// machines are shared.
    #[test]
    fn a_thousand_segments_open_and_serve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = {
            let (store, _) = open(dir.path(), RetentionConfig::default());
            sealed(dir.path(), &store, "web", 0, 50)
        };
        let hot = LogIndex::open(&dir.path().join("hot")).expect("hot");
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
        r.apps = crate::index::Names::new(["web"]).expect("names");
        let found = store.search(&hot, &r).expect("search");
        assert_eq!(found.total, 25 * 1000);
    }
}
