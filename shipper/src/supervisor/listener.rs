//! The listener job: answers supervisord, spools each program output, and lets streams go.
//!
//! One thread reads envelopes from stdin ([`protocol`]); the job thread appends each log
//! event's bytes to its stream's spool (fsynced) and only then answers OK, so an acknowledged
//! event is on disk before supervisord forgets it. Spool readers (one thread per stream) ship
//! from there through the delivery core; nothing on this path ever waits for the collector.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use logq_schemas::{MAX_STREAM_FIELD_BYTES, StreamInfo, app_name_from};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use xxhash_rust::xxh3::xxh3_64;

use super::protocol::{self, Answer, Envelope, Event, Header, LogEvent, ReadError, parse_event};
use crate::source::spool::Spool;
use crate::source::{SeekHandle, SourceEvent};
use crate::state::Checkpoint;

/// How often streams are checked for closing and letting go when no event comes.
const HOUSEKEEPING_EVERY: Duration = Duration::from_millis(200);
/// A stream whose process is gone is closed once it got no event for this long (its last
/// output may still be queued in supervisord just after the process exited).
const IDLE_CLOSE: Duration = Duration::from_secs(10);
/// An envelope whose payload has not fully arrived after this long means the stream is out
/// of step (a `len` larger than the payload): supervisord waits for an answer we cannot give.
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// How many let-go streams are remembered (to go on at the right position should a late
/// event for one arrive).
const RETIRED_KEPT: usize = 1024;
/// Process names longer than this are cut (and told apart by a hash) in stream ids, which
/// the collector takes up to 512 bytes.
const MAX_NAME_IN_ID: usize = 200;
/// The longest pause before answering FAIL again after consecutive failed appends.
const FAIL_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How long the drain waits between looks at the acknowledged positions.
const DRAIN_POLL: Duration = Duration::from_millis(50);

const STREAM_FILE: &str = "stream";
const STREAM_HEADER: &str = "logq-supervisor-stream v1";
const INFLIGHT_FILE: &str = "inflight";
const INFLIGHT_HEADER: &str = "logq-supervisor-inflight v1";

/// How the listener runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Format hint for every stream.
    pub format: Option<String>,
    /// Spool cap per stream, in bytes.
    pub spool_max_bytes: u64,
    /// Longest line kept whole, in bytes.
    pub max_line_bytes: usize,
    /// After stdin ends or a stop, how long to wait for the collector's acks.
    pub drain_timeout: Duration,
}

/// Why the listener stopped with an error (supervisord restarts it; what it acknowledged is
/// in the spools).
#[derive(Debug, Error)]
pub enum ListenerError {
    #[error("the event stream from supervisord is broken: {0}")]
    Read(#[from] ReadError),
    #[error(
        "an event's payload is incomplete after {0:?} (its len is larger than what supervisord sent): the event stream is out of step"
    )]
    Stalled(Duration),
    #[error("cannot answer supervisord on stdout: {0}")]
    Answer(io::Error),
    #[error("cannot start the stdin reader: {0}")]
    Start(io::Error),
}

/// Which program output a stream holds; kept beside its spool as [`STREAM_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamKey {
    process: String,
    group: String,
    pid: u32,
    /// `stdout` or `stderr`.
    channel: String,
}

impl StreamKey {
    fn of(log: &LogEvent<'_>) -> StreamKey {
        StreamKey {
            process: log.process.to_owned(),
            group: log.group.to_owned(),
            pid: log.pid,
            channel: log.channel.as_str().to_owned(),
        }
    }

    /// `supervisor:<process>:<channel>:<pid>`.
    fn id(&self) -> String {
        let process = if self.process.len() <= MAX_NAME_IN_ID {
            self.process.clone()
        } else {
            let mut cut = MAX_NAME_IN_ID - 17;
            while !self.process.is_char_boundary(cut) {
                cut -= 1;
            }
            format!(
                "{}~{:016x}",
                &self.process[..cut],
                xxh3_64(self.process.as_bytes())
            )
        };
        format!("supervisor:{process}:{}:{}", self.channel, self.pid)
    }

    /// The spool directory's name: readable, and unique through the hash of the id.
    fn dir_name(&self) -> String {
        format!(
            "{}.{}.{}.{:016x}",
            app_name_from(&self.process),
            self.channel,
            self.pid,
            xxh3_64(self.id().as_bytes())
        )
    }

