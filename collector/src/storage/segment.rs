//! Sealed segment files: one app's records as independent zstd frames, scannable without the
//! index and without the footer.
//!
//! Format v2 (all integers little endian):
//! ```text
//! segment = frame* footer
//! frame   = "LQF1" | u32 compressed_len | u32 raw_len | u64 xxh3(compressed) | zstd bytes
//!           (the raw bytes are records as JSON lines, ids ascending: see record_line)
//! footer  = JSON (Footer) | u32 json_len | u64 xxh3(json) | "LOGQSEG1"
//! ```
//! v1 differs only in its lines: each the JSON of a `StoredRecord`, every field value written
//! out even where the message holds it (v2 refers to the message). Both are read.
//! The footer lists every frame (offset, sizes, ids, time range) and the segment totals; a
//! reader trusts it only when its checksum holds. Without a valid footer, [`salvage`] walks
//! the frame headers from the start and keeps every frame whose checksum holds.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use logq_schemas::StoredRecord;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use xxhash_rust::xxh3::xxh3_64;

const FRAME_MAGIC: &[u8; 4] = b"LQF1";
const FRAME_HEADER: usize = 4 + 4 + 4 + 8;
const FOOTER_MAGIC: &[u8; 8] = b"LOGQSEG1";
const FOOTER_TRAILER: usize = 4 + 8 + 8;
/// The segment format this code writes.
pub const VERSION: u32 = 2;
/// The segment formats this code reads.
const READS: [u32; 2] = [1, 2];

/// Why a segment cannot be read (as a whole, or one frame of it).
#[derive(Debug, Error)]
pub enum SegmentError {
    #[error("segment {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("segment {path}: {reason}")]
    Corrupt { path: String, reason: String },
}

/// One frame as the footer describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FrameMeta {
    /// Offset of the frame header in the file.
    pub offset: u64,
    pub compressed_len: u32,
    pub raw_len: u32,
    pub records: u32,
    pub first_id: u64,
    pub last_id: u64,
    /// Event time range, nanoseconds since the epoch.
    pub min_time: i64,
    pub max_time: i64,
    pub xxh3: u64,
}

/// The footer: what the segment holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Footer {
    pub version: u32,
    pub app: String,
    pub frames: Vec<FrameMeta>,
    pub records: u64,
    pub raw_bytes: u64,
    pub min_time: i64,
    pub max_time: i64,
    pub first_id: u64,
    pub last_id: u64,
}

fn nanos(t: jiff::Timestamp) -> i64 {
    crate::index::nanos(t)
}

/// Writes a segment: feed records in id order, then [`SegmentWriter::finish`].
#[derive(Debug)]
pub struct SegmentWriter {
    file: File,
    path: String,
    level: i32,
    frame_bytes: usize,
    buf: Vec<u8>,
    buf_meta: Option<FrameMeta>,
    offset: u64,
    footer: Footer,
}

