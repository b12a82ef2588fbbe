//! The write-ahead log: every accepted line is here, fsynced, before its batch is acknowledged.
//!
//! Layout: `<data_dir>/wal/<20-digit file number>.wal`. Each file starts with a 16-byte header
//! (`LOGQWAL\0`, format version as u32 LE, 4 reserved bytes), then records of
//! `u32 LE payload length | u32 LE CRC-32 of the payload | payload`, where the payload is a JSON
//! [`WalEntry`]. The first entry of every file is a [`WalEntry::Checkpoint`] holding the stream
//! positions and the next record id as of that file's start, so older files can be deleted once
//! the index holds their records.
//!
//! One thread owns the open file. It takes every append that is waiting, writes them, fsyncs
//! once for all of them (group commit), and only then answers each with its stream's durable
//! position and hands the batches to the indexer. Lines at or below a stream's durable position
//! are dropped here, which is what makes resends after a crash harmless.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use logq_schemas::Line;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

const MAGIC: &[u8; 8] = b"LOGQWAL\0";
const VERSION: u32 = 1;
const HEADER_BYTES: u64 = 16;
const RECORD_HEADER_BYTES: usize = 8;
/// A WAL record larger than this is treated as corruption when reading.
const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;
/// How many waiting appends one group commit takes at most.
const MAX_GROUP: usize = 256;
/// The most text bytes one group commit writes.
const MAX_GROUP_BYTES: usize = 1024 * 1024;

/// Failures of the write-ahead log.
#[derive(Debug, Error)]
pub enum WalError {
    #[error("write-ahead log I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write-ahead log file {path} is not a logq WAL (bad header)")]
    BadHeader { path: PathBuf },
    #[error(
        "write-ahead log file {path} has format version {version}, this collector reads {VERSION}"
    )]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error("write-ahead log is shut down")]
    Closed,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where an entry ends: file number and byte offset just past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct WalLocation {
    pub file: u64,
    pub offset: u64,
}

/// What the stream's lines are: fixed for the life of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// `<shipper id>/<stream id>`: positions are kept per key.
    pub key: String,
    pub app: String,
    pub host: String,
    pub stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The shipper's time zone.
    pub tz: String,
    /// Fields every record of the stream carries (see `StreamInfo::fields`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// One stored batch: the lines of one stream that were new to the collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalBatch {
    /// Id of the first line; the others follow consecutively.
    pub first_id: u64,
    pub meta: StreamMeta,
    pub read_at: Timestamp,
    pub received: Timestamp,
    pub lines: Vec<Line>,
}

/// One WAL record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalEntry {
    /// State as of the start of a file.
    Checkpoint {
        next_id: u64,
        positions: BTreeMap<String, u64>,
    },
    /// Lines stored.
    Batch(WalBatch),
}

/// A batch handed to the indexer, with where it ends in the WAL.
#[derive(Debug, Clone)]
pub struct Durable {
    pub location: WalLocation,
    pub batch: Arc<WalBatch>,
}

/// A batch of lines to append; `lines` must have strictly increasing `end`.
#[derive(Debug)]
pub struct Append {
    pub meta: Arc<StreamMeta>,
    pub read_at: Timestamp,
    pub received: Timestamp,
    pub lines: Vec<Line>,
}

impl Append {
    fn text_bytes(&self) -> usize {
        self.lines.iter().map(|l| l.text.len()).sum()
    }
}

/// An append queued with [`Wal::submit`].
pub type PendingAppend = oneshot::Receiver<Result<u64, Arc<WalError>>>;

struct Request {
    append: Append,
    reply: oneshot::Sender<Result<u64, Arc<WalError>>>,
}

/// What opening the WAL found.
#[derive(Debug, Default, Clone)]
pub struct RecoveryReport {
    pub files: usize,
    pub batches: usize,
    pub replayed_to_index: usize,
    /// Bytes cut from a torn tail or skipped after a corrupt record.
    pub bytes_dropped: u64,
    pub corrupt_records: usize,
}

