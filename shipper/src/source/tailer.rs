//! Tailing the files matched by paths and globs through rotation, truncation and restarts.
//!
//! One thread follows every file of a `tail` job. A file is known by its content fingerprint
//! (see [`fingerprint`](super::fingerprint)) and followed through its open descriptor, so:
//! - rename + create (logrotate `create`, supervisord): the renamed file is read to its end on
//!   the descriptor held; the new file at the path is a new stream read from its start;
//! - a symlink whose target is swapped, and delete + recreate (even on a reused inode): the
//!   same, since the path now leads to another file;
//! - copytruncate (logrotate `copytruncate`, pm2-logrotate): the head check after every read
//!   sees that the file no longer starts with its first line; the rest of the old stream is
//!   read from the rotated copy beside it (same fingerprint), and the file's new content is a
//!   new stream (NUL bytes left at its head are skipped);
//! - a restart: streams of the checkpoint that are no longer at a matched path are looked for
//!   among the files beside their old path, and read to their end from the collector's
//!   position.
//!
//! A file no longer reachable through a pattern is let go once it was read to its end, every
//! line of it was acknowledged, and it stayed unchanged for `rotate_wait`.
//!
//! notify wakes the thread promptly; a periodic scan of the patterns and a stat of every open
//! file are the source of truth, since notify misses events on some filesystems and under load.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use logq_schemas::{Line, StreamInfo};
use tokio::sync::mpsc;

use super::fingerprint::{self, Head, Probe};
use super::shape::Shaper;
use super::target::{Target, Targets};
use super::{InFlight, Placement, SeekHandle, SourceEvent};
use crate::lines::LineSplitter;

const READ_CHUNK: usize = 64 * 1024;
/// Line bytes sent to the core and not yet taken in (a piece of a longer line limit goes
/// alone): what reading ahead of the core may hold, whatever the lines' lengths.
const IN_FLIGHT_BYTES: usize = 1024 * 1024;
/// Longest wait for a wake-up before files are stat'ed anyway.
const POLL: Duration = Duration::from_millis(100);
/// Suffixes of compressed rotated files, never tailed.
const COMPRESSED: &[&str] = &[".gz", ".zst", ".xz", ".bz2", ".lz4", ".zip", ".br", ".Z"];
const WARN_EVERY: Duration = Duration::from_secs(10);
/// No growth for this long counts as a quiet moment for `max_source_bytes`.
const QUIET: Duration = Duration::from_millis(250);

/// What a tail job follows and how.
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// What to follow; may change while the tailer runs.
    pub targets: Targets,
    /// Longer lines are split into marked pieces.
    pub max_line_bytes: usize,
    /// A partial last line is shipped (marked `split`) after waiting this long for its newline.
    pub partial_flush: Duration,
    /// An unreachable file read to its end is kept this long for late writes.
    pub rotate_wait: Duration,
    /// Truncate a matched file in place once it is over this size and fully acknowledged.
    pub max_source_bytes: Option<u64>,
    /// How often the patterns are expanded again without a notify event.
    pub scan_interval: Duration,
}

/// Counters of what the tailer did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TailStats {
    /// Pieces cut off over-long lines.
    pub split_pieces: u64,
    /// Truncations followed by reading the rest from a rotated copy.
    pub truncations_with_copy: u64,
    /// Truncations with no rotated copy found: lines written after the last read are lost.
    pub truncations_without_copy: u64,
    /// Files this shipper truncated itself (`max_source_bytes`).
    pub source_truncations: u64,
}

/// The channel to the core is closed, or the core stopped the job.
#[derive(Debug)]
pub struct Closed;

type Key = (u64, u64);

/// A file without a fingerprint yet (empty, or no full first line).
#[derive(Debug)]
struct Pending {
    file: File,
    key: Key,
    path: PathBuf,
    target: Arc<Target>,
    nuls_until: u64,
    reachable: bool,
    since: Instant,
}

#[derive(Debug)]
struct Reading {
    generation: u64,
    splitter: LineSplitter,
    shaper: Shaper,
    last_data: Instant,
}