impl SegmentWriter {
    /// Creates `path` (which must not exist) for `app`'s records; frames hold about
    /// `frame_bytes` raw bytes each, compressed at zstd `level`.
    pub fn create(
        path: &Path,
        app: &str,
        frame_bytes: usize,
        level: i32,
    ) -> Result<SegmentWriter, SegmentError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(SegmentWriter {
            file,
            path: path.display().to_string(),
            level,
            frame_bytes: frame_bytes.max(1),
            buf: Vec::new(),
            buf_meta: None,
            offset: 0,
            footer: Footer {
                version: VERSION,
                app: app.to_owned(),
                frames: Vec::new(),
                records: 0,
                raw_bytes: 0,
                min_time: i64::MAX,
                max_time: i64::MIN,
                first_id: u64::MAX,
                last_id: 0,
            },
        })
    }

    /// Appends a record; returns (frame index, slot in the frame) it will be found at.
    pub fn push(&mut self, record: &StoredRecord) -> Result<(u32, u32), SegmentError> {
        let t = nanos(record.record.time);
        let meta = self.buf_meta.get_or_insert(FrameMeta {
            offset: self.offset,
            compressed_len: 0,
            raw_len: 0,
            records: 0,
            first_id: record.id,
            last_id: record.id,
            min_time: t,
            max_time: t,
            xxh3: 0,
        });
        let slot = meta.records;
        meta.records += 1;
        meta.last_id = record.id;
        meta.min_time = meta.min_time.min(t);
        meta.max_time = meta.max_time.max(t);
        super::record_line::write(&mut self.buf, record);
        self.buf.push(b'\n');
        let frame = self.footer.frames.len() as u32;
        if self.buf.len() >= self.frame_bytes {
            self.flush_frame()?;
        }
        Ok((frame, slot))
    }

    /// The frames written so far.
    pub fn frames(&self) -> &[FrameMeta] {
        &self.footer.frames
    }

    /// Raw bytes pushed so far (written frames and the frame being filled).
    pub fn raw_bytes(&self) -> u64 {
        self.footer.raw_bytes + self.buf.len() as u64
    }

    /// Writes the frame being filled now, however small.
    pub fn flush(&mut self) -> Result<(), SegmentError> {
        self.flush_frame()
    }

    /// Makes the frames written so far durable.
    pub fn sync(&self) -> Result<(), SegmentError> {
        self.file.sync_data().map_err(|source| SegmentError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the frame being filled. On failure (a full disk, say) nothing changes: the file
    /// is cut back and the frame stays in memory for the next try.
    fn flush_frame(&mut self) -> Result<(), SegmentError> {
        let Some(mut meta) = self.buf_meta.clone() else {
            return Ok(());
        };
        let compressed =
            zstd::bulk::compress(&self.buf, self.level).map_err(|e| SegmentError::Io {
                path: self.path.clone(),
                source: e,
            })?;
        meta.compressed_len = compressed.len() as u32;
        meta.raw_len = self.buf.len() as u32;
        meta.xxh3 = xxh3_64(&compressed);
        let mut bytes = Vec::with_capacity(FRAME_HEADER + compressed.len());
        bytes.extend_from_slice(FRAME_MAGIC);
        bytes.extend_from_slice(&meta.compressed_len.to_le_bytes());
        bytes.extend_from_slice(&meta.raw_len.to_le_bytes());
        bytes.extend_from_slice(&meta.xxh3.to_le_bytes());
        bytes.extend_from_slice(&compressed);
        self.write(&bytes)?;
        self.buf_meta = None;
        let f = &mut self.footer;
        f.records += u64::from(meta.records);
        f.raw_bytes += u64::from(meta.raw_len);
        f.min_time = f.min_time.min(meta.min_time);
        f.max_time = f.max_time.max(meta.max_time);
        f.first_id = f.first_id.min(meta.first_id);
        f.last_id = f.last_id.max(meta.last_id);
        f.frames.push(meta);
        self.buf.clear();
        Ok(())
    }

    /// Writes `bytes` whole at the end, or cuts the file back to where it was.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SegmentError> {
        use std::io::{Seek, SeekFrom};
        if let Err(source) = self.file.write_all(bytes) {
            let _ = self.file.set_len(self.offset);
            let _ = self.file.seek(SeekFrom::Start(self.offset));
            return Err(SegmentError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written to the file so far.
    pub fn file_bytes(&self) -> u64 {
        self.offset
    }

    /// Writes the last frame and the footer, fsyncs; returns the footer and the file size. On
    /// failure the writer is as it was, and `finish` may be tried again.
    pub fn finish(&mut self) -> Result<(Footer, u64), SegmentError> {
        self.flush_frame()?;
        let json = serde_json::to_vec(&self.footer).expect("footers serialize");
        let mut trailer = Vec::with_capacity(json.len() + FOOTER_TRAILER);
        trailer.extend_from_slice(&json);
        trailer.extend_from_slice(&(json.len() as u32).to_le_bytes());
        trailer.extend_from_slice(&xxh3_64(&json).to_le_bytes());
        trailer.extend_from_slice(FOOTER_MAGIC);
        let before = self.offset;
        self.write(&trailer)?;
        if let Err(source) = self.file.sync_all() {
            use std::io::{Seek, SeekFrom};
            let _ = self.file.set_len(before);
            let _ = self.file.seek(SeekFrom::Start(before));
            self.offset = before;
            return Err(SegmentError::Io {
                path: self.path.clone(),
                source,
            });
        }
        Ok((self.footer.clone(), self.offset))
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SegmentError + '_ {
    move |source| SegmentError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> SegmentError {
    SegmentError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// An open segment file with a verified footer.
#[derive(Debug)]
pub struct SegmentFile {
    file: File,
    path: std::path::PathBuf,
    pub footer: Footer,
}

impl SegmentFile {
    /// Opens a segment and verifies its footer.
    pub fn open(path: &Path) -> Result<SegmentFile, SegmentError> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        if len < FOOTER_TRAILER as u64 {
            return Err(corrupt(path, "too short for a footer"));
        }
        let mut trailer = [0u8; FOOTER_TRAILER];
        file.read_exact_at(&mut trailer, len - FOOTER_TRAILER as u64)
            .map_err(io_err(path))?;
        if &trailer[12..] != FOOTER_MAGIC {
            return Err(corrupt(path, "no footer (bad magic)"));
        }
        let json_len = u64::from(u32::from_le_bytes(trailer[..4].try_into().expect("4")));
        let sum = u64::from_le_bytes(trailer[4..12].try_into().expect("8"));
        if json_len + FOOTER_TRAILER as u64 > len {
            return Err(corrupt(path, "footer length out of range"));
        }
        let mut json = vec![0u8; json_len as usize];
        file.read_exact_at(&mut json, len - FOOTER_TRAILER as u64 - json_len)
            .map_err(io_err(path))?;
        if xxh3_64(&json) != sum {
            return Err(corrupt(path, "footer checksum mismatch"));
        }
        let footer: Footer = serde_json::from_slice(&json)
            .map_err(|e| corrupt(path, format!("footer unreadable: {e}")))?;
        if !READS.contains(&footer.version) {
            return Err(corrupt(
                path,
                format!("unsupported segment version {}", footer.version),
            ));
        }
        Ok(SegmentFile {
            file,
            path: path.to_owned(),
            footer,
        })
    }

    /// Another handle on the same file, footer already read.
    pub fn try_clone(&self) -> Result<SegmentFile, SegmentError> {
        Ok(SegmentFile {
            file: self.file.try_clone().map_err(io_err(&self.path))?,
            path: self.path.clone(),
            footer: self.footer.clone(),
        })
    }

    /// The raw bytes (JSON lines) of frame `i`, checked against its checksum.
    pub fn frame_bytes(&self, i: usize) -> Result<Vec<u8>, SegmentError> {
        let meta = self
            .footer
            .frames
            .get(i)
            .ok_or_else(|| corrupt(&self.path, format!("no frame {i}")))?;
        read_frame(&self.file, &self.path, meta.offset, Some(meta)).map(|(raw, _)| raw)
    }

    /// Where the segment is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records of frame `i`.
    pub fn frame(&self, i: usize) -> Result<Vec<StoredRecord>, SegmentError> {
        parse_records(&self.path, &self.frame_bytes(i)?)
    }

    /// The records with these ids (ascending) that the segment holds.
    pub fn get(&self, ids: &[u64]) -> Result<Vec<StoredRecord>, SegmentError> {
        let (found, _) = pick(&self.footer.frames, ids, |i| self.frame(i))?;
        Ok(found)
    }
}

/// The records with `ids` (ascending) found in `frames` (ids ascending), reading each frame
/// needed once with `read`; and the ids no frame covers.
pub fn pick(
    frames: &[FrameMeta],
    ids: &[u64],
    mut read: impl FnMut(usize) -> Result<Vec<StoredRecord>, SegmentError>,
) -> Result<(Vec<StoredRecord>, Vec<u64>), SegmentError> {
    let (mut found, mut rest) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < ids.len() {
        let f = frames.partition_point(|f| f.last_id < ids[i]);
        if f == frames.len() || frames[f].first_id > ids[i] {
            rest.push(ids[i]);
            i += 1;
            continue;
        }
        let records = read(f)?;
        while i < ids.len() && ids[i] <= frames[f].last_id {
            if let Ok(k) = records.binary_search_by_key(&ids[i], |r| r.id) {
                found.push(records[k].clone());
            }
            i += 1;
        }
    }
    Ok((found, rest))
}

/// The records of the frame `meta` describes in `file` (a segment still being written, whose
/// footer is not there yet).
pub fn read_frame_records(
    file: &File,
    path: &Path,
    meta: &FrameMeta,
) -> Result<Vec<StoredRecord>, SegmentError> {
    parse_records(path, &read_frame_bytes(file, path, meta)?)
}

/// The decompressed bytes of the frame `meta` describes in `file`: a record per line.
pub fn read_frame_bytes(
    file: &File,
    path: &Path,
    meta: &FrameMeta,
) -> Result<Vec<u8>, SegmentError> {
    read_frame(file, path, meta.offset, Some(meta)).map(|(raw, _)| raw)
}

/// Reads the frame whose header is at `offset`; returns its raw bytes and the offset after it.
fn read_frame(
    file: &File,
    path: &Path,
    offset: u64,
    expect: Option<&FrameMeta>,
) -> Result<(Vec<u8>, u64), SegmentError> {
    let mut header = [0u8; FRAME_HEADER];
    file.read_exact_at(&mut header, offset)
        .map_err(io_err(path))?;
    if &header[..4] != FRAME_MAGIC {
        return Err(corrupt(path, format!("no frame at offset {offset}")));
    }
    let clen = u32::from_le_bytes(header[4..8].try_into().expect("4"));
    let rlen = u32::from_le_bytes(header[8..12].try_into().expect("4"));
    let sum = u64::from_le_bytes(header[12..20].try_into().expect("8"));
    if let Some(m) = expect
        && (m.compressed_len != clen || m.raw_len != rlen || m.xxh3 != sum)
    {
        return Err(corrupt(
            path,
            format!("frame at {offset} disagrees with the footer"),
        ));
    }
    let mut compressed = vec![0u8; clen as usize];
    file.read_exact_at(&mut compressed, offset + FRAME_HEADER as u64)
        .map_err(io_err(path))?;
    if xxh3_64(&compressed) != sum {
        return Err(corrupt(
            path,
            format!("frame at {offset}: checksum mismatch"),
        ));
    }
    let raw = decompress(&compressed, rlen as usize)
        .map_err(|e| corrupt(path, format!("frame at {offset}: {e}")))?;
    Ok((raw, offset + FRAME_HEADER as u64 + u64::from(clen)))
}

/// Decompresses a frame with the calling thread's zstd context: making one for each frame
/// (`zstd::bulk::decompress`) was 3 % of a request id's search, which reads a few frames in
/// each of hundreds of segments.
fn decompress(compressed: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    DECOMPRESSOR.with_borrow_mut(|d| {
        let d = match d {
            Some(d) => d,
            None => d.insert(zstd::bulk::Decompressor::new()?),
        };
        d.decompress(compressed, capacity)
    })
}

/// The records of a frame's bytes (one JSON line each) from the segment at `path`.
pub fn parse_records(path: &Path, raw: &[u8]) -> Result<Vec<StoredRecord>, SegmentError> {
    raw.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| parse_record(path, l))
        .collect()
}

/// One line of a frame of the segment at `path`.
pub fn parse_record(path: &Path, line: &[u8]) -> Result<StoredRecord, SegmentError> {
    super::record_line::read(line).map_err(|e| corrupt(path, e.to_string()))
}

/// What [`salvage`] recovered from a segment whose footer is unusable.
#[derive(Debug, Default)]
pub struct Salvaged {
    pub records: Vec<StoredRecord>,
    /// Frames whose checksum failed, and whether the walk stopped early.
    pub bad_frames: u64,
    pub stopped_early: bool,
    /// Bytes after the last frame walked (a footer, a torn frame or damage).
    pub unwalked_bytes: u64,
}

/// Walks the frames of a damaged segment from its start, keeping every frame that checks out.
/// A frame whose header is intact but whose data is damaged is skipped; a damaged header ends
/// the walk.
pub fn salvage(path: &Path) -> Result<Salvaged, SegmentError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut out = Salvaged::default();
    let mut offset = 0;
    while offset + FRAME_HEADER as u64 <= len {
        let mut header = [0u8; FRAME_HEADER];
        if file.read_exact_at(&mut header, offset).is_err() || &header[..4] != FRAME_MAGIC {
            break;
        }
        let clen = u64::from(u32::from_le_bytes(header[4..8].try_into().expect("4")));
        let next = offset + FRAME_HEADER as u64 + clen;
        if next > len {
            out.bad_frames += 1;
            break;
        }
        match read_frame(&file, path, offset, None).and_then(|(raw, _)| parse_records(path, &raw)) {
            Ok(records) => out.records.extend(records),
            Err(_) => out.bad_frames += 1,
        }
        offset = next;
    }
    // The walk ended where the footer begins, or at damage.
    out.stopped_early = !footer_spans(&file, offset, len);
    out.unwalked_bytes = len.saturating_sub(offset);
    Ok(out)
}

/// Whether the bytes from `offset` to `len` are exactly a footer.
fn footer_spans(file: &File, offset: u64, len: u64) -> bool {
    let mut trailer = [0u8; FOOTER_TRAILER];
    len >= offset + FOOTER_TRAILER as u64
        && file
            .read_exact_at(&mut trailer, len - FOOTER_TRAILER as u64)
            .is_ok()
        && &trailer[12..] == FOOTER_MAGIC
        && u64::from(u32::from_le_bytes(trailer[..4].try_into().expect("4")))
            + FOOTER_TRAILER as u64
            == len - offset
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use logq_schemas::Record;

    use super::*;

    pub(crate) fn record(id: u64, message: &str) -> StoredRecord {
        let t: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        StoredRecord {
            id,
            record: Record {
                time: t + jiff::SignedDuration::from_secs(id as i64),
                received: t,
                app: "web".into(),
                host: "h".into(),
                stream: "stdout".into(),
                level: None,
                format: "plain".into(),
                message: message.into(),
                fields: BTreeMap::new(),
            },
        }
    }

    fn write(path: &Path, n: u64) -> Footer {
        let mut w = SegmentWriter::create(path, "web", 4096, 3).expect("create");
        for id in 0..n {
            w.push(&record(id, &format!("line {id} connect ECONNREFUSED")))
                .expect("push");
        }
        w.finish().expect("finish").0
    }

    #[test]
    fn frames_roundtrip_through_the_footer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.seg");
        let footer = write(&path, 1000);
        assert!(footer.frames.len() > 5, "{} frames", footer.frames.len());
        assert_eq!(
            (footer.records, footer.first_id, footer.last_id),
            (1000, 0, 999)
        );
        let seg = SegmentFile::open(&path).expect("open");
        assert_eq!(seg.footer, footer);
        let mut ids = Vec::new();
        for i in 0..footer.frames.len() {
            ids.extend(seg.frame(i).expect("frame").into_iter().map(|r| r.id));
        }
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn damage_is_detected_and_salvage_keeps_the_intact_frames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.seg");
        let footer = write(&path, 1000);
        let mut bytes = std::fs::read(&path).expect("read");
        // Flip a byte inside frame 2's data, and one in the footer.
        let at = footer.frames[2].offset as usize + FRAME_HEADER + 10;
        bytes[at] ^= 0x55;
        let last = bytes.len() - 30;
        bytes[last] ^= 0x55;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(
            SegmentFile::open(&path),
            Err(SegmentError::Corrupt { .. })
        ));
        let s = salvage(&path).expect("salvage");
        assert_eq!(s.bad_frames, 1);
        assert!(!s.stopped_early);
        assert_eq!(
            s.records.len() as u32 + footer.frames[2].records,
            1000,
            "only the damaged frame is lost"
        );
        // Truncated mid-frame: the frames before the cut survive.
        let cut = footer.frames[4].offset as usize + 7;
        std::fs::write(&path, &bytes[..cut]).expect("truncate");
        let s = salvage(&path).expect("salvage");
        let before: u32 = footer.frames[..4].iter().map(|f| f.records).sum();
        assert_eq!(s.records.len() as u32, before - footer.frames[2].records);
        assert!(s.stopped_early);
    }

    /// Where the committed fixture of format `version` is.
    fn fixture_path(version: u32) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/data/segments/v{version}.seg"))
    }

    /// The records of the committed fixture of format `version`.
    fn fixture_records(version: u32) -> Vec<StoredRecord> {
        (0..300)
            .map(|id| {
                let mut r = record(id, &format!("fixture line {id} GET /api/v1/items/{id} 200"));
                if version >= 2 {
                    // Values the message holds (written as references in v2) and one it lacks.
                    r.record.message.push_str(&format!(" {}", 10_000 + id));
                    let fields = &mut r.record.fields;
                    fields.insert(
                        "path".into(),
                        serde_json::json!(format!("/api/v1/items/{id}")),
                    );
                    fields.insert("status".into(), serde_json::json!(200));
                    fields.insert("bytes".into(), serde_json::json!(10_000 + id));
                    fields.insert("upstream".into(), serde_json::json!("pool-b"));
                }
                if id % 50 == 0 {
                    r.record.level = Some(logq_schemas::Level::Error);
                    r.record
                        .fields
                        .insert("request_id".into(), serde_json::json!(format!("{id:08x}")));
                }
                r
            })
            .collect()
    }

    /// The committed fixture of `version` (tests/data/segments/v<version>.seg) reads, frame by
    /// frame and by salvage.
    fn fixture_reads(version: u32) {
        let path = fixture_path(version);
        let want = fixture_records(version);
        let seg = SegmentFile::open(&path).expect("the fixture opens");
        assert_eq!(seg.footer.version, version);
        assert_eq!((seg.footer.app.as_str(), seg.footer.records), ("web", 300));
        let mut got = Vec::new();
        for i in 0..seg.footer.frames.len() {
            got.extend(seg.frame(i).expect("frame"));
        }
        assert_eq!(got, want);
        assert_eq!(salvage(&path).expect("salvage").records, want);
    }

    /// The v1 fixture, written by the v1 code, still reads.
    #[test]
    fn the_committed_v1_fixture_still_reads() {
        fixture_reads(1);
    }

    /// The fixture of the format this code writes reads. `LOGQ_BLESS=1` writes it (only when
    /// the format version changes on purpose; keep the old fixtures and their tests).
    #[test]
    fn the_committed_v2_fixture_still_reads() {
        if std::env::var_os("LOGQ_BLESS").is_some() {
            let path = fixture_path(VERSION);
            let _ = std::fs::remove_file(&path);
            let mut w = SegmentWriter::create(&path, "web", 4096, 3).expect("create");
            for r in &fixture_records(VERSION) {
                w.push(r).expect("push");
            }
            w.finish().expect("finish");
        }
        fixture_reads(2);
        let first = SegmentFile::open(&fixture_path(2))
            .expect("open")
            .frame_bytes(0)
            .expect("frame");
        let line = first.split(|b| *b == b'\n').next().expect("a line");
        let v: serde_json::Value = serde_json::from_slice(line).expect("json");
        assert_eq!(
            (&v["refs"], &v["vrefs"]),
            (
                &serde_json::json!({"path": [19, 34]}),
                &serde_json::json!({"bytes": [39, 44]})
            ),
            "v2 lines refer to the message: {v}"
        );
    }
}
