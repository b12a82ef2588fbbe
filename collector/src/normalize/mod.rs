//! Normalization: turns the raw lines of WAL batches into records.
//!
//! Each stream's lines are read in its format (the shipper's hint, or detected: see
//! [`detect`]); a format module per log format lives in [`formats`]. Lines that continue an
//! event (stack traces, tracebacks, Rails' tagged backtrace lines: see [`multiline`]) join it,
//! so an event is one record holding its whole text, with the id of its first line.
//!
//! It runs on the indexer thread from WAL batches and is deterministic: replaying the WAL
//! yields the same records with the same ids. An event stays open until a line that cannot
//! continue it comes, or its stream is idle for the idle time ([`IDLE`] unless configured) by
//! the receive times the WAL records
//! (so a replay closes it at the same place), or the live idle timer fires. An app's records
//! come out in id order: while one of its events is open, its later records wait.
pub mod detect;
pub mod format;
pub mod formats;
pub mod multiline;
pub mod time;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use logq_schemas::{Level, Line, Record, StoredRecord};
use serde_json::Value;

use crate::wal::{WalBatch, WalLocation};
use format::{Context, Format, Parsed};
use formats::plain::Plain;

/// How far the shipper's read time may be behind the collector's receive time and still be
/// taken as the event time (a spooled backlog); older, and the receive time is used.
const MAX_READ_LAG: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How far the shipper's clock may be ahead of the collector's.
const MAX_READ_LEAD: SignedDuration = SignedDuration::from_mins(5);

/// The event time of a line without a timestamp of its own: when the shipper read it, unless
/// the shipper's clock is implausible, then when the collector received it.
pub fn fallback_time(read_at: Timestamp, received: Timestamp) -> Timestamp {
    let lag = received.duration_since(read_at);
    if lag <= MAX_READ_LAG && lag >= -MAX_READ_LEAD {
        read_at
    } else {
        received
    }
}

/// How long an event waits for more lines after its last one, by default
/// (`index.event_idle_ms`).
pub const IDLE: SignedDuration = SignedDuration::from_millis(400);
/// Events a stream keeps open at once (errors of interleaved Rails requests).
const MAX_OPEN: usize = 64;
/// An event closes once it holds this many lines...
const MAX_EVENT_LINES: usize = 1000;
/// ...or this many bytes of text.
const MAX_EVENT_BYTES: usize = 512 * 1024;
/// An event time further ahead of the receive time than this is not believed.
const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);
/// An event time further behind the receive time than this is not believed.
const MAX_PAST: SignedDuration = SignedDuration::from_hours(366 * 24);
/// Sidekiq job contexts remembered per stream (thread id to job id and class).
const MAX_JOBS: usize = 4096;

/// A record ready to store, with what a replay needs to leave out the lines already stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub record: StoredRecord,
    /// The WAL location before the batch of the record's first line: the WAL must keep what
    /// follows it until the record is durable.
    pub from: WalLocation,
    /// Where the batch of the record's first line ends in the WAL.
    pub at: WalLocation,
    /// Id and byte offset in the message of each line after the first.
    lines: Vec<(u64, usize)>,
}

impl Normalized {
    /// The part of the record whose lines have ids above `through` (all of it, none of it,
    /// or, for an event that a replay grouped differently, its later lines as a record with
    /// the id of the first of them).
    ///
    /// Borrowed when it is the whole record: the indexer copies a record only where it keeps
    /// it (a segment's tail).
    pub fn after(&self, through: Option<u64>) -> Option<Cow<'_, StoredRecord>> {
        if through.is_none_or(|t| self.record.id > t) {
            return Some(Cow::Borrowed(&self.record));
        }
        let through = through?;
        let &(id, offset) = self.lines.iter().find(|(id, _)| *id > through)?;
        let mut rest = self.record.clone();
        rest.id = id;
        rest.record.message = self.record.record.message[offset..].to_owned();
        Some(Cow::Owned(rest))
    }
}