    fn info(&self, format: &Option<String>) -> StreamInfo {
        let fields = [
            ("group", bounded(&self.group)),
            ("pid", self.pid.to_string()),
            ("channel", self.channel.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        StreamInfo {
            id: self.id(),
            app: app_name_from(&self.process),
            stream: self.channel.clone(),
            format: format.clone(),
            fields,
        }
    }
}

/// `s` cut to a stream field's longest value.
fn bounded(s: &str) -> String {
    let mut cut = s.len().min(MAX_STREAM_FIELD_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_owned()
}

/// The log event being spooled, written (without fsync: it only has to outlive this
/// process, and supervisord re-sends an unanswered event only while it runs itself) before
/// its bytes go to the spool. When the listener is killed before it answered, supervisord
/// sends the event again to the next listener, which finds it here and spools only what is
/// not in the spool yet: an event is never spooled twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InFlight {
    server: String,
    pool: String,
    serial: String,
    poolserial: String,
    /// xxh3 of the payload (which names the process, its pid and holds the data).
    digest: u64,
    stream: String,
    /// Bytes of the event's data spooled before `start` (by an earlier listener).
    skip: u64,
    /// Spool position where the rest of the data goes.
    start: u64,
    /// Bytes of data from `start`.
    len: u64,
}

impl InFlight {
    fn is(&self, header: &Header, digest: u64, stream: &str) -> bool {
        self.server == header.server
            && self.pool == header.pool
            && self.serial == header.serial
            && self.poolserial == header.poolserial
            && self.digest == digest
            && self.stream == stream
    }
}

/// A header line `<magic> <body length> <xxh3 of body>`, then the JSON body: a torn or
/// foreign file reads as nothing.
fn encode_record<T: Serialize>(magic: &str, body: &T) -> Vec<u8> {
    let body = serde_json::to_vec(body).expect("records serialize");
    let mut out = format!("{magic} {} {:016x}\n", body.len(), xxh3_64(&body)).into_bytes();
    out.extend_from_slice(&body);
    out
}

fn decode_record<T: for<'de> Deserialize<'de>>(magic: &str, bytes: &[u8]) -> Option<T> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..nl]).ok()?;
    let mut words = header.strip_prefix(magic)?.split_whitespace();
    let len: usize = words.next()?.parse().ok()?;
    let sum = u64::from_str_radix(words.next()?, 16).ok()?;
    let body = bytes.get(nl + 1..nl + 1 + len)?;
    (xxh3_64(body) == sum)
        .then(|| serde_json::from_slice(body).ok())
        .flatten()
}

