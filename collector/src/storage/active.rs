//! Active segments: each app's unsealed records, appended as they are indexed.
//!
//! An active segment is a segment file being written (`<app>/<seq:010>.active`): the same
//! zstd frames as a sealed segment, without the footer yet. The frame being filled lives in
//! memory (`tail`) and in the WAL; the WAL keeps every file holding a record of some tail
//! until that tail is written as a frame and synced (see [`ActiveSegment::tail_since`]).
//! Sealing writes the last frame and the footer and renames the file to `.seg`. A file left
//! `.active` by a crash is salvaged into a sealed segment at start; the WAL replays what its
//! torn end lost.

use std::fs::File;
use std::path::{Path, PathBuf};

use logq_schemas::StoredRecord;

use super::segment::{SegmentError, SegmentWriter, pick, read_frame_records};
use crate::config::StorageConfig;
use crate::wal::WalLocation;

/// One app's unsealed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotStats {
    pub records: u64,
    /// Raw bytes (records as JSON lines): what the segment size limit counts.
    pub bytes: u64,
    /// Oldest receive time, nanoseconds: what the segment age limit counts.
    pub oldest_received: i64,
    pub max_id: u64,
    /// Event time range, nanoseconds.
    pub min_time: i64,
    pub max_time: i64,
    /// Bytes of the active segment's file.
    pub file_bytes: u64,
}

impl Default for HotStats {
    fn default() -> HotStats {
        HotStats {
            records: 0,
            bytes: 0,
            oldest_received: i64::MAX,
            max_id: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            file_bytes: 0,
        }
    }
}

/// A snapshot of an active segment (see [`ActiveSegment::view`]).
#[derive(Debug)]
pub struct ActiveView {
    file: File,
    path: PathBuf,
    pub frames: Vec<super::segment::FrameMeta>,
    pub tail: Vec<StoredRecord>,
}

impl ActiveView {
    /// The records of written frame `i`.
    pub fn frame(&self, i: usize) -> Result<Vec<StoredRecord>, SegmentError> {
        read_frame_records(&self.file, &self.path, &self.frames[i])
    }

    /// The decompressed bytes of written frame `i`, a record per line.
    pub fn frame_bytes(&self, i: usize) -> Result<Vec<u8>, SegmentError> {
        super::segment::read_frame_bytes(&self.file, &self.path, &self.frames[i])
    }