/// An event being assembled.
#[derive(Debug)]
struct Event {
    out: Normalized,
    stream: String,
    open: bool,
    last_received: Timestamp,
    /// The request id that tagged continuation lines name (Rails).
    key: Option<String>,
    trace: multiline::Open,
}

/// What the normalizer keeps per stream.
#[derive(Debug)]
struct Stream {
    format: detect::StreamFormat,
    cx: Context,
    /// Head ids of the stream's open events, oldest first.
    open: Vec<u64>,
    /// Sidekiq: thread id to (jid, job class) of its current job.
    jobs: HashMap<String, (Value, Option<Value>)>,
}

/// Turns batches into records. See the module documentation.
#[derive(Debug)]
pub struct Normalizer {
    /// How long an event waits for more lines after its last one.
    idle: SignedDuration,
    streams: HashMap<String, Stream>,
    /// Per app, its events not yet handed out, by id.
    events: BTreeMap<String, BTreeMap<u64, Event>>,
    /// Where the last batch read ends in the WAL.
    previous: WalLocation,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::with_idle(IDLE)
    }
}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// A normalizer whose events wait `idle` for more lines.
    pub fn with_idle(idle: SignedDuration) -> Normalizer {
        Normalizer {
            idle,
            streams: HashMap::new(),
            events: BTreeMap::new(),
            previous: WalLocation::default(),
        }
    }

    /// Reads the lines of `batch`, which ends at `at` in the WAL. Returns the records now
    /// complete, by app then id.
    pub fn push(&mut self, batch: &WalBatch, at: WalLocation) -> Vec<Normalized> {
        let from = std::mem::replace(&mut self.previous, at);
        self.close_idle(batch.received);
        let stream = self
            .streams
            .entry(batch.meta.key.clone())
            .or_insert_with(|| Stream {
                format: detect::StreamFormat::new(batch.meta.format.as_deref()),
                cx: Context {
                    tz: zone(&batch.meta.tz),
                    received: batch.received,
                },
                open: Vec::new(),
                jobs: HashMap::new(),
            });
        stream.cx.received = batch.received;
        let events = self.events.entry(batch.meta.app.clone()).or_default();
        for (i, line) in batch.lines.iter().enumerate() {
            let id = batch.first_id + i as u64;
            read_line(stream, events, batch, id, line, (from, at));
        }
        self.emit()
    }

    /// Closes the events idle since before `now` less the idle time (the live timer) and returns what is
    /// then complete.
    pub fn flush_idle(&mut self, now: Timestamp) -> Vec<Normalized> {
        self.close_idle(now);
        self.emit()
    }

    /// Closes every event (shutdown) and returns them.
    pub fn flush_all(&mut self) -> Vec<Normalized> {
        for events in self.events.values_mut() {
            for e in events.values_mut() {
                e.open = false;
            }
        }
        for s in self.streams.values_mut() {
            s.open.clear();
        }
        self.emit()
    }

    /// Where a replay must start to rebuild the open events; `None` when none is open.
    pub fn replay_from(&self) -> Option<WalLocation> {
        self.events
            .values()
            .flat_map(|events| events.values())
            .filter(|e| e.open)
            .map(|e| e.out.from)
            .min()
    }

    /// Whether an event is waiting for more lines.
    /// The lowest id of an event not handed out yet (open, or closed and waiting behind an
    /// open one of its app).
    pub fn lowest_pending(&self) -> Option<u64> {
        self.events
            .values()
            .filter_map(|events| events.keys().next().copied())
            .min()
    }

    pub fn has_open(&self) -> bool {
        self.events.values().any(|e| e.values().any(|e| e.open))
    }

    fn close_idle(&mut self, now: Timestamp) {
        let Some(limit) = now.checked_sub(self.idle).ok() else {
            return;
        };
        for events in self.events.values_mut() {
            for e in events
                .values_mut()
                .filter(|e| e.open && e.last_received < limit)
            {
                e.open = false;
                if let Some(s) = self.streams.get_mut(&e.stream) {
                    s.open.retain(|id| *id != e.out.record.id);
                }
            }
        }
    }

    /// Hands out each app's closed events up to its first open one.
    fn emit(&mut self) -> Vec<Normalized> {
        let mut out = Vec::new();
        for events in self.events.values_mut() {
            while let Some(first) = events.first_entry() {
                if first.get().open {
                    break;
                }
                out.push(first.remove().out);
            }
        }
        self.events.retain(|_, e| !e.is_empty());
        out
    }
}