#[derive(Debug, Default)]
struct Shared {
    positions: Mutex<HashMap<String, u64>>,
    /// Files below this number hold only indexed records and may be deleted.
    indexed_file: AtomicU64,
    /// The file being written.
    current_file: AtomicU64,
    dir: PathBuf,
}

impl Shared {
    /// Deletes the files whose records are all indexed (never the one being written).
    fn remove_indexed_files(&self) {
        let below = self
            .indexed_file
            .load(Ordering::Relaxed)
            .min(self.current_file.load(Ordering::Relaxed));
        let Ok(files) = list_files(&self.dir) else {
            return;
        };
        for (no, path) in files.into_iter().filter(|(no, _)| *no < below) {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::debug!(file = no, "deleted indexed write-ahead log file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete WAL file")
                }
            }
        }
    }
}

/// Handle to the write-ahead log; cheap to clone.
#[derive(Debug, Clone)]
pub struct Wal {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

impl Wal {
    /// Opens (or creates) the WAL in `dir`, replays every batch past `indexed_to` into
    /// `to_index`, and starts the writer thread.
    pub fn open(
        dir: &Path,
        max_file_bytes: u64,
        fsync: bool,
        indexed_to: WalLocation,
        to_index: std::sync::mpsc::SyncSender<Durable>,
    ) -> Result<(Wal, RecoveryReport, std::thread::JoinHandle<()>), WalError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut report = RecoveryReport::default();
        let mut positions = HashMap::new();
        let mut next_id = 0u64;
        let files = list_files(dir)?;
        report.files = files.len();
        let last_no = files.last().map(|(no, _)| *no);
        let (mut batches, mut replayed) = (0, 0);
        for (no, path) in &files {
            let is_last = Some(*no) == last_no;
            replay_file(
                *no,
                path,
                is_last,
                |location, entry| match entry {
                    WalEntry::Checkpoint {
                        next_id: n,
                        positions: p,
                    } => {
                        next_id = next_id.max(n);
                        for (k, v) in p {
                            let e = positions.entry(k).or_insert(v);
                            *e = (*e).max(v);
                        }
                    }
                    WalEntry::Batch(batch) => {
                        batches += 1;
                        next_id = next_id.max(batch.first_id + batch.lines.len() as u64);
                        if let Some(last) = batch.lines.last() {
                            let e = positions.entry(batch.meta.key.clone()).or_insert(last.end);
                            *e = (*e).max(last.end);
                        }
                        if location > indexed_to {
                            replayed += 1;
                            // The indexer runs already; a closed channel means it died, and the
                            // records stay in the WAL for the next start.
                            let _ = to_index.send(Durable {
                                location,
                                batch: Arc::new(batch),
                            });
                        }
                    }
                },
                &mut report,
            )?;
        }
        report.batches = batches;
        report.replayed_to_index = replayed;
        let shared = Arc::new(Shared {
            positions: Mutex::new(positions),
            indexed_file: AtomicU64::new(indexed_to.file),
            current_file: AtomicU64::new(0),
            dir: dir.to_owned(),
        });
        let mut writer = Writer {
            dir: dir.to_owned(),
            max_file_bytes,
            fsync,
            shared: shared.clone(),
            to_index,
            next_id,
            file: None,
            file_no: last_no.unwrap_or(0),
            offset: 0,
            buf: Vec::new(),
        };
        // Always start a fresh file: the last one may have been cut, and a new file records the
        // recovered state in its checkpoint.
        writer.rotate()?;
        let (tx, rx) = mpsc::channel(1024);
        let handle = std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(dir))?;
        Ok((Wal { tx, shared }, report, handle))
    }

    /// The durable position of a stream, if the collector ever stored a line of it.
    pub fn position(&self, key: &str) -> Option<u64> {
        self.shared
            .positions
            .lock()
            .expect("positions lock")
            .get(key)
            .copied()
    }

    /// Queues a batch for appending, in call order; the returned receiver resolves once it is
    /// durable, with the stream's durable position. Waits while the queue is full.
    pub async fn submit(&self, append: Append) -> Result<PendingAppend, WalError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { append, reply })
            .await
            .map_err(|_| WalError::Closed)?;
        Ok(rx)
    }

    /// Appends a batch; resolves once it is durable, with the stream's durable position.
    pub async fn append(&self, append: Append) -> Result<u64, Arc<WalError>> {
        let rx = self.submit(append).await.map_err(Arc::new)?;
        rx.await.map_err(|_| Arc::new(WalError::Closed))?
    }

    /// Tells the WAL that every record in files below `file` is in the index.
    pub fn mark_indexed(&self, location: WalLocation) {
        self.indexed_marker().mark(location);
    }

    /// A handle that only records indexing progress. Unlike a [`Wal`], it does not keep the
    /// writer thread alive: the indexer holds one, and the writer must end at shutdown once
    /// every connection has dropped its `Wal`.
    pub fn indexed_marker(&self) -> IndexedMarker {
        IndexedMarker(self.shared.clone())
    }
}