/// Writes `bytes` to `dir/name` atomically and durably: temp file, fsync, rename, fsync dir.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Whether process `pid` is gone (a process we may not signal still exists).
fn gone(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[derive(Debug)]
struct Stream {
    key: StreamKey,
    id: String,
    dir: PathBuf,
    spool: Arc<Spool>,
    seek: SeekHandle,
    /// No more output is expected (the process was replaced or is gone); the stream is let
    /// go once all of it is acknowledged.
    closed: bool,
    last_event: Instant,
}

/// The supervisord event listener.
#[derive(Debug)]
pub struct Listener {
    config: Config,
    /// `<job dir>/spool`, one directory per stream.
    root: PathBuf,
    inflight: File,
    /// The event the previous listener was spooling when it stopped, until the first log
    /// event of this run (supervisord sends an unanswered event again first).
    in_doubt: Option<InFlight>,
    streams: HashMap<String, Stream>,
    /// Streams let go in this run, with their end position.
    retired: VecDeque<(String, u64)>,
    /// Checkpoint positions at start (for a stream whose spool is new).
    bases: HashMap<String, u64>,
    tx: mpsc::Sender<SourceEvent>,
    /// Events for the core not yet taken (the job never waits for the core).
    outbox: VecDeque<SourceEvent>,
    /// Consecutive appends that failed.
    failures: u32,
    /// Events whose payload made no sense (answered OK, logged).
    unusable: u64,
    last_housekeeping: Instant,
}

impl Listener {
    /// Opens the job's spools: every stream an earlier run left is registered again and read
    /// on from where the collector stands; streams of processes that are gone are closed
    /// (so they are shipped to the end and let go).
    pub fn open(
        config: Config,
        job_dir: &Path,
        checkpoint: &Checkpoint,
        tx: mpsc::Sender<SourceEvent>,
    ) -> io::Result<Listener> {
        let root = job_dir.join("spool");
        if !root.is_dir() {
            std::fs::create_dir_all(&root)?;
            File::open(job_dir)?.sync_all()?;
        }
        let inflight_path = job_dir.join(INFLIGHT_FILE);
        let in_doubt = std::fs::read(&inflight_path)
            .ok()
            .and_then(|b| decode_record::<InFlight>(INFLIGHT_HEADER, &b));
        let inflight = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&inflight_path)?;
        let bases = checkpoint
            .streams
            .iter()
            .filter(|(id, _)| id.starts_with("supervisor:"))
            .map(|(id, c)| (id.clone(), c.position.max(c.reserved)))
            .collect();
        let mut listener = Listener {
            config,
            root,
            inflight,
            in_doubt,
            streams: HashMap::new(),
            retired: VecDeque::new(),
            bases,
            tx,
            outbox: VecDeque::new(),
            failures: 0,
            unusable: 0,
            last_housekeeping: Instant::now(),
        };
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&listener.root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let key = std::fs::read(dir.join(STREAM_FILE))
                .ok()
                .and_then(|b| decode_record::<StreamKey>(STREAM_HEADER, &b));
            let Some(key) = key else {
                tracing::warn!(dir = %dir.display(), "a spool directory without a readable stream file is left alone");
                continue;
            };
            let id = key.id();
            let base = listener.bases.get(&id).copied().unwrap_or(0);
            let in_doubt = listener.in_doubt.as_ref().is_some_and(|f| f.stream == id);
            let stream = listener.open_stream(key, dir, base)?;
            // The stream the previous listener was writing stays open until supervisord sent
            // that event again: closing it would end its last line in the middle.
            if !in_doubt && gone(stream.key.pid) {
                stream.spool.close();
                stream.closed = true;
            }
            tracing::info!(stream = %stream.id, closed = stream.closed, "resuming a spool an earlier run left");
        }
        // Streams let go by an earlier run that stopped before the checkpoint said so.
        let orphans: Vec<String> = listener
            .bases
            .keys()
            .filter(|id| !listener.streams.contains_key(*id))
            .cloned()
            .collect();
        for stream in orphans {
            listener.outbox.push_back(SourceEvent::Release { stream });
        }
        listener.send_outbox();
        Ok(listener)
    }

    /// Opens (creating) a stream's spool, registers it with the core and starts its reader.
    fn open_stream(&mut self, key: StreamKey, dir: PathBuf, base: u64) -> io::Result<&mut Stream> {
        let spool = Spool::open_continuing(&dir, self.config.spool_max_bytes, base, true)?;
        let info = key.info(&self.config.format);
        let id = info.id.clone();
        let seek = spool.seek();
        self.outbox.push_back(SourceEvent::Register {
            info,
            seek: seek.clone(),
        });
        self.send_outbox();
        let reader = spool.clone();
        let (reader_id, max_line, tx) = (id.clone(), self.config.max_line_bytes, self.tx.clone());
        std::thread::Builder::new()
            .name(format!("spool-{}-{}", key.channel, key.pid))
            .spawn(move || reader.read(reader_id, max_line, tx))?;
        let stream = Stream {
            key,
            id: id.clone(),
            dir,
            spool,
            seek,
            closed: false,
            last_event: Instant::now(),
        };
        Ok(self.streams.entry(id).insert_entry(stream).into_mut())
    }

    /// The stream for `key`, opened when this run has not seen it.
    fn stream_for(&mut self, key: &StreamKey, id: &str) -> io::Result<&mut Stream> {
        if self.streams.contains_key(id) {
            return Ok(self.streams.get_mut(id).expect("present"));
        }
        let retired = self.retired.iter().position(|(r, _)| r == id);
        let base = match retired {
            // A late event for a stream already let go: go on after what was shipped.
            Some(i) => self.retired[i].1,
            None => {
                // A new process: what its predecessors wrote is complete (supervisord starts
                // a program again only once its process exited).
                for s in self.streams.values_mut() {
                    if s.key.process == key.process
                        && s.key.pid != key.pid
                        && !s.closed
                        && gone(s.key.pid)
                    {
                        tracing::debug!(stream = %s.id, "closing: the process was replaced");
                        s.spool.close();
                        s.closed = true;
                    }
                }
                self.bases.get(id).copied().unwrap_or(0)
            }
        };
        let dir = self.root.join(key.dir_name());
        std::fs::create_dir_all(&dir)?;
        write_durably(&dir, STREAM_FILE, &encode_record(STREAM_HEADER, key))?;
        File::open(&self.root)?.sync_all()?;
        self.open_stream(key.clone(), dir, base)?;
        if let Some(i) = retired {
            self.retired.remove(i);
        }
        Ok(self.streams.get_mut(id).expect("just opened"))
    }

    /// Handles one envelope; the answer says whether supervisord may forget it.
    pub fn handle(&mut self, envelope: &Envelope) -> Answer {
        let log = match parse_event(envelope) {
            Ok(Event::Log(log)) => log,
            Ok(Event::Other) => return Answer::Ok,
            Err(e) => {
                // Sending it again would give the same payload, forever, while the events
                // behind it overflow supervisord's buffer: say so and go on.
                self.unusable += 1;
                tracing::error!(error = %e, serial = %envelope.header.serial, unusable = self.unusable, "an event that cannot be attributed to a program was answered OK and dropped");
                return Answer::Ok;
            }
        };
        match self.spool_event(&envelope.header, &envelope.payload, &log) {
            Ok(()) => {
                if self.failures > 0 {
                    tracing::info!(failed = self.failures, "appending to the spool works again");
                }
                self.failures = 0;
                Answer::Ok
            }
            Err(e) => {
                self.failures += 1;
                if self.failures == 1 || self.failures.is_power_of_two() {
                    tracing::error!(error = %e, process = log.process, failed = self.failures, "cannot spool an event; answering FAIL so supervisord sends it again");
                }
                Answer::Fail
            }
        }
    }

    fn spool_event(
        &mut self,
        header: &Header,
        payload: &str,
        log: &LogEvent<'_>,
    ) -> io::Result<()> {
        let key = StreamKey::of(log);
        let id = key.id();
        let digest = xxh3_64(payload.as_bytes());
        let in_doubt = self.in_doubt.take();
        let stream = self.stream_for(&key, &id)?;
        stream.last_event = Instant::now();
        // A closed stream that gets an event after all (queued in supervisord when its
        // process ended) is open again, until it is idle.
        stream.closed = false;
        let data: &[u8] = &log.data;
        let mut skip = 0u64;
        if let Some(prev) = in_doubt.filter(|f| f.is(header, digest, &id))
            && prev.skip + prev.len == data.len() as u64
        {
            let done = stream.spool.end().saturating_sub(prev.start).min(prev.len);
            tracing::info!(stream = %id, bytes = data.len(), already = prev.skip + done, "supervisord sent again the event the previous listener was spooling; spooling only what it had not");
            skip = prev.skip + done;
        }
        let rest = &data[skip as usize..];
        let start = stream.spool.end();
        let inflight = InFlight {
            server: header.server.clone(),
            pool: header.pool.clone(),
            serial: header.serial.clone(),
            poolserial: header.poolserial.clone(),
            digest,
            stream: id,
            skip,
            start,
            len: rest.len() as u64,
        };
        let stream = self.streams.get(&inflight.stream).expect("just opened");
        self.inflight
            .write_all_at(&encode_record(INFLIGHT_HEADER, &inflight), 0)?;
        stream.spool.try_append(rest)?;
        Ok(())
    }

    /// Hands queued events to the core as far as it takes them now.
    fn send_outbox(&mut self) {
        while let Some(ev) = self.outbox.pop_front() {
            match self.tx.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    self.outbox.push_front(ev);
                    return;
                }
                // The core is gone (the job is ending).
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.outbox.clear();
                    return;
                }
            }
        }
    }

    /// Closes streams whose process is gone and lets go of closed streams the collector
    /// acknowledged entirely (their spool directory is deleted).
    pub fn housekeep(&mut self) {
        self.last_housekeeping = Instant::now();
        self.send_outbox();
        let mut done = Vec::new();
        for s in self.streams.values_mut() {
            if !s.closed && s.last_event.elapsed() >= IDLE_CLOSE && gone(s.key.pid) {
                tracing::debug!(stream = %s.id, "closing: the process is gone");
                s.spool.close();
                s.closed = true;
            }
            if s.closed && s.seek.acked() >= s.spool.end() {
                done.push(s.id.clone());
            }
        }
        for id in done {
            let Some(s) = self.streams.remove(&id) else {
                continue;
            };
            tracing::debug!(stream = %id, "letting go of a stream shipped to its end");
            self.outbox
                .push_back(SourceEvent::Release { stream: id.clone() });
            if let Err(e) = std::fs::remove_dir_all(&s.dir) {
                tracing::warn!(dir = %s.dir.display(), error = %e, "cannot delete a shipped spool");
            }
            self.retired.push_back((id, s.spool.end()));
            if self.retired.len() > RETIRED_KEPT {
                self.retired.pop_front();
            }
        }
        self.send_outbox();
    }

    /// Closes every stream and waits up to the drain timeout for the collector to
    /// acknowledge all of it (what is left stays spooled for the next run). Streams are not
    /// let go here: a program that is still running goes on in the same stream (and spool)
    /// with the next listener; the next start lets go of those whose process is gone.
    pub fn drain(&mut self) {
        for s in self.streams.values_mut() {
            s.spool.close();
            s.closed = true;
        }
        let deadline = Instant::now() + self.config.drain_timeout;
        loop {
            self.send_outbox();
            let unacked: u64 = self
                .streams
                .values()
                .map(|s| s.spool.end().saturating_sub(s.seek.acked()))
                .sum();
            if unacked == 0 && self.outbox.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    bytes = unacked,
                    "not acknowledged by the collector in time; kept in the spool for the next run"
                );
                return;
            }
            std::thread::sleep(DRAIN_POLL);
        }
    }

    /// Speaks the protocol on `input`/`output` until stdin ends or `stop` is cancelled, then
    /// drains. Errors mean the event stream is broken: the caller exits non-zero and
    /// supervisord starts a new listener and sends it the unanswered event again.
    pub fn serve(
        mut self,
        input: impl BufRead + Send + 'static,
        mut output: impl Write,
        stop: &CancellationToken,
    ) -> Result<(), ListenerError> {
        let (events, incoming) = std_mpsc::sync_channel(1);
        let epoch = Instant::now();
        // Milliseconds since `epoch` (plus one) when the current envelope's header was read;
        // 0 between envelopes.
        let reading_since = Arc::new(AtomicU64::new(0));
        let since = reading_since.clone();
        std::thread::Builder::new()
            .name("supervisor-stdin".into())
            .spawn(move || read_envelopes(input, events, &since, epoch))
            .map_err(ListenerError::Start)?;
        protocol::write_ready(&mut output).map_err(ListenerError::Answer)?;
        loop {
            if stop.is_cancelled() {
                break;
            }
            match incoming.recv_timeout(HOUSEKEEPING_EVERY) {
                Ok(Incoming::Envelope(envelope)) => {
                    let answer = self.handle(&envelope);
                    if answer == Answer::Fail {
                        let pause = Duration::from_millis(125 << self.failures.min(4))
                            .min(FAIL_BACKOFF_MAX);
                        std::thread::sleep(pause);
                    }
                    let go_on = !stop.is_cancelled();
                    protocol::write_answer(&mut output, answer, go_on)
                        .map_err(ListenerError::Answer)?;
                    if self.last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                        self.housekeep();
                    }
                }
                Ok(Incoming::End) | Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                Ok(Incoming::Broken(e)) => return Err(e.into()),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    self.housekeep();
                    let since = reading_since.load(Ordering::Acquire);
                    if since > 0 {
                        let waited = epoch
                            .elapsed()
                            .saturating_sub(Duration::from_millis(since - 1));
                        if waited >= STALL_LIMIT {
                            return Err(ListenerError::Stalled(waited));
                        }
                    }
                }
            }
        }
        self.drain();
        Ok(())
    }
}