/// A file registered as a stream.
#[derive(Debug)]
struct Tracked {
    id: String,
    path: PathBuf,
    /// The target the file was found under: its app, stream name and shape, for its life.
    target: Arc<Target>,
    /// None once the file was truncated with no copy to finish from.
    file: Option<File>,
    key: Option<Key>,
    head: Head,
    seek: SeekHandle,
    reading: Option<Reading>,
    reachable: bool,
    last_change: Instant,
}

impl Tracked {
    /// Takes the descriptor away from the stream: its inode now holds other content, to be
    /// fingerprinted afresh as a pending file at the same path.
    fn detach(&mut self) -> Option<Pending> {
        let (file, key) = (self.file.take()?, self.key.take()?);
        Some(Pending {
            file,
            key,
            path: self.path.clone(),
            target: self.target.clone(),
            nuls_until: 0,
            reachable: true,
            since: Instant::now(),
        })
    }
}

/// The tail job's state; [`Tailer::run`] drives it on a thread, tests call [`Tailer::step`].
#[derive(Debug)]
pub struct Tailer {
    config: TailConfig,
    /// The targets in use and their version.
    targets: (u64, Arc<Vec<Target>>),
    /// The zone of time stamps written without one.
    tz: TimeZone,
    tx: mpsc::Sender<SourceEvent>,
    files: Vec<Tracked>,
    pending: Vec<Pending>,
    /// Streams of the checkpoint (id, last path) to look for after the first scan.
    resume: Vec<(String, PathBuf)>,
    last_scan: Option<Instant>,
    warned: HashMap<PathBuf, Instant>,
    buf: Vec<u8>,
    /// Line bytes sent to the core and not yet taken in.
    in_flight: InFlight,
    pub stats: TailStats,
}

impl Tailer {
    /// A tailer that will look for `resume` streams (from the checkpoint) beside their paths.
    pub fn new(
        config: TailConfig,
        resume: Vec<(String, PathBuf)>,
        tx: mpsc::Sender<SourceEvent>,
    ) -> Tailer {
        Tailer {
            targets: config.targets.get(),
            config,
            tz: TimeZone::system(),
            tx,
            files: Vec::new(),
            pending: Vec::new(),
            resume,
            last_scan: None,
            warned: HashMap::new(),
            buf: vec![0u8; READ_CHUNK],
            in_flight: InFlight::new(IN_FLIGHT_BYTES),
            stats: TailStats::default(),
        }
    }

    /// Follows the files until the core stops the job or goes away. Runs on its own thread.
    pub fn run(mut self) {
        let (wake_tx, wake_rx) = std_mpsc::channel();
        let mut watching = (self.targets.0, watch(&self.targets.1, wake_tx.clone()));
        let mut structural = true;
        loop {
            if watching.0 != self.targets.0 {
                watching = (self.targets.0, watch(&self.targets.1, wake_tx.clone()));
            }
            match self.step(structural) {
                Err(Closed) => return,
                Ok(true) => {
                    structural = drain(&wake_rx);
                }
                Ok(false) => {
                    structural = match wake_rx.recv_timeout(POLL) {
                        Ok(s) => s | drain(&wake_rx),
                        Err(_) => false,
                    };
                }
            }
        }
    }

    /// One round: scan the patterns when due (or `rescan`), read what every file has, let
    /// finished files go. Returns whether a file had more to read than one chunk.
    pub fn step(&mut self, mut rescan: bool) -> Result<bool, Closed> {
        let (version, targets) = self.config.targets.get();
        if version != self.targets.0 {
            self.targets = (version, targets);
            rescan = true;
        }
        if rescan
            || self
                .last_scan
                .is_none_or(|t| t.elapsed() >= self.config.scan_interval)
        {
            self.scan()?;
        }
        let mut more = false;
        let mut i = 0;
        while i < self.files.len() {
            more |= self.read(i)?;
            i += 1;
        }
        self.release_finished()?;
        Ok(more)
    }