/// See [`Wal::indexed_marker`].
#[derive(Clone)]
pub struct IndexedMarker(Arc<Shared>);

impl std::fmt::Debug for IndexedMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedMarker").finish_non_exhaustive()
    }
}

impl IndexedMarker {
    /// Records that everything up to `location` is indexed, and deletes the files that holds
    /// for (without waiting for the next rotation: a collector refusing ingest until the WAL
    /// shrinks would otherwise wait forever).
    pub fn mark(&self, location: WalLocation) {
        let before = self
            .0
            .indexed_file
            .fetch_max(location.file, Ordering::Relaxed);
        if location.file > before {
            self.0.remove_indexed_files();
        }
    }
}

struct Writer {
    dir: PathBuf,
    max_file_bytes: u64,
    fsync: bool,
    shared: Arc<Shared>,
    to_index: std::sync::mpsc::SyncSender<Durable>,
    next_id: u64,
    file: Option<File>,
    file_no: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl Writer {
    fn path(&self, no: u64) -> PathBuf {
        self.dir.join(format!("{no:020}.wal"))
    }

    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = rx.blocking_recv() {
            let mut bytes = first.append.text_bytes();
            group.push(first);
            // A group ends at MAX_GROUP requests or MAX_GROUP_BYTES of text, so that files keep
            // close to their size limit (they are deleted whole).
            while group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
                match rx.try_recv() {
                    Ok(req) => {
                        bytes += req.append.text_bytes();
                        group.push(req);
                    }
                    Err(_) => break,
                }
            }
            let result = self.commit_group(&mut group);
            match result {
                Ok(answers) => {
                    for (req, answer) in group.drain(..).zip(answers) {
                        let _ = req.reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "write-ahead log append failed");
                    let e = Arc::new(e);
                    for req in group.drain(..) {
                        let _ = req.reply.send(Err(e.clone()));
                    }
                    // The file may hold a partial write: continue in a fresh file so that the
                    // next records are not appended after garbage.
                    if let Err(e) = self.rotate() {
                        tracing::error!(error = %e, "cannot start a new write-ahead log file");
                    }
                }
            }
        }
        if let Some(file) = &self.file {
            let _ = file.sync_all();
        }
    }

    /// Writes and fsyncs a group; returns each request's durable stream position.
    fn commit_group(&mut self, group: &mut [Request]) -> Result<Vec<u64>, WalError> {
        if self.offset >= self.max_file_bytes {
            self.rotate()?;
        }
        let mut answers = Vec::with_capacity(group.len());
        let mut durable = Vec::new();
        // Positions as they will be once this group is on disk.
        let mut pending: HashMap<String, u64> = HashMap::new();
        self.buf.clear();
        let start_offset = self.offset;
        {
            let positions = self.shared.positions.lock().expect("positions lock");
            for req in group.iter_mut() {
                let key = &req.append.meta.key;
                let durable_pos = pending
                    .get(key)
                    .copied()
                    .or_else(|| positions.get(key).copied());
                let lines: Vec<Line> = std::mem::take(&mut req.append.lines)
                    .into_iter()
                    .filter(|l| durable_pos.is_none_or(|p| l.end > p))
                    .collect();
                let Some(last_end) = lines.last().map(|l| l.end) else {
                    answers.push(durable_pos.unwrap_or(0));
                    continue;
                };
                let batch = WalBatch {
                    first_id: self.next_id,
                    meta: (*req.append.meta).clone(),
                    read_at: req.append.read_at,
                    received: req.append.received,
                    lines,
                };
                self.next_id += batch.lines.len() as u64;
                let end = encode_record(&mut self.buf, &WalEntry::Batch(batch.clone()));
                pending.insert(key.clone(), last_end);
                answers.push(last_end);
                durable.push((start_offset + end as u64, batch));
            }
        }
        if !self.buf.is_empty() {
            let path = self.path(self.file_no);
            let file = self.file.as_mut().ok_or(WalError::Closed)?;
            file.write_all(&self.buf).map_err(io_err(&path))?;
            if self.fsync {
                file.sync_data().map_err(io_err(&path))?;
            }
            self.offset += self.buf.len() as u64;
        }
        self.shared
            .positions
            .lock()
            .expect("positions lock")
            .extend(pending);
        for (offset, batch) in durable {
            let location = WalLocation {
                file: self.file_no,
                offset,
            };
            // Blocks when the indexer is behind: back-pressure reaches the shippers.
            if self
                .to_index
                .send(Durable {
                    location,
                    batch: Arc::new(batch),
                })
                .is_err()
            {
                tracing::error!("indexer stopped; records stay in the write-ahead log");
            }
        }
        Ok(answers)
    }

    /// Starts a new file whose first entry records the current state, then deletes files
    /// whose records are all indexed.
    fn rotate(&mut self) -> Result<(), WalError> {
        let no = self.file_no + 1;
        let path = self.path(no);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let positions: BTreeMap<String, u64> = self
            .shared
            .positions
            .lock()
            .expect("positions lock")
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let mut buf = Vec::with_capacity(HEADER_BYTES as usize);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&[0u8; 4]);
        encode_record(
            &mut buf,
            &WalEntry::Checkpoint {
                next_id: self.next_id,
                positions,
            },
        );
        file.write_all(&buf).map_err(io_err(&path))?;
        file.sync_all().map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        if let Some(old) = self.file.replace(file) {
            let _ = old.sync_all();
        }
        self.file_no = no;
        self.offset = buf.len() as u64;
        self.shared.current_file.store(no, Ordering::Relaxed);
        self.shared.remove_indexed_files();
        Ok(())
    }
}