/// What the stdin thread passes on.
#[derive(Debug)]
enum Incoming {
    Envelope(Envelope),
    End,
    Broken(ReadError),
}

fn read_envelopes(
    mut input: impl BufRead,
    events: std_mpsc::SyncSender<Incoming>,
    reading_since: &AtomicU64,
    epoch: Instant,
) {
    loop {
        let next = match protocol::read_header(&mut input) {
            Ok(None) => Incoming::End,
            Ok(Some(header)) => {
                let millis = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
                reading_since.store(millis + 1, Ordering::Release);
                let payload = protocol::read_payload(&mut input, header.len);
                reading_since.store(0, Ordering::Release);
                match payload {
                    Ok(bytes) => Incoming::Envelope(Envelope::new(header, bytes)),
                    Err(e) => Incoming::Broken(e),
                }
            }
            Err(e) => Incoming::Broken(e),
        };
        let last = !matches!(next, Incoming::Envelope(_));
        if events.send(next).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Cursor;
    use std::sync::Mutex;

    use super::*;
    use crate::source::Placement;
    use crate::supervisor::protocol::tests::envelope;

    /// A delivery core and collector in one: places every stream at its durable position,
    /// stores lines past it (as the collector does) and acknowledges them.
    #[derive(Clone, Default)]
    struct FakeCore {
        durable: Arc<Mutex<HashMap<String, u64>>>,
        stored: Arc<Mutex<HashMap<String, Vec<String>>>>,
        infos: Arc<Mutex<HashMap<String, StreamInfo>>>,
        released: Arc<Mutex<Vec<String>>>,
        seeks: Arc<Mutex<HashMap<String, SeekHandle>>>,
    }

    impl FakeCore {
        fn start(&self) -> mpsc::Sender<SourceEvent> {
            let (tx, mut rx) = mpsc::channel(16);
            let core = self.clone();
            std::thread::spawn(move || {
                while let Some(ev) = rx.blocking_recv() {
                    core.on(ev);
                }
            });
            tx
        }

        fn on(&self, ev: SourceEvent) {
            let mut durable = self.durable.lock().expect("lock");
            match ev {
                SourceEvent::Register { info, seek } => {
                    let at = durable.get(&info.id).copied().unwrap_or(0);
                    seek.set_acked(at);
                    seek.set(Placement::At {
                        generation: 1,
                        position: at,
                    });
                    self.seeks
                        .lock()
                        .expect("lock")
                        .insert(info.id.clone(), seek);
                    self.infos
                        .lock()
                        .expect("lock")
                        .insert(info.id.clone(), info);
                }
                SourceEvent::Lines { stream, lines, .. } => {
                    let at = durable.entry(stream.clone()).or_default();
                    let mut stored = self.stored.lock().expect("lock");
                    for line in lines {
                        if line.end > *at {
                            stored.entry(stream.clone()).or_default().push(line.text);
                            *at = line.end;
                        }
                    }
                    if let Some(seek) = self.seeks.lock().expect("lock").get(&stream) {
                        seek.set_acked(*at);
                    }
                }
                SourceEvent::Release { stream } => {
                    if let Some(seek) = self.seeks.lock().expect("lock").remove(&stream) {
                        seek.set(Placement::Stop);
                    }
                    self.released.lock().expect("lock").push(stream);
                }
                SourceEvent::End { .. } => {}
            }
        }

        /// Stops every reader (a killed listener's readers die with it).
        fn stop_readers(&self) {
            for seek in self.seeks.lock().expect("lock").drain().map(|(_, s)| s) {
                seek.set(Placement::Stop);
            }
        }

        fn stored(&self, stream: &str) -> Vec<String> {
            self.stored
                .lock()
                .expect("lock")
                .get(stream)
                .cloned()
                .unwrap_or_default()
        }
    }

    fn config() -> Config {
        Config {
            format: Some("plain".into()),
            spool_max_bytes: 1 << 20,
            max_line_bytes: 4096,
            drain_timeout: Duration::from_secs(20),
        }
    }

    fn open(job: &Path, tx: mpsc::Sender<SourceEvent>) -> Listener {
        let checkpoint = Checkpoint {
            shipper_id: "test".into(),
            streams: Default::default(),
        };
        Listener::open(config(), job, &checkpoint, tx).expect("open")
    }

    fn parse(bytes: &[u8]) -> Envelope {
        protocol::read_envelope(&mut Cursor::new(bytes))
            .expect("framed")
            .expect("an envelope")
    }

    /// A process id that is alive for the whole test: this one.
    fn alive() -> u32 {
        std::process::id()
    }

    /// A process id whose process is gone.
    fn dead() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap");
        pid
    }

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn spooled(job: &Path) -> Vec<u8> {
        let mut files: Vec<PathBuf> = walk(&job.join("spool"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "spool"))
            .collect();
        files.sort();
        files
            .iter()
            .flat_map(|p| std::fs::read(p).expect("segment"))
            .collect()
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn lines_assemble_across_events_per_program_and_channel_with_their_attribution() {
        let job = tempfile::tempdir().expect("tempdir");
        let core = FakeCore::default();
        let listener = open(job.path(), core.start());
        let pid = alive();
        let mut input = Vec::new();
        input.extend(envelope(1, "web", pid, false, b"hel"));
        input.extend(envelope(2, "web", pid, true, b"warn: \xc3"));
        input.extend(envelope(3, "web", pid, false, "lo ✓\nwor".as_bytes()));
        input.extend(b"ver:3.0 server:supervisor serial:4 pool:logq poolserial:4 eventname:PROCESS_STATE_RUNNING len:0\n");
        input.extend(envelope(5, "web", pid, true, b"\xa9t\xff\n"));
        // Well framed, but it cannot be attributed: answered OK and logged.
        let bad = "processname:web groupname:web channel:stdout\nlost";
        input.extend(format!("ver:3.0 server:supervisor serial:6 pool:logq poolserial:6 eventname:PROCESS_LOG_STDOUT len:{}\n{bad}", bad.chars().count()).into_bytes());
        input.extend(envelope(7, "web", pid, false, b"ld\n"));
        input.extend(envelope(8, "my worker:1", 7, false, b"other\n"));
        let mut out = Vec::new();
        listener
            .serve(Cursor::new(input), &mut out, &CancellationToken::new())
            .expect("serve");
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            format!("READY\n{}", "RESULT 2\nOKREADY\n".repeat(8)),
            "every event answered OK, nothing else on stdout"
        );
        let out_id = format!("supervisor:web:stdout:{pid}");
        let err_id = format!("supervisor:web:stderr:{pid}");
        assert_eq!(core.stored(&out_id), ["hello ✓", "world"]);
        assert_eq!(core.stored(&err_id), ["warn: ét\u{fffd}"]);
        assert_eq!(core.stored("supervisor:my worker:1:stdout:7"), ["other"]);
        let infos = core.infos.lock().expect("lock");
        let info = &infos[&err_id];
        assert_eq!((info.app.as_str(), info.stream.as_str()), ("web", "stderr"));
        assert_eq!(info.format.as_deref(), Some("plain"));
        let fields: Vec<(&str, &str)> = info
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("channel", "stderr"),
                ("group", "web"),
                ("pid", pid.to_string().as_str())
            ]
        );
        assert_eq!(infos["supervisor:my worker:1:stdout:7"].app, "my_worker_1");
    }

    #[test]
    fn a_failed_append_answers_fail_and_the_event_sent_again_is_spooled_once() {
        let job = tempfile::tempdir().expect("tempdir");
        let core = FakeCore::default();
        let mut listener = open(job.path(), core.start());
        let pid = alive();
        let first = parse(&envelope(1, "web", pid, false, b"one\n"));
        let second = parse(&envelope(2, "web", pid, false, b"two\n"));
        assert_eq!(listener.handle(&first), Answer::Ok);
        let id = format!("supervisor:web:stdout:{pid}");
        listener.streams[&id].spool.fail_next_appends(2);
        assert_eq!(listener.handle(&second), Answer::Fail, "disk full");
        assert_eq!(listener.handle(&second), Answer::Fail, "still full");
        assert_eq!(listener.handle(&second), Answer::Ok, "room again");
        assert_eq!(spooled(job.path()), b"one\ntwo\n");
        listener.drain();
        assert_eq!(core.stored(&id), ["one", "two"]);
        core.stop_readers();
    }

    #[test]
    fn a_killed_listener_loses_nothing_acknowledged_and_never_spools_an_event_twice() {
        let job = tempfile::tempdir().expect("tempdir");
        let core = FakeCore::default();
        let pid = alive();
        let id = format!("supervisor:web:stdout:{pid}");
        let events: Vec<Envelope> = [
            &b"line 1\nline "[..],
            b"2\nline 3\n",
            b"line 4\npartial",
            b" line 5\n",
        ]
        .iter()
        .enumerate()
        .map(|(i, data)| parse(&envelope(i as u64, "web", pid, false, data)))
        .collect();

        // Killed after spooling event 1 but before its answer reached supervisord.
        let mut first = open(job.path(), core.start());
        assert_eq!(first.handle(&events[0]), Answer::Ok);
        assert_eq!(first.handle(&events[1]), Answer::Ok);
        drop(first);
        core.stop_readers();
        // supervisord sends event 1 again to the next listener.
        let mut second = open(job.path(), core.start());
        assert_eq!(second.handle(&events[1]), Answer::Ok);
        assert_eq!(
            spooled(job.path()),
            b"line 1\nline 2\nline 3\n",
            "not spooled twice"
        );

        // Killed in the middle of writing event 2: part of it reached the spool.
        assert_eq!(second.handle(&events[2]), Answer::Ok);
        drop(second);
        core.stop_readers();
        let torn = b"line 1\nline 2\nline 3\nline 4\npar".len() as u64;
        let segment = walk(&job.path().join("spool"))
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "spool"))
            .expect("a segment");
        File::options()
            .write(true)
            .open(&segment)
            .and_then(|f| f.set_len(torn))
            .expect("tear the last append");
        let mut third = open(job.path(), core.start());
        assert_eq!(third.handle(&events[2]), Answer::Ok);
        assert_eq!(third.handle(&events[3]), Answer::Ok);
        assert_eq!(
            spooled(job.path()),
            b"line 1\nline 2\nline 3\nline 4\npartial line 5\n",
            "the rest of the torn event, once; the partial line went on across restarts"
        );
        third.drain();
        assert_eq!(
            core.stored(&id),
            ["line 1", "line 2", "line 3", "line 4", "partial line 5"]
        );
        core.stop_readers();
    }

    #[test]
    fn a_malformed_header_stops_the_listener_after_answering_every_event_before_it() {
        let job = tempfile::tempdir().expect("tempdir");
        let core = FakeCore::default();
        let listener = open(job.path(), core.start());
        let pid = alive();
        let mut input = envelope(1, "web", pid, false, b"before\n");
        input.extend(b"ver:3.0 server:supervisor serial:2 pool:logq eventname:PROCESS_LOG_STDOUT len:many\nprocessname:web");
        input.extend(envelope(3, "web", pid, false, b"after\n"));
        let mut out = Vec::new();
        let err = listener
            .serve(Cursor::new(input), &mut out, &CancellationToken::new())
            .expect_err("a broken stream");
        assert_eq!(
            err.to_string(),
            "the event stream from supervisord is broken: malformed event header \"ver:3.0 server:supervisor serial:2 pool:logq eventname:PROCESS_LOG_STDOUT len:many\": len is not a number of characters"
        );
        // The bad event is not answered: supervisord sends it (and what follows it) again to
        // the listener it starts next.
        assert_eq!(out, b"READY\nRESULT 2\nOKREADY\n");
        assert_eq!(spooled(job.path()), b"before\n");
        core.stop_readers();
    }

    #[test]
    fn a_replaced_or_gone_process_is_closed_shipped_and_let_go() {
        let job = tempfile::tempdir().expect("tempdir");
        let core = FakeCore::default();
        let (old, new) = (dead(), alive());
        let mut listener = open(job.path(), core.start());
        let partial = parse(&envelope(1, "web", old, false, b"done\nno newline"));
        assert_eq!(listener.handle(&partial), Answer::Ok);
        let stderr = parse(&envelope(2, "web", old, true, b"err\n"));
        assert_eq!(listener.handle(&stderr), Answer::Ok);
        let old_out = format!("supervisor:web:stdout:{old}");
        let old_err = format!("supervisor:web:stderr:{old}");
        // The program was started again: its old output is complete.
        assert_eq!(
            listener.handle(&parse(&envelope(3, "web", new, false, b"hi\n"))),
            Answer::Ok
        );
        wait_for("the old streams let go", || {
            listener.housekeep();
            core.released.lock().expect("lock").len() == 2
        });
        assert_eq!(
            core.stored(&old_out),
            ["done", "no newline"],
            "ended at close"
        );
        assert_eq!(core.stored(&old_err), ["err"]);
        assert_eq!(listener.streams.len(), 1);
        assert_eq!(
            walk(&job.path().join("spool")).len(),
            2,
            "one spool dir: a segment and its stream file"
        );

        // A listener killed while a gone process's spool was open closes it at start.
        let gone_pid = dead();
        let last = parse(&envelope(4, "batch", gone_pid, false, b"last words"));
        assert_eq!(listener.handle(&last), Answer::Ok);
        assert_eq!(
            listener.handle(&parse(&envelope(5, "web", new, false, b"more\n"))),
            Answer::Ok
        );
        drop(listener);
        core.stop_readers();
        let mut next = open(job.path(), core.start());
        let batch = format!("supervisor:batch:stdout:{gone_pid}");
        let web = format!("supervisor:web:stdout:{new}");
        // The restarted listener's spool readers run on their own threads: wait for both.
        wait_for("the gone process's stream let go and web's lines", || {
            next.housekeep();
            core.released.lock().expect("lock").contains(&batch) && core.stored(&web).len() >= 2
        });
        assert_eq!(core.stored(&batch), ["last words"]);
        assert_eq!(core.stored(&web), ["hi", "more"]);
        core.stop_readers();
    }

    #[test]
    fn stream_and_inflight_records_read_back_and_torn_ones_read_as_nothing() {
        let key = StreamKey {
            process: "p".repeat(300),
            group: "g".into(),
            pid: 9,
            channel: "stdout".into(),
        };
        let bytes = encode_record(STREAM_HEADER, &key);
        assert_eq!(
            decode_record::<StreamKey>(STREAM_HEADER, &bytes),
            Some(key.clone())
        );
        assert_eq!(
            decode_record::<StreamKey>(STREAM_HEADER, &bytes[..bytes.len() - 1]),
            None
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        assert_eq!(decode_record::<StreamKey>(STREAM_HEADER, &flipped), None);
        assert_eq!(decode_record::<StreamKey>(INFLIGHT_HEADER, &bytes), None);
        assert!(key.id().len() < 512, "the collector's limit");
        assert!(key.id().starts_with("supervisor:ppp"));
        assert!(key.dir_name().len() < 128);
    }
}