/// The shipper's zone: an IANA name or a fixed offset; UTC when unreadable.
fn zone(tz: &str) -> TimeZone {
    if let Ok(z) = TimeZone::get(tz) {
        return z;
    }
    if let Some((secs, len)) = time::offset(tz.as_bytes())
        && len == tz.len()
        && let Ok(o) = jiff::tz::Offset::from_seconds(secs)
    {
        return TimeZone::fixed(o);
    }
    TimeZone::UTC
}

fn read_line(
    stream: &mut Stream,
    events: &mut BTreeMap<u64, Event>,
    batch: &WalBatch,
    id: u64,
    line: &Line,
    (from, at): (WalLocation, WalLocation),
) {
    let text = line.text.as_str();
    let prefixed = stream.format.chosen().is_some();
    let last_open = stream.open.last().copied();
    let (format, mut parsed): (&'static dyn Format, Parsed) =
        match stream.format.read(text, &stream.cx) {
            detect::Reading::Parsed(f, p) => {
                if p.continuation {
                    let key = request_id(&p);
                    let target = stream
                        .open
                        .iter()
                        .rev()
                        .copied()
                        .find(|h| key.is_none() || events.get(h).is_some_and(|e| e.key == key));
                    if let Some(head) = target {
                        append(stream, events, head, id, text, batch.received);
                        return;
                    }
                }
                let body = text.get(p.body..).unwrap_or("");
                if !p.continuation
                    && f.wraps_writes()
                    && let Some(head) = last_open
                    && events
                        .get(&head)
                        .is_some_and(|e| multiline::continues(body, &e.trace, false))
                {
                    append(stream, events, head, id, text, batch.received);
                    return;
                }
                (f, p)
            }
            detect::Reading::Foreign => {
                if let Some(head) = last_open
                    && events.get(&head).is_some_and(|e| {
                        let foreign = prefixed && e.out.record.record.format != Plain.name();
                        multiline::continues(text, &e.trace, foreign)
                    })
                {
                    append(stream, events, head, id, text, batch.received);
                    return;
                }
                let f: &'static dyn Format = &Plain;
                let p = Plain.parse(text, &stream.cx).unwrap_or_default();
                (f, p)
            }
        };
    // A new event: it closes the stream's open events that a line of its own can no longer
    // continue: all but the errors of other requests, whose tagged backtrace lines may still
    // come between other requests' lines (at most `MAX_OPEN`, the oldest closing first).
    let key = request_id(&parsed);
    let excess = stream.open.len().saturating_sub(MAX_OPEN - 1);
    let mut seen = 0;
    stream.open.retain(|h| {
        seen += 1;
        let keep = seen > excess
            && events.get(h).is_some_and(|e| {
                e.key.is_some() && e.key != key && e.trace.level >= Some(Level::Warn)
            });
        if !keep && let Some(e) = events.get_mut(h) {
            e.open = false;
        }
        keep
    });
    carry_job(&mut stream.jobs, &mut parsed);
    let body = text.get(parsed.body..).unwrap_or("");
    let mut trace = multiline::Open {
        level: parsed.level,
        in_python_traceback: multiline::starts_python_traceback(body),
    };
    if trace.in_python_traceback && parsed.level.is_none() {
        parsed.level = Some(Level::Error);
        trace.level = parsed.level;
    }
    let record = record_of(batch, id, line, format, parsed);
    let open = !format.single_line();
    events.insert(
        id,
        Event {
            out: Normalized {
                record,
                from,
                at,
                lines: Vec::new(),
            },
            stream: batch.meta.key.clone(),
            open,
            last_received: batch.received,
            key,
            trace,
        },
    );
    if open {
        stream.open.push(id);
    }
}

fn request_id(p: &Parsed) -> Option<String> {
    p.fields
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Appends a line to the open event `head`, closing it when it is full.
fn append(
    stream: &mut Stream,
    events: &mut BTreeMap<u64, Event>,
    head: u64,
    id: u64,
    text: &str,
    received: Timestamp,
) {
    let Some(e) = events.get_mut(&head) else {
        return;
    };
    let message = &mut e.out.record.record.message;
    message.push('\n');
    e.out.lines.push((id, message.len()));
    message.push_str(text);
    e.last_received = received;
    let trimmed = text.trim_start();
    if multiline::starts_python_traceback(trimmed) {
        e.trace.in_python_traceback = true;
        e.trace.level = e.trace.level.max(Some(Level::Error));
        let level = &mut e.out.record.record.level;
        *level = (*level).max(Some(Level::Error));
    } else if e.trace.in_python_traceback
        && text.len() == trimmed.len()
        && multiline::is_exception_line(trimmed)
    {
        e.trace.in_python_traceback = false;
    }
    if e.out.lines.len() + 1 >= MAX_EVENT_LINES || message.len() >= MAX_EVENT_BYTES {
        e.open = false;
        stream.open.retain(|h| *h != head);
    }
}

/// Sidekiq lines name their thread; the job lines also name the job. Lines of that thread
/// without a job (the exception and backtrace of a failed job) get the job's id and class.
fn carry_job(jobs: &mut HashMap<String, (Value, Option<Value>)>, p: &mut Parsed) {
    let Some(tid) = p.fields.get("tid").and_then(Value::as_str) else {
        return;
    };
    if let Some(jid) = p.fields.get("jid") {
        if jobs.len() >= MAX_JOBS {
            jobs.clear();
        }
        let class = p.fields.get("job_class").cloned();
        jobs.insert(tid.to_owned(), (jid.clone(), class));
    } else if let Some((jid, class)) = jobs.get(tid) {
        let (jid, class) = (jid.clone(), class.clone());
        p.fields.insert("jid", jid);
        if let Some(class) = class {
            p.fields.insert_if_absent("job_class", class);
        }
    }
}

/// The record of a new event.
fn record_of(
    batch: &WalBatch,
    id: u64,
    line: &Line,
    format: &dyn Format,
    parsed: Parsed,
) -> StoredRecord {
    let mut fields = parsed.fields.into_map();
    if line.split {
        fields.insert("split".to_owned(), Value::Bool(true));
    }
    for (name, value) in &batch.meta.fields {
        fields
            .entry(name.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    let time = match parsed.time.or(line.time) {
        None => fallback_time(batch.read_at, batch.received),
        Some(t) if plausible(t, batch.received) => t,
        Some(t) => {
            fields.insert("time_written".to_owned(), Value::String(t.to_string()));
            fields.insert("time_out_of_range".to_owned(), Value::Bool(true));
            batch.received
        }
    };
    StoredRecord {
        id,
        record: Record {
            time,
            received: batch.received,
            app: batch.meta.app.clone(),
            host: batch.meta.host.clone(),
            stream: batch.meta.stream.clone(),
            level: parsed.level,
            format: format.name().to_owned(),
            message: line.text.clone(),
            fields,
        },
    }
}

/// Whether an event time is close enough to the receive time to be believed.
fn plausible(t: Timestamp, received: Timestamp) -> bool {
    let ahead = t.duration_since(received);
    ahead <= MAX_FUTURE && ahead >= -MAX_PAST
}

#[cfg(test)]
mod tests {
    use super::*;
    use logq_schemas::Line;

    use crate::wal::StreamMeta;

    /// A batch of `stream` (of app `app`) received `ms` milliseconds after 10:00.
    fn batch(
        app: &str,
        stream: &str,
        hint: Option<&str>,
        first_id: u64,
        ms: i64,
        lines: &[&str],
    ) -> WalBatch {
        let at = "2026-11-23T10:00:00Z".parse::<Timestamp>().expect("ts")
            + SignedDuration::from_millis(ms);
        WalBatch {
            first_id,
            meta: StreamMeta {
                fields: Default::default(),
                key: format!("s/{app}/{stream}"),
                app: app.into(),
                host: "h".into(),
                stream: stream.into(),
                format: hint.map(str::to_owned),
                tz: "Europe/Paris".into(),
            },
            read_at: at,
            received: at,
            lines: lines
                .iter()
                .map(|t| Line {
                    time: None,
                    end: 0,
                    text: (*t).into(),
                    split: false,
                })
                .collect(),
        }
    }

    fn loc(n: u64) -> WalLocation {
        WalLocation { file: 1, offset: n }
    }

    fn messages(out: &[Normalized]) -> Vec<(u64, String)> {
        out.iter()
            .map(|n| (n.record.id, n.record.record.message.clone()))
            .collect()
    }

    /// The stream's fields and the source's time (pm2's stamp, taken off the line by the
    /// shipper) reach the record, below what the text itself says.
    #[test]
    fn stream_fields_and_the_line_time_fill_in_what_the_text_lacks() {
        let fields: BTreeMap<String, String> = [("pid", "3"), ("instance", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let stamped: Timestamp = "2026-11-23T09:59:00Z".parse().expect("ts");
        let mut n = Normalizer::new();
        let mut out = Vec::new();
        for (app, text) in [("plain", "plain words"), ("json", r#"{"pid":9,"msg":"x"}"#)] {
            let mut b = batch(app, "stdout", None, out.len() as u64 + 1, 0, &[text]);
            b.meta.fields.clone_from(&fields);
            b.lines[0].time = Some(stamped);
            out.extend(n.push(&b, loc(1)));
            out.extend(n.flush_all());
        }
        let plain = &out[0].record.record;
        assert_eq!(plain.time, stamped);
        assert_eq!(plain.fields["pid"], "3");
        assert_eq!(plain.fields["instance"], "1");
        let json = &out[1].record.record;
        assert_eq!(json.format, "json");
        assert_eq!(json.fields["pid"], 9, "the text's own field wins");
        assert_eq!(json.fields["instance"], "1");
    }

    const NODE: &[&str] = &[
        "connect failed: connect ECONNREFUSED 127.0.0.1:9",
        "Error: connect ECONNREFUSED 127.0.0.1:9",
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)",
        "connect failed: connect ECONNREFUSED 127.0.0.1:9",
    ];

    #[test]
    fn a_node_stack_trace_is_one_event_with_the_id_of_its_first_line() {
        let mut n = Normalizer::new();
        let mut out = n.push(&batch("api", "stderr", None, 10, 0, NODE), loc(1));
        assert_eq!(
            n.replay_from(),
            Some(WalLocation::default()),
            "the last line may go on"
        );
        out.extend(n.flush_all());
        assert_eq!(
            messages(&out),
            vec![
                (10, NODE[0].to_owned()),
                (11, format!("{}\n{}", NODE[1], NODE[2])),
                (13, NODE[3].to_owned()),
            ]
        );
        assert_eq!(out[1].record.record.level, Some(Level::Error));
        assert_eq!(out[1].record.record.format, "plain");
    }

    #[test]
    fn an_event_split_across_batches_is_joined_within_the_idle_time() {
        let mut n = Normalizer::new();
        let first = n.push(&batch("api", "stderr", None, 10, 0, &NODE[..2]), loc(1));
        assert_eq!(messages(&first), vec![(10, NODE[0].to_owned())]);
        assert_eq!(
            n.replay_from(),
            Some(WalLocation::default()),
            "the open event's batch is replayed"
        );
        let second = n.push(&batch("api", "stderr", None, 12, 300, &NODE[2..]), loc(2));
        assert_eq!(
            messages(&second),
            vec![(11, format!("{}\n{}", NODE[1], NODE[2]))]
        );
        assert_eq!(second[0].from, WalLocation::default());
        assert_eq!(second[0].at, loc(1));

        // The same lines a second apart: the event was closed by then.
        let mut n = Normalizer::new();
        n.push(&batch("api", "stderr", None, 10, 0, &NODE[..2]), loc(1));
        let late = n.push(&batch("api", "stderr", None, 12, 1000, &NODE[2..3]), loc(2));
        assert_eq!(messages(&late), vec![(11, NODE[1].to_owned())]);
        assert_eq!(messages(&n.flush_all()), vec![(12, NODE[2].to_owned())]);
    }

    #[test]
    fn the_idle_timer_closes_an_event_and_its_app_waits_for_it_in_id_order() {
        let mut n = Normalizer::new();
        assert!(
            n.push(&batch("api", "stderr", None, 1, 0, &NODE[1..2]), loc(1))
                .is_empty()
        );
        // stdout of the same app: its line has a higher id, so it waits for the open event.
        assert!(
            n.push(&batch("api", "stdout", None, 2, 10, &["GET / 200"]), loc(2))
                .is_empty()
        );
        // Another app does not wait: its line is out once the next one shows it complete.
        assert!(
            n.push(&batch("web", "stdout", None, 3, 20, &["ok"]), loc(3))
                .is_empty()
        );
        let other = n.push(&batch("web", "stdout", None, 4, 30, &["ok again"]), loc(4));
        assert_eq!(messages(&other), vec![(3, "ok".to_owned())]);
        let now = "2026-11-23T10:00:00.300Z".parse().expect("ts");
        assert!(n.flush_idle(now).is_empty(), "not idle yet");
        let now = "2026-11-23T10:00:00.500Z".parse().expect("ts");
        let out = n.flush_idle(now);
        assert_eq!(
            messages(&out),
            vec![
                (1, NODE[1].to_owned()),
                (2, "GET / 200".to_owned()),
                (4, "ok again".to_owned())
            ]
        );
        assert_eq!(n.replay_from(), None);
    }

    #[test]
    fn a_python_traceback_in_plain_text_ends_with_its_exception_line() {
        let lines = [
            "Traceback (most recent call last):",
            "  File \"/srv/app.py\", line 5, in get",
            "    raise Exception('spam', 'eggs')",
            "Exception: ('spam', 'eggs')",
            "hello world, not multiline",
        ];
        let mut n = Normalizer::new();
        let mut out = n.push(&batch("py", "stderr", None, 1, 0, &lines), loc(1));
        out.extend(n.flush_all());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].record.record.message, lines[..4].join("\n"));
        assert_eq!(out[0].record.record.level, Some(Level::Error));
        assert_eq!(out[1].record.record.message, lines[4]);
    }

    #[test]
    fn a_replay_that_groups_differently_keeps_the_lines_not_yet_stored() {
        let mut n = Normalizer::new();
        let mut out = n.push(&batch("api", "stderr", None, 11, 0, &NODE[1..3]), loc(1));
        out.extend(n.flush_all());
        let event = &out[0];
        assert_eq!(event.after(None).map(|r| r.id), Some(11));
        assert_eq!(event.after(Some(10)).map(|r| r.id), Some(11));
        let rest = event.after(Some(11)).expect("line 12 is not stored");
        assert_eq!((rest.id, rest.record.message.as_str()), (12, NODE[2]));
        assert_eq!(event.after(Some(12)), None);
    }

    #[test]
    fn a_crash_with_an_event_open_replays_from_its_first_line_and_doubles_nothing() {
        let b1 = batch("api", "stderr", None, 10, 0, &NODE[..2]);
        let b2 = batch("api", "stderr", None, 12, 100, &NODE[2..3]);
        let mut live = Normalizer::new();
        let mut stored: Vec<Normalized> = live.push(&b1, loc(1));
        // The indexer commits here: what it holds, and where a replay must start.
        let emitted = stored.iter().map(|n| n.record.id).max();
        let replay_from = live.replay_from().expect("the error line is open");
        // Crash. The WAL replays the batches after `replay_from` into a fresh normalizer.
        let mut replay = Normalizer::new();
        let mut out = Vec::new();
        for (b, at) in [(&b1, loc(1)), (&b2, loc(2))] {
            if at > replay_from {
                out.extend(replay.push(b, at));
            }
        }
        out.extend(replay.flush_all());
        stored.extend(
            out.iter()
                .filter_map(|n| n.after(emitted))
                .map(|r| Normalized {
                    record: r.into_owned(),
                    from: WalLocation::default(),
                    at: WalLocation::default(),
                    lines: Vec::new(),
                }),
        );
        assert_eq!(
            messages(&stored),
            vec![
                (10, NODE[0].to_owned()),
                (11, format!("{}\n{}", NODE[1], NODE[2])),
            ]
        );
    }

    #[test]
    fn tagged_lines_of_many_requests_do_not_stay_open() {
        // Regression: every Rails line is tagged with its request id, and each stayed open
        // waiting for tagged backtrace lines, so a busy log made the open list (scanned per
        // line) grow without bound and records waited behind it.
        let lines: Vec<String> = (0..5000)
            .map(|i| {
                format!("I, [2026-11-22T13:14:55.004321 #1]  INFO -- : [{i:032x}] Completed 200 OK in 1ms")
            })
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut n = Normalizer::new();
        let out = n.push(&batch("shop", "log", None, 0, 0, &refs), loc(1));
        assert_eq!(out.len(), 4999, "all but the last line are complete");
        assert!(n.streams.values().all(|s| s.open.len() <= 1));

        // A FATAL event stays open for its tagged backtrace across another request's line.
        let fatal = [
            "F, [2026-11-22T13:14:55.005892 #1] FATAL -- : [c6233bf5-fced-41ef-90de-001a3333fca4]   ",
            "I, [2026-11-22T13:14:55.006340 #1]  INFO -- : [beb66ef6-ec6a-4bdc-ad6e-22f8b5dc6614] Started GET",
            "[c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:42:in `block in <main>'",
        ];
        let mut n = Normalizer::new();
        let mut out = n.push(&batch("shop", "log", None, 0, 0, &fatal), loc(1));
        out.extend(n.flush_all());
        assert_eq!(
            messages(&out),
            vec![
                (0, format!("{}\n{}", fatal[0], fatal[2])),
                (1, fatal[1].to_owned())
            ]
        );
    }

    #[test]
    fn far_future_times_are_kept_as_written_and_flagged() {
        let mut n = Normalizer::new();
        let line = "2031-01-01T00:00:00Z ERROR from the future";
        let out = n.push(&batch("api", "stdout", None, 1, 0, &[line]), loc(1));
        let out = if out.is_empty() { n.flush_all() } else { out };
        let r = &out[0].record.record;
        assert_eq!(r.time, r.received);
        assert_eq!(r.fields["time_written"], "2031-01-01T00:00:00Z");
        assert_eq!(r.fields["time_out_of_range"], true);
        assert_eq!(r.level, Some(Level::Error));
    }

    const MIX: &[&str] = &[
        "GET / 200",
        "Error: connect ECONNREFUSED 127.0.0.1:9",
        "    at TCPConnectWrap.afterConnect (node:net:1611:16)",
        "Traceback (most recent call last):",
        "ValueError: boom",
        "",
        "app.rb:42:in `block in <main>'",
        "F, [2026-11-22T13:14:55.005892 #15971] FATAL -- : [c6233bf5-fced-41ef-90de-001a3333fca4]   ",
        "[c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:39:in `each'",
        "I, [2026-11-22T13:14:55.006340 #15971]  INFO -- : [beb66ef6-ec6a-4bdc-ad6e-22f8b5dc6614] Started",
        "[2026-11-22 13:11:37 +0000] [13778] [ERROR] Error handling request GET /boom",
        "{\"level\":50,\"msg\":\"failed\"}",
        "2026-11-22T13:07:27:     at f (node:net:1611:16)",
    ];

    proptest::proptest! {
        #[test]
        fn every_line_lands_in_exactly_one_record_and_each_app_comes_out_in_id_order(
            batches in proptest::collection::vec(
                (
                    0usize..3,
                    0i64..600,
                    proptest::collection::vec(proptest::sample::select(MIX), 1..6),
                ),
                1..25,
            ),
            idle_at in proptest::option::of(0usize..25),
        ) {
            let mut n = Normalizer::new();
            let (mut out, mut next_id, mut ms) = (Vec::new(), 0u64, 0i64);
            let mut texts = BTreeMap::new();
            for (i, (stream, gap, lines)) in batches.iter().enumerate() {
                ms += gap;
                let name = ["stdout", "stderr", "app.log"][*stream];
                let b = batch("app", name, None, next_id, ms, lines);
                for (k, l) in lines.iter().enumerate() {
                    texts.insert(next_id + k as u64, *l);
                }
                next_id += lines.len() as u64;
                out.extend(n.push(&b, loc(i as u64 + 1)));
                if idle_at == Some(i) {
                    let now = b.received + SignedDuration::from_secs(1);
                    out.extend(n.flush_idle(now));
                }
            }
            out.extend(n.flush_all());
            let mut seen = BTreeMap::new();
            for r in &out {
                let message = &r.record.record.message;
                let mut starts = vec![(r.record.id, 0usize)];
                starts.extend(r.lines.iter().copied());
                for (k, (id, at)) in starts.iter().enumerate() {
                    let end = starts.get(k + 1).map_or(message.len(), |(_, next)| next - 1);
                    proptest::prop_assert!(seen.insert(*id, &message[*at..end]).is_none(), "line {} twice", id);
                }
            }
            proptest::prop_assert_eq!(seen, texts.iter().map(|(k, v)| (*k, *v)).collect::<BTreeMap<_, _>>());
            let ids: Vec<u64> = out.iter().map(|r| r.record.id).collect();
            proptest::prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids out of order: {:?}", ids);
        }
    }

    #[test]
    fn zones_are_names_or_offsets() {
        assert_eq!(
            zone("+05:30").to_offset(Timestamp::UNIX_EPOCH).seconds(),
            19800
        );
        assert_eq!(zone("Europe/Paris").iana_name(), Some("Europe/Paris"));
        assert_eq!(zone("nowhere"), TimeZone::UTC);
    }

    #[test]
    fn implausible_shipper_clocks_fall_back_to_receive_time() {
        let received: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let ok: Timestamp = "2026-11-23T09:59:00Z".parse().expect("ts");
        assert_eq!(fallback_time(ok, received), ok);
        let future: Timestamp = "2026-11-23T11:00:00Z".parse().expect("ts");
        assert_eq!(fallback_time(future, received), received);
        let ancient: Timestamp = "1970-01-01T00:00:00Z".parse().expect("ts");
        assert_eq!(fallback_time(ancient, received), received);
    }
}