/// Appends one record to `buf`; returns the buffer length after it.
fn encode_record(buf: &mut Vec<u8>, entry: &WalEntry) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    serde_json::to_writer(&mut *buf, entry).expect("WAL entries always serialize");
    let payload = &buf[start + RECORD_HEADER_BYTES..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    buf.len()
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// WAL files that should be in `dir` but are not (deleted or lost outside logq), given the
/// WAL location the hot index last committed. logq deletes only the oldest files, below that
/// location's file (their records are all indexed), so every number from the oldest file
/// present (or the committed one, if lower) up to the newest present (or the committed one, if
/// higher) must exist. Call it before
/// [`Wal::open`], which starts a new file.
pub fn missing_files(dir: &Path, committed: WalLocation) -> Result<Vec<u64>, WalError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let present: std::collections::BTreeSet<u64> =
        list_files(dir)?.into_iter().map(|(no, _)| no).collect();
    let committed_file = (committed != WalLocation::default()).then_some(committed.file);
    let first = present.first().copied();
    let low = match (committed_file, first) {
        (Some(c), Some(f)) => Some(c.min(f)),
        (c, f) => c.or(f),
    };
    let (Some(low), Some(high)) = (low, present.last().copied().max(committed_file)) else {
        return Ok(Vec::new());
    };
    Ok((low..=high).filter(|no| !present.contains(no)).collect())
}