    /// Where the segment is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One app's segment being written.
#[derive(Debug)]
pub struct ActiveSegment {
    pub seq: u64,
    path: PathBuf,
    writer: SegmentWriter,
    reader: File,
    /// The records of the frame being filled.
    tail: Vec<StoredRecord>,
    /// WAL location of the batch that brought the tail's first record.
    tail_since: Option<WalLocation>,
    synced_frames: usize,
    stats: HotStats,
}

impl ActiveSegment {
    /// Creates `dir/<seq:010>.active` for `app`.
    pub fn create(
        dir: &Path,
        app: &str,
        seq: u64,
        storage: &StorageConfig,
    ) -> Result<ActiveSegment, SegmentError> {
        let path = dir.join(format!("{seq:010}.active"));
        let writer =
            SegmentWriter::create(&path, app, storage.frame_bytes as usize, storage.zstd_level)?;
        let reader = File::open(&path).map_err(|source| SegmentError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(ActiveSegment {
            seq,
            path,
            writer,
            reader,
            tail: Vec::new(),
            tail_since: None,
            synced_frames: 0,
            stats: HotStats::default(),
        })
    }

    pub fn stats(&self) -> HotStats {
        HotStats {
            bytes: self.writer.raw_bytes(),
            file_bytes: self.writer.file_bytes(),
            ..self.stats
        }
    }

    /// Appends a record (ids ascending) that came in the WAL batch ending at `at`. An error
    /// means the frame it filled could not be written: the record is kept all the same (in
    /// the tail, so the WAL keeps it too) and the frame is written at the next push or flush.
    pub fn push(&mut self, record: StoredRecord, at: WalLocation) -> Result<(), SegmentError> {
        let frames = self.writer.frames().len();
        let pushed = self.writer.push(&record);
        let s = &mut self.stats;
        let t = crate::index::nanos(record.record.time);
        s.records += 1;
        s.max_id = s.max_id.max(record.id);
        s.min_time = s.min_time.min(t);
        s.max_time = s.max_time.max(t);
        s.oldest_received = s
            .oldest_received
            .min(crate::index::nanos(record.record.received));
        if self.writer.frames().len() > frames {
            self.tail.clear();
            self.tail_since = None;
        } else {
            // Records may come out of WAL order (an event waits for its last line).
            self.tail_since = Some(self.tail_since.map_or(at, |t| t.min(at)));
            self.tail.push(record);
        }
        pushed.map(|_| ())
    }

    /// Where the WAL must keep what the tail holds; `None` when the tail is empty.
    pub fn tail_since(&self) -> Option<WalLocation> {
        self.tail_since
    }

    /// Writes the tail as a frame now, however small.
    pub fn flush_tail(&mut self) -> Result<(), SegmentError> {
        self.writer.flush()?;
        self.tail.clear();
        self.tail_since = None;
        Ok(())
    }

    /// Makes the written frames durable.
    pub fn sync(&mut self) -> Result<(), SegmentError> {
        let n = self.writer.frames().len();
        if n > self.synced_frames {
            self.writer.sync()?;
            self.synced_frames = n;
        }
        Ok(())
    }

    /// Bytes of the file so far.
    pub fn file_bytes(&self) -> u64 {
        self.writer.file_bytes()
    }

    /// The records with these ids (ascending) that this segment holds.
    pub fn get(&self, ids: &[u64]) -> Result<Vec<StoredRecord>, SegmentError> {
        let frames = self.writer.frames();
        let (mut found, rest) = pick(frames, ids, |i| {
            read_frame_records(&self.reader, &self.path, &frames[i])
        })?;
        found.extend(
            rest.iter()
                .filter_map(|id| self.tail.binary_search_by_key(id, |r| r.id).ok())
                .map(|k| self.tail[k].clone()),
        );
        Ok(found)
    }

    /// Appends to `out` the records with ids in `[from, below)`, ascending.
    pub fn records_in(
        &self,
        from: u64,
        below: u64,
        out: &mut Vec<StoredRecord>,
    ) -> Result<(), SegmentError> {
        let wanted = |id: u64| id >= from && id < below;
        for f in self.writer.frames() {
            if f.last_id >= from && f.first_id < below {
                let records = read_frame_records(&self.reader, &self.path, f)?;
                out.extend(records.into_iter().filter(|r| wanted(r.id)));
            }
        }
        out.extend(self.tail.iter().filter(|r| wanted(r.id)).cloned());
        Ok(())
    }

    /// What the segment holds now, readable without holding the segment: its written frames
    /// (through a handle of its own, which stays valid if the segment is sealed and renamed) and
    /// a copy of the tail.
    pub fn view(&self) -> Result<ActiveView, SegmentError> {
        Ok(ActiveView {
            file: self.reader.try_clone().map_err(|source| SegmentError::Io {
                path: self.path.display().to_string(),
                source,
            })?,
            path: self.path.clone(),
            frames: self.writer.frames().to_vec(),
            tail: self.tail.clone(),
        })
    }

    /// Writes the last frame and the footer and renames the file to `.seg`; returns its path.
    /// On failure the segment stays active and whole.
    pub fn finish(&mut self) -> Result<PathBuf, SegmentError> {
        self.writer.finish()?;
        let sealed = self.path.with_extension("seg");
        std::fs::rename(&self.path, &sealed).map_err(|source| SegmentError::Io {
            path: sealed.display().to_string(),
            source,
        })?;
        Ok(sealed)
    }
}