    /// Expands the patterns; notes which files are reachable; opens new ones; registers
    /// files whose fingerprint is ready.
    fn scan(&mut self) -> Result<(), Closed> {
        let first = self.last_scan.is_none();
        self.last_scan = Some(Instant::now());
        let seen = self.expand();
        for t in &mut self.files {
            let was = t.reachable;
            t.reachable = false;
            if let Some((path, _)) = t.key.and_then(|k| seen.get(&k)) {
                t.reachable = true;
                t.path.clone_from(path);
            }
            if was && !t.reachable {
                // Rotated away just now: the writer may still append before it reopens, so
                // the wait runs from here, not from the file's last write.
                t.last_change = Instant::now();
            }
        }
        for p in &mut self.pending {
            p.reachable = seen.contains_key(&p.key);
        }
        let known: HashSet<Key> = self
            .files
            .iter()
            .filter_map(|t| t.key)
            .chain(self.pending.iter().map(|p| p.key))
            .collect();
        let mut new: Vec<(&Key, &(PathBuf, Arc<Target>))> =
            seen.iter().filter(|(k, _)| !known.contains(k)).collect();
        new.sort_by(|a, b| a.1.0.cmp(&b.1.0));
        for (key, (path, target)) in new {
            match File::open(path) {
                Ok(file) => self.pending.push(Pending {
                    file,
                    key: *key,
                    path: path.clone(),
                    target: target.clone(),
                    nuls_until: 0,
                    reachable: true,
                    since: Instant::now(),
                }),
                Err(e) => self.warn(path, &format!("cannot open: {e}")),
            }
        }
        self.promote()?;
        if first {
            self.resume_rotated()?;
        }
        Ok(())
    }

    /// The files the patterns match now, by (device, inode), first path wins.
    fn expand(&mut self) -> HashMap<Key, (PathBuf, Arc<Target>)> {
        let mut seen = HashMap::new();
        let mut paths = Vec::new();
        let targets = self.targets.1.clone();
        for target in targets.iter() {
            let pattern = &target.pattern;
            let target = Arc::new(target.clone());
            if pattern.contains(['*', '?', '[']) {
                match glob::glob(pattern) {
                    Ok(found) => {
                        paths.extend(found.filter_map(Result::ok).map(|p| (p, target.clone())));
                    }
                    Err(e) => tracing::error!(%pattern, error = %e, "invalid glob"),
                }
            } else {
                paths.push((PathBuf::from(pattern), target));
            }
        }
        for (path, target) in paths {
            let name = path.to_string_lossy();
            if COMPRESSED.iter().any(|s| name.ends_with(s)) {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    seen.entry((m.dev(), m.ino())).or_insert((path, target));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => self.warn(&path, &format!("cannot stat: {e}")),
            }
        }
        seen
    }