/// The lowest record id the WAL in `dir` still holds: the `next_id` of the checkpoint that
/// opens its oldest readable file (every record of that file and of the later ones has an id at
/// or above it; a file whose head is damaged is passed over). `None` when no file is readable.
/// Every record with a lower id is in the hot index and in a segment, or lost. Call it before
/// [`Wal::open`], which starts a new file.
pub fn first_id(dir: &Path) -> Option<u64> {
    let files = list_files(dir).ok()?;
    files.iter().find_map(|(_, path)| {
        let mut file = File::open(path).ok()?;
        let mut head = [0u8; HEADER_BYTES as usize + RECORD_HEADER_BYTES];
        file.read_exact(&mut head).ok()?;
        if &head[..8] != MAGIC {
            return None;
        }
        let rec = &head[HEADER_BYTES as usize..];
        let len = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]) as usize;
        let crc = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]);
        if len > MAX_RECORD_BYTES {
            return None;
        }
        let mut payload = vec![0u8; len];
        file.read_exact(&mut payload).ok()?;
        if crc32fast::hash(&payload) != crc {
            return None;
        }
        match serde_json::from_slice::<WalEntry>(&payload).ok()? {
            WalEntry::Checkpoint { next_id, .. } => Some(next_id),
            WalEntry::Batch(b) => Some(b.first_id),
        }
    })
}