    /// Registers pending files whose fingerprint is ready; drops unreachable ones that never
    /// got one.
    fn promote(&mut self) -> Result<(), Closed> {
        let tracked: HashSet<Key> = self.files.iter().filter_map(|t| t.key).collect();
        self.pending.retain(|p| !tracked.contains(&p.key));
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            let head = match fingerprint::probe(&p.file, p.nuls_until) {
                Ok(Probe::Found(head)) => head,
                Ok(Probe::NotYet { nuls_until }) => {
                    p.nuls_until = nuls_until;
                    if !p.reachable && p.since.elapsed() >= self.config.rotate_wait {
                        self.pending.swap_remove(i);
                    } else {
                        i += 1;
                    }
                    continue;
                }
                Err(e) => {
                    let path = p.path.clone();
                    self.warn(&path, &format!("cannot read: {e}"));
                    i += 1;
                    continue;
                }
            };
            let mut id = head.id();
            if let Some(twin) = self.files.iter().find(|t| t.id == id) {
                if twin.file.is_some() && twin.reachable {
                    // A copy of a live file (copytruncate's copy, before the truncation):
                    // the live file is the stream; wait and see.
                    i += 1;
                    continue;
                }
                // A new file that starts with the same line as one still draining.
                id = format!("{id}-{:x}-{:x}", p.key.0, p.key.1);
                if self.files.iter().any(|t| t.id == id) {
                    i += 1;
                    continue;
                }
            }
            let p = self.pending.swap_remove(i);
            let home = p.path.clone();
            let file = (p.path, Some(p.file), Some(p.key));
            self.register(id, &home, file, head, p.reachable, p.target)?;
        }
        Ok(())
    }

    /// Registers a stream read from `path`, found through `home` (the matched path the
    /// checkpoint keeps, so that after a restart it is looked for there, and beside it, under
    /// the target of that path).
    fn register(
        &mut self,
        id: String,
        home: &Path,
        (path, file, key): (PathBuf, Option<File>, Option<Key>),
        head: Head,
        reachable: bool,
        target: Arc<Target>,
    ) -> Result<(), Closed> {
        let seek = SeekHandle::for_file(home.display().to_string());
        let info = StreamInfo {
            id: id.clone(),
            app: target.app.clone(),
            stream: target
                .stream
                .clone()
                .unwrap_or_else(|| path.display().to_string()),
            format: target.format.clone(),
            fields: target.fields.clone(),
        };
        self.send(SourceEvent::Register {
            info,
            seek: seek.clone(),
        })?;
        self.files.push(Tracked {
            id,
            path,
            target,
            file,
            key,
            head,
            seek,
            reading: None,
            reachable,
            last_change: Instant::now(),
        });
        Ok(())
    }

    /// After the first scan: checkpoint streams that no longer sit at a matched path were
    /// rotated while the shipper was down; finish them from the file beside their old path
    /// that has their fingerprint. Those not found are forgotten.
    fn resume_rotated(&mut self) -> Result<(), Closed> {
        for (id, path) in std::mem::take(&mut self.resume) {
            if self.files.iter().any(|t| t.id == id) {
                continue;
            }
            let fp = id
                .strip_prefix("file:")
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            let exclude: HashSet<Key> = self.files.iter().filter_map(|t| t.key).collect();
            let target = self.targets.1.iter().find(|t| t.matches(&path)).cloned();
            match (
                target,
                fp.and_then(|fp| find_by_fingerprint(&path, fp, &exclude)),
            ) {
                (Some(target), Some((file, key, found, head, _))) => {
                    tracing::info!(stream = %id, path = %found.display(), was = %path.display(), "finishing a file rotated while the shipper was down");
                    let file = (found, Some(file), Some(key));
                    self.register(id, &path, file, head, false, Arc::new(target))?;
                }
                _ => self.send(SourceEvent::Release { stream: id })?,
            }
        }
        Ok(())
    }

    /// Reads what file `i` has; returns whether it had more than one chunk.
    fn read(&mut self, i: usize) -> Result<bool, Closed> {
        let t = &mut self.files[i];
        match t.seek.get() {
            Placement::Stop => return Err(Closed),
            Placement::Paused => {
                t.reading = None;
                return Ok(false);
            }
            Placement::At {
                generation,
                position,
            } => {
                if t.reading
                    .as_ref()
                    .is_none_or(|r| r.generation != generation)
                {
                    t.reading = Some(Reading {
                        generation,
                        splitter: LineSplitter::new(
                            position.max(t.head.skip),
                            self.config.max_line_bytes,
                        ),
                        shaper: Shaper::new(t.target.shape, self.tz.clone()),
                        last_data: Instant::now(),
                    });
                }
            }
        }
        let (Some(file), Some(reading)) = (&t.file, &mut t.reading) else {
            return Ok(false);
        };
        let position = reading.splitter.position();
        let n = match file.read_at(&mut self.buf, position) {
            Ok(n) => n,
            Err(e) => {
                let path = t.path.clone();
                self.warn(&path, &format!("read failed: {e}"));
                return Ok(false);
            }
        };
        if n == 0 {
            return self.at_end(i, position);
        }
        if !fingerprint::still_has(file, &t.head).unwrap_or(false) {
            self.truncated(i);
            return Ok(true);
        }
        let mut lines = Vec::new();
        let before = reading.splitter.split_pieces;
        reading.splitter.push(&self.buf[..n], &mut lines);
        reading.last_data = Instant::now();
        t.last_change = Instant::now();
        t.seek.set_end(position + n as u64);
        let split = reading.splitter.split_pieces - before;
        let lines = reading.shaper.shape(lines);
        let generation = reading.generation;
        let id = t.id.clone();
        if split > 0 {
            self.stats.split_pieces += split;
            let path = self.files[i].path.clone();
            let max = self.config.max_line_bytes;
            self.warn(&path, &format!("lines longer than {max} bytes were split into marked pieces ({} pieces so far in this job)", self.stats.split_pieces));
        }
        self.send_lines(id, generation, lines)?;
        Ok(n == self.buf.len())
    }

    /// File `i` has nothing past `position`: check for truncation, flush a partial line that
    /// waited too long, apply the size guard.
    fn at_end(&mut self, i: usize, position: u64) -> Result<bool, Closed> {
        let t = &mut self.files[i];
        let (Some(file), Some(reading)) = (&t.file, &mut t.reading) else {
            return Ok(false);
        };
        let size = match file.metadata() {
            Ok(m) => m.len(),
            Err(_) => return Ok(false),
        };
        // Shrunk, or rewritten to exactly the length read so far.
        if size < position || !fingerprint::still_has(file, &t.head).unwrap_or(true) {
            self.truncated(i);
            return Ok(true);
        }
        if (reading.splitter.pending_bytes() > 0 || reading.shaper.holds())
            && reading.last_data.elapsed() >= self.config.partial_flush
        {
            let mut lines = Vec::new();
            reading.splitter.flush_partial(&mut lines);
            let mut lines = reading.shaper.shape(lines);
            reading.shaper.flush(&mut lines);
            let (id, generation) = (t.id.clone(), reading.generation);
            self.send_lines(id, generation, lines)?;
            return Ok(false);
        }
        // The size guard truncates at a quiet moment, so a write cannot land between the
        // last size check and the truncation; a file that never quiets down is truncated
        // anyway at twice the limit (that race window is a few microseconds).
        if let Some(max) = self.config.max_source_bytes
            && t.reachable
            && size > max
            && reading.splitter.pending_bytes() == 0
            && t.seek.acked() >= size
            && (reading.last_data.elapsed() >= QUIET || size >= max.saturating_mul(2))
        {
            self.truncate_source(i, size, max);
        }
        Ok(false)
    }

    /// File `i` no longer starts with its first line, or shrank: it was truncated. When it
    /// sits at a matched path its descriptor now holds new content (a pending file); the
    /// stream goes on in the rotated copy beside it when there is one.
    fn truncated(&mut self, i: usize) {
        let exclude: HashSet<Key> = self.files.iter().filter_map(|t| t.key).collect();
        let t = &mut self.files[i];
        let position = t.reading.as_ref().map_or(0, |r| r.splitter.position());
        let content = t.detach();
        if t.reachable {
            self.pending.extend(content);
        }
        t.reachable = false;
        t.last_change = Instant::now();
        match find_by_fingerprint(&t.path, t.head.fp, &exclude) {
            Some((_, _, copy, _, len)) if len < position => {
                // The copy was taken before lines this tailer had already read: nothing in
                // it is new (the lines between its end and the truncation were shipped).
                tracing::debug!(path = %t.path.display(), copy = %copy.display(), position, "truncated; the rotated copy holds nothing unread");
            }
            Some((file, key, copy, _, _)) => {
                tracing::info!(path = %t.path.display(), copy = %copy.display(), position, "file was truncated (copytruncate); reading the rest of it from the rotated copy");
                t.file = Some(file);
                t.key = Some(key);
                t.path = copy;
                self.stats.truncations_with_copy += 1;
            }
            None => {
                tracing::warn!(path = %t.path.display(), position, "file was truncated and no rotated copy is beside it: lines written after the last read, if any, are lost");
                self.stats.truncations_without_copy += 1;
            }
        }
    }

    /// `--max-source-bytes`: everything up to `size` was read and acknowledged; truncate the
    /// file in place (unless it grew meanwhile) and follow its new content as a new stream.
    fn truncate_source(&mut self, i: usize, size: u64, max: u64) {
        let t = &mut self.files[i];
        let result = std::fs::OpenOptions::new()
            .write(true)
            .open(&t.path)
            .and_then(|w| {
                let m = w.metadata()?;
                if Some((m.dev(), m.ino())) != t.key || m.len() != size {
                    return Ok(false);
                }
                w.set_len(0)?;
                Ok(true)
            });
        match result {
            Ok(true) => {
                tracing::info!(path = %t.path.display(), bytes = size, max, "file grew over --max-source-bytes and every line was acknowledged; truncated it to 0");
                self.stats.source_truncations += 1;
                let content = t.detach();
                self.pending.extend(content);
                t.reachable = false;
                t.last_change = Instant::now() - self.config.rotate_wait;
            }
            Ok(false) => {}
            Err(e) => {
                let path = t.path.clone();
                self.warn(&path, &format!("cannot truncate (--max-source-bytes): {e}"));
            }
        }
    }

    /// Lets go of unreachable files that were read to their end and fully acknowledged and
    /// stayed unchanged for `rotate_wait`.
    fn release_finished(&mut self) -> Result<(), Closed> {
        let mut i = 0;
        while i < self.files.len() {
            let t = &self.files[i];
            let done = !t.reachable
                && t.last_change.elapsed() >= self.config.rotate_wait
                && t.reading.as_ref().is_some_and(|r| {
                    let position = r.splitter.position();
                    let at_end = t
                        .file
                        .as_ref()
                        .is_none_or(|f| f.metadata().is_ok_and(|m| m.len() <= position));
                    at_end
                        && r.splitter.pending_bytes() == 0
                        && !r.shaper.holds()
                        && t.seek.acked() >= position
                });
            if done {
                let t = self.files.swap_remove(i);
                tracing::debug!(stream = %t.id, path = %t.path.display(), "let go of a rotated file read to its end");
                self.send(SourceEvent::Release { stream: t.id })?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn send_lines(
        &mut self,
        stream: String,
        generation: u64,
        mut lines: Vec<Line>,
    ) -> Result<(), Closed> {
        // A hole (NUL bytes) inside a file is not text: drop it from the lines it touches.
        for line in &mut lines {
            if line.text.starts_with('\0') {
                line.text = line.text.trim_start_matches('\0').to_owned();
            }
        }
        lines.retain(|l| !l.text.is_empty() || l.split);
        if lines.is_empty() {
            return Ok(());
        }
        let held = self.in_flight.take(&lines);
        self.send(SourceEvent::Lines {
            stream,
            generation,
            lines,
            held,
        })
    }

    fn send(&self, event: SourceEvent) -> Result<(), Closed> {
        self.tx.blocking_send(event).map_err(|_| Closed)
    }

    /// Logs a problem with a path, at most once per `WARN_EVERY`.
    fn warn(&mut self, path: &Path, message: &str) {
        let now = Instant::now();
        if self
            .warned
            .get(path)
            .is_none_or(|t| now.duration_since(*t) >= WARN_EVERY)
        {
            tracing::warn!(path = %path.display(), "{message}");
            self.warned.insert(path.to_owned(), now);
        }
    }

    /// Streams currently followed (for tests).
    pub fn stream_ids(&self) -> Vec<String> {
        self.files.iter().map(|t| t.id.clone()).collect()
    }
}

/// Looks in `near`'s directory for an uncompressed regular file (other than those in
/// `exclude`) whose fingerprint is `fp`; the largest wins. Returns it with its length.
fn find_by_fingerprint(
    near: &Path,
    fp: u64,
    exclude: &HashSet<Key>,
) -> Option<(File, Key, PathBuf, Head, u64)> {
    let dir = near.parent().filter(|d| !d.as_os_str().is_empty())?;
    let mut best: Option<(File, Key, PathBuf, Head, u64)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let name = path.to_string_lossy();
        if COMPRESSED.iter().any(|s| name.ends_with(s)) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let Ok(m) = file.metadata() else { continue };
        let key = (m.dev(), m.ino());
        if !m.is_file() || exclude.contains(&key) {
            continue;
        }
        if let Ok(Probe::Found(head)) = fingerprint::probe(&file, 0)
            && head.fp == fp
            && best.as_ref().is_none_or(|b| b.4 < m.len())
        {
            best = Some((file, key, path, head, m.len()));
        }
    }
    best
}

/// Watches the directories the patterns live in; each event sends whether it may change
/// which files match (create, remove, rename). None when notify is unavailable (polling
/// still works).
fn watch(targets: &[Target], tx: std_mpsc::Sender<bool>) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let structural = match res {
            Ok(ev) => match ev.kind {
                EventKind::Access(_) => return,
                EventKind::Modify(notify::event::ModifyKind::Data(_)) => false,
                _ => true,
            },
            Err(_) => true,
        };
        let _ = tx.send(structural);
    })
    .map_err(|e| tracing::warn!(error = %e, "file notifications unavailable; polling only"))
    .ok()?;
    for target in targets {
        let (base, recursive) = watch_root(&target.pattern);
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if let Err(e) = watcher.watch(&base, mode) {
            tracing::debug!(dir = %base.display(), error = %e, "cannot watch; polling it");
        }
    }
    Some(watcher)
}