fn list_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if let Ok(no) = stem.parse::<u64>() {
            files.push((no, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every valid entry of one file. A torn or corrupt tail is cut when the file is the last
/// one (a crash mid-write); in an older file the rest after a bad record is skipped and counted.
fn replay_file(
    no: u64,
    path: &Path,
    is_last: bool,
    mut on_entry: impl FnMut(WalLocation, WalEntry),
    report: &mut RecoveryReport,
) -> Result<(), WalError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(is_last)
        .open(path)
        .map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut header = [0u8; HEADER_BYTES as usize];
    if len < HEADER_BYTES {
        tracing::warn!(path = %path.display(), "write-ahead log file with a torn header: removed");
        report.bytes_dropped += len;
        drop(file);
        std::fs::remove_file(path).map_err(io_err(path))?;
        return Ok(());
    }
    file.read_exact(&mut header).map_err(io_err(path))?;
    if &header[..8] != MAGIC {
        return Err(WalError::BadHeader {
            path: path.to_owned(),
        });
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != VERSION {
        return Err(WalError::UnsupportedVersion {
            path: path.to_owned(),
            version,
        });
    }
    let mut reader = BufReader::with_capacity(1 << 20, &mut file);
    let mut offset = HEADER_BYTES;
    let mut payload = Vec::new();
    let valid_end = loop {
        let mut rec_header = [0u8; RECORD_HEADER_BYTES];
        match read_full(&mut reader, &mut rec_header) {
            Ok(0) => break offset,
            Ok(n) if n < RECORD_HEADER_BYTES => break offset,
            Ok(_) => {}
            Err(e) => return Err(io_err(path)(e)),
        }
        let rec_len =
            u32::from_le_bytes([rec_header[0], rec_header[1], rec_header[2], rec_header[3]])
                as usize;
        let crc = u32::from_le_bytes([rec_header[4], rec_header[5], rec_header[6], rec_header[7]]);
        if rec_len > MAX_RECORD_BYTES || offset + (RECORD_HEADER_BYTES + rec_len) as u64 > len {
            break offset;
        }
        payload.resize(rec_len, 0);
        if read_full(&mut reader, &mut payload).map_err(io_err(path))? < rec_len {
            break offset;
        }
        if crc32fast::hash(&payload) != crc {
            report.corrupt_records += 1;
            break offset;
        }
        let Ok(entry) = serde_json::from_slice::<WalEntry>(&payload) else {
            report.corrupt_records += 1;
            break offset;
        };
        offset += (RECORD_HEADER_BYTES + rec_len) as u64;
        on_entry(WalLocation { file: no, offset }, entry);
    };
    drop(reader);
    if valid_end < len {
        report.bytes_dropped += len - valid_end;
        if is_last {
            tracing::warn!(
                path = %path.display(),
                at = valid_end,
                dropped = len - valid_end,
                "cut a torn write-ahead log tail"
            );
            file.set_len(valid_end).map_err(io_err(path))?;
            file.seek(SeekFrom::End(0)).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
        } else {
            tracing::error!(
                path = %path.display(),
                at = valid_end,
                skipped = len - valid_end,
                "corrupt record in an older write-ahead log file: the rest of the file is skipped"
            );
        }
    }
    Ok(())
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buf.len() {
        match reader.read(&mut buf[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str) -> Arc<StreamMeta> {
        Arc::new(StreamMeta {
            fields: Default::default(),
            key: key.into(),
            app: "app".into(),
            host: "h".into(),
            stream: "stdout".into(),
            format: None,
            tz: "UTC".into(),
        })
    }

    fn lines(ends: &[u64]) -> Vec<Line> {
        ends.iter()
            .map(|e| Line {
                time: None,
                end: *e,
                text: format!("line {e}"),
                split: false,
            })
            .collect()
    }

    fn append(key: &str, ends: &[u64]) -> Append {
        let now = Timestamp::now();
        Append {
            meta: meta(key),
            read_at: now,
            received: now,
            lines: lines(ends),
        }
    }

    fn open(
        dir: &Path,
        indexed: WalLocation,
    ) -> (Wal, RecoveryReport, std::sync::mpsc::Receiver<Durable>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        let (wal, report, _handle) = Wal::open(dir, 1 << 20, true, indexed, tx).expect("open");
        (wal, report, rx)
    }

    #[tokio::test]
    async fn dedupes_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (wal, _, rx) = open(dir.path(), WalLocation::default());
            assert_eq!(
                wal.append(append("s/a", &[10, 20])).await.expect("append"),
                20
            );
            // A resend overlapping what is durable stores only the new line.
            assert_eq!(
                wal.append(append("s/a", &[10, 20, 30]))
                    .await
                    .expect("append"),
                30
            );
            assert_eq!(wal.append(append("s/a", &[20])).await.expect("append"), 30);
            let got: Vec<_> = rx.try_iter().collect();
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].batch.lines, lines(&[30]));
            assert_eq!(got[1].batch.first_id, 2);
        }
        let (wal, report, rx) = open(dir.path(), WalLocation::default());
        assert_eq!(wal.position("s/a"), Some(30));
        assert_eq!(wal.position("s/b"), None);
        assert_eq!(report.batches, 2);
        assert_eq!(
            rx.try_iter().count(),
            2,
            "both batches replayed to an empty index"
        );
        // Ids continue after a reopen.
        wal.append(append("s/b", &[5])).await.expect("append");
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got[0].batch.first_id, 3);
    }

    #[tokio::test]
    async fn torn_tail_is_cut_and_earlier_records_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (wal, _, _rx) = open(dir.path(), WalLocation::default());
            wal.append(append("s/a", &[10])).await.expect("append");
            wal.append(append("s/a", &[20])).await.expect("append");
        }
        let (_, path) = list_files(dir.path()).expect("list").pop().expect("a file");
        let len = std::fs::metadata(&path).expect("meta").len();
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 3).expect("truncate");
        drop(f);
        let (wal, report, _rx) = open(dir.path(), WalLocation::default());
        assert_eq!(wal.position("s/a"), Some(10));
        assert!(report.bytes_dropped > 0);
    }

    #[tokio::test]
    async fn flipped_byte_is_detected_by_crc() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (wal, _, _rx) = open(dir.path(), WalLocation::default());
            wal.append(append("s/a", &[10])).await.expect("append");
            wal.append(append("s/a", &[20])).await.expect("append");
        }
        let (_, path) = list_files(dir.path()).expect("list").pop().expect("a file");
        let mut bytes = std::fs::read(&path).expect("read");
        let at = bytes.len() - 5;
        bytes[at] ^= 0x40;
        std::fs::write(&path, bytes).expect("write");
        let (wal, report, _rx) = open(dir.path(), WalLocation::default());
        assert_eq!(wal.position("s/a"), Some(10));
        assert_eq!(report.corrupt_records, 1);
    }

    #[tokio::test]
    async fn indexed_batches_are_not_replayed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first;
        {
            let (wal, _, rx) = open(dir.path(), WalLocation::default());
            wal.append(append("s/a", &[10])).await.expect("append");
            wal.append(append("s/a", &[20])).await.expect("append");
            first = rx.try_iter().next().expect("durable").location;
        }
        let (_, report, rx) = open(dir.path(), first);
        assert_eq!(report.replayed_to_index, 1);
        assert_eq!(
            rx.try_iter().next().expect("replayed").batch.lines,
            lines(&[20])
        );
    }

    #[test]
    fn missing_files_are_the_gaps_from_the_committed_file_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |file| WalLocation { file, offset: 40 };
        assert_eq!(
            missing_files(&dir.path().join("none"), at(3)).expect("ok"),
            Vec::<u64>::new()
        );
        for no in [3u64, 4, 6] {
            std::fs::write(dir.path().join(format!("{no:020}.wal")), b"x").expect("write");
        }
        // Below the committed file, deletion is logq's own; from it up, a gap is a loss.
        assert_eq!(missing_files(dir.path(), at(3)).expect("ok"), vec![5]);
        assert_eq!(missing_files(dir.path(), at(2)).expect("ok"), vec![2, 5]);
        assert_eq!(
            missing_files(dir.path(), WalLocation::default()).expect("ok"),
            vec![5]
        );
        // The newest files gone: up to the committed one.
        assert_eq!(missing_files(dir.path(), at(8)).expect("ok"), vec![5, 7, 8]);
        for no in [3u64, 4, 6] {
            std::fs::remove_file(dir.path().join(format!("{no:020}.wal"))).expect("rm");
        }
        assert_eq!(missing_files(dir.path(), at(2)).expect("ok"), vec![2]);
        assert_eq!(
            missing_files(dir.path(), WalLocation::default()).expect("ok"),
            Vec::<u64>::new()
        );
    }

    #[tokio::test]
    async fn first_id_is_the_checkpoint_of_the_oldest_readable_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(first_id(dir.path()), None);
        let (tx, _rx) = std::sync::mpsc::sync_channel(64);
        // A file of at most one byte of text: each append starts a new file.
        let (wal, _, _) =
            Wal::open(dir.path(), 1, false, WalLocation::default(), tx).expect("open");
        for ends in [[1u64, 2], [3, 4], [5, 6]] {
            wal.append(append("a/b", &ends)).await.expect("append");
        }
        // The lowest id each file holds, read back by the replay.
        let files = list_files(dir.path()).expect("list");
        let lowest_from = |from: usize| {
            let mut low = None::<u64>;
            for (no, path) in &files[from..] {
                let _ = replay_file(
                    *no,
                    path,
                    false,
                    |_, e| {
                        if let WalEntry::Batch(b) = e {
                            low = Some(low.map_or(b.first_id, |l| l.min(b.first_id)));
                        }
                    },
                    &mut RecoveryReport::default(),
                );
            }
            low
        };
        assert_eq!(first_id(dir.path()), Some(0));
        assert_eq!(lowest_from(0), Some(0));
        // Older files gone (logq deletes the oldest first): the lowest id left.
        let holding_2 = (0..files.len())
            .rfind(|&i| lowest_from(i) == Some(2))
            .expect("a file starts at id 2");
        for (_, path) in &files[..holding_2] {
            std::fs::remove_file(path).expect("rm");
        }
        assert_eq!(first_id(dir.path()), Some(2));
        // The oldest file's head damaged: the next readable file's checkpoint.
        std::fs::write(&files[holding_2].1, b"LOGQWAL\0 damaged head").expect("write");
        assert_eq!(first_id(dir.path()), Some(4));
    }
}