/// The directory to watch for a pattern (its longest literal prefix) and whether the
/// pattern reaches below it.
fn watch_root(pattern: &str) -> (PathBuf, bool) {
    let path = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut components = path.components().peekable();
    while let Some(c) = components.next() {
        let s = c.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) || components.peek().is_none() {
            let rest = 1 + components.count();
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            return (base, rest > 1 || s.contains("**"));
        }
        base.push(c);
    }
    (PathBuf::from("."), false)
}

fn drain(rx: &std_mpsc::Receiver<bool>) -> bool {
    let mut structural = false;
    while let Ok(s) = rx.try_recv() {
        structural |= s;
    }
    structural
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Placement, SourceEvent};

    #[test]
    fn watch_roots() {
        assert_eq!(
            watch_root("/var/log/app.log"),
            (PathBuf::from("/var/log"), false)
        );
        assert_eq!(
            watch_root("/var/log/*.log"),
            (PathBuf::from("/var/log"), false)
        );
        assert_eq!(
            watch_root("/srv/**/log/*.log"),
            (PathBuf::from("/srv"), true)
        );
        assert_eq!(watch_root("/srv/*/x.log"), (PathBuf::from("/srv"), true));
        assert_eq!(watch_root("app.log"), (PathBuf::from("."), false));
    }

    /// Regression (found by the symlink e2e test under load): a file idle for longer than
    /// `rotate_wait` was let go the moment it was rotated away, losing what the writer still
    /// appended before reopening. The wait now runs from the rotation.
    #[test]
    fn a_long_idle_file_rotated_away_still_gets_its_late_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "first line\n").expect("write");
        let (tx, mut rx) = mpsc::channel(64);
        let mut tailer = Tailer::new(
            TailConfig {
                targets: Targets::fixed(vec![Target::tail(&log.display().to_string(), "a", None)]),
                max_line_bytes: 1024,
                partial_flush: Duration::from_secs(60),
                rotate_wait: Duration::from_millis(300),
                max_source_bytes: None,
                scan_interval: Duration::ZERO,
            },
            Vec::new(),
            tx,
        );
        tailer.step(true).expect("step");
        let Ok(SourceEvent::Register { seek, .. }) = rx.try_recv() else {
            panic!("registered")
        };
        seek.set(Placement::At {
            generation: 1,
            position: 0,
        });
        tailer.step(true).expect("step");
        let mut texts = Vec::new();
        let drain = |rx: &mut mpsc::Receiver<SourceEvent>, texts: &mut Vec<String>| {
            while let Ok(ev) = rx.try_recv() {
                if let SourceEvent::Lines { lines, .. } = ev {
                    texts.extend(lines.into_iter().map(|l| l.text));
                }
            }
        };
        drain(&mut rx, &mut texts);
        seek.set_acked(11);
        std::thread::sleep(Duration::from_millis(400));
        std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
        tailer.step(true).expect("step");
        let mut late = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("app.log.1"))
            .expect("open");
        std::io::Write::write_all(&mut late, b"late line\n").expect("append");
        tailer.step(true).expect("step");
        drain(&mut rx, &mut texts);
        assert_eq!(texts, ["first line", "late line"]);
    }
}
