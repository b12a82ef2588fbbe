//! The fuzz targets of logq, as plain functions over bytes.
//!
//! Each target must not panic on any input, and checks the invariants that are cheap to check
//! with `assert!`, so that a broken one is a crash the fuzzer reports. The libFuzzer binaries in
//! `fuzz_targets/` call these functions; the workspace's `tests/fuzz_corpus.rs` includes this
//! file as a module (`#[path]`) and replays the seed corpora through [`TARGETS`] in CI. So this
//! file uses only crates both have: `logq-collector`, `logq-schemas`, `tokio-util`,
//! `serde_json` and `jiff`.
//!
//! Parsers take `&str`: bytes that are not UTF-8 are read as the shipper sends them, with
//! U+FFFD in place of invalid sequences.

use std::borrow::Cow;
use std::sync::LazyLock;

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use logq_collector::normalize::detect::{Reading, StreamFormat};
use logq_collector::normalize::format::{Context, Format};
use logq_collector::normalize::formats;
use logq_collector::normalize::{Normalized, Normalizer};
use logq_collector::query::{MAX_DEPTH, Query};
use logq_collector::wal::{StreamMeta, WalBatch, WalLocation};
use logq_schemas::udp::{MAX_DATAGRAM_BYTES, UdpBatch};
use logq_schemas::{
    Frame, FrameCodec, FrameError, Line, app_name_from, validate_app_name, validate_stream_fields,
};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

/// A fuzz target: its name (the `[[bin]]` in `fuzz/Cargo.toml`, the directory of its seeds
/// under `fuzz/corpus/`) and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target. `tests/fuzz_corpus.rs` checks that each has a binary and seeds, and that each
/// registered log format has a `format_<name>` target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "frame_codec",
        run: frame_codec,
    },
    Target {
        name: "udp_datagram",
        run: udp_datagram,
    },
    Target {
        name: "http_ingest",
        run: http_ingest,
    },
    Target {
        name: "format_pm2",
        run: format_pm2,
    },
    Target {
        name: "format_rails",
        run: format_rails,
    },
    Target {
        name: "format_sidekiq",
        run: format_sidekiq,
    },
    Target {
        name: "format_gunicorn",
        run: format_gunicorn,
    },
    Target {
        name: "format_nginx_error",
        run: format_nginx_error,
    },
    Target {
        name: "format_access",
        run: format_access,
    },
    Target {
        name: "format_syslog",
        run: format_syslog,
    },
    Target {
        name: "format_lograge_kv",
        run: format_lograge_kv,
    },
    Target {
        name: "format_json",
        run: format_json,
    },
    Target {
        name: "format_plain",
        run: format_plain,
    },
    Target {
        name: "detect",
        run: detect,
    },
    Target {
        name: "normalize",
        run: normalize,
    },
    Target {
        name: "query_parse",
        run: query_parse,
    },
];

// ---------------------------------------------------------------------------------------------
// Wire formats

/// Decodes the bytes as a TCP stream of frames until the codec wants more bytes or the stream
/// cannot go on. Checks that each result consumes exactly its frame, that bytes arriving in two
/// reads decode as they do in one, and that every decoded frame encodes and decodes back to
/// itself.
pub fn frame_codec(data: &[u8]) {
    let whole = decode_frames(&[data]);
    let (a, b) = data.split_at(data.len() / 2);
    assert_eq!(
        decode_frames(&[a, b]),
        whole,
        "the same bytes in two reads decode differently"
    );
    for frame in whole.iter().filter_map(|d| d.frame.as_ref()) {
        check_frame(frame);
        // Re-encoding may grow a frame a little (`"streams":[]` written out), so the round trip
        // uses a codec without the default maximum.
        let mut codec = FrameCodec::new(usize::MAX >> 1);
        let mut buf = BytesMut::new();
        codec
            .encode(frame, &mut buf)
            .expect("a decoded frame encodes");
        let again = codec.decode(&mut buf).expect("an encoded frame decodes");
        assert_eq!(
            again.as_ref(),
            Some(frame),
            "the round trip changed the frame"
        );
        assert!(buf.is_empty(), "the round trip left bytes behind");
    }
}

/// What one `decode` call gave: a frame, or an error's kind (`framing_intact`), and the bytes
/// it consumed.
#[derive(Debug, PartialEq)]
struct Decoded {
    frame: Option<Frame>,
    malformed: bool,
    consumed: usize,
}

/// Feeds `reads` to a default codec one after the other, decoding all it can after each.
fn decode_frames(reads: &[&[u8]]) -> Vec<Decoded> {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            let before = buf.len();
            let prefix = buf
                .get(..4)
                .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize);
            match codec.decode(&mut buf) {
                Ok(None) => {
                    assert_eq!(buf.len(), before, "`Ok(None)` consumed bytes");
                    assert!(
                        prefix.is_none_or(|len| before < 4 + len),
                        "`Ok(None)` with a whole frame buffered"
                    );
                    break;
                }
                Ok(Some(frame)) => {
                    out.push(Decoded {
                        frame: Some(frame),
                        malformed: false,
                        consumed: before - buf.len(),
                    });
                }
                Err(e) => {
                    let malformed = e.framing_intact();
                    out.push(Decoded {
                        frame: None,
                        malformed,
                        consumed: before - buf.len(),
                    });
                    if !malformed {
                        assert!(
                            matches!(e, FrameError::TooLarge { len, max }
                                if len as usize > max && Some(len as usize) == prefix),
                            "unexpected error {e}"
                        );
                        return out;
                    }
                }
            }
            let last = out.last().expect("a result was pushed");
            let len = prefix.expect("a frame was decoded, so a prefix was there");
            assert_eq!(
                last.consumed,
                4 + len,
                "a frame consumed other than its length"
            );
        }
    }
    out
}

/// What the collector checks in frames does not panic, and app names it accepts are safe as a
/// path component.
fn check_frame(frame: &Frame) {
    let streams = match frame {
        Frame::Hello(h) => h.streams.as_slice(),
        Frame::Open(s) => std::slice::from_ref(s),
        _ => &[],
    };
    for s in streams {
        let _ = validate_stream_fields(&s.fields);
        check_app_name(&s.app);
    }
}

fn check_app_name(app: &str) {
    if validate_app_name(app).is_ok() {
        assert!(
            app != "." && app != ".." && !app.contains(['/', '\\', '\0', '\n']),
            "unsafe app name {app:?} accepted"
        );
    }
    let mapped = app_name_from(app);
    assert_eq!(
        validate_app_name(&mapped),
        Ok(()),
        "{app:?} mapped to the invalid {mapped:?}"
    );
}

/// Reads the bytes as one UDP datagram, as the collector does: above the size limit it is
/// refused unread; a batch that parses serializes and parses back to itself.
pub fn udp_datagram(data: &[u8]) {
    if data.len() > MAX_DATAGRAM_BYTES {
        return;
    }
    // The collector's own decoder (protocol, app, host and stream checks) never lets a bad
    // app name through.
    if let Ok(app) = logq_collector::fuzzing::udp_decode(data) {
        check_app_name(&app);
    }
    let Ok(batch) = serde_json::from_slice::<UdpBatch>(data) else {
        return;
    };
    check_app_name(&batch.app);
    let bytes = serde_json::to_vec(&batch).expect("a batch serializes");
    let again: UdpBatch = serde_json::from_slice(&bytes).expect("a serialized batch parses");
    assert_eq!(again, batch, "the round trip changed the batch");
}

/// `POST /api/v1/ingest` bodies: any bytes are a 400 with a reason or an accepted body whose
/// app name is safe to use in a path.
pub fn http_ingest(data: &[u8]) {
    match logq_collector::fuzzing::http_ingest_body(data) {
        Ok(app) => check_app_name(&app),
        Err(reason) => assert!(!reason.is_empty(), "a refusal says why"),
    }
}

// ---------------------------------------------------------------------------------------------
// Log formats

/// The contexts every line is parsed in: UTC, and a far offset received just after New Year
/// (formats without a year take it from the receive time).
static CONTEXTS: LazyLock<[Context; 2]> = LazyLock::new(|| {
    [
        Context::utc(at("2026-11-23T10:00:00Z")),
        Context {
            tz: TimeZone::fixed(Offset::from_hours(14).expect("+14:00 is an offset")),
            received: at("2027-01-01T00:00:30Z"),
        },
    ]
});

fn at(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Parses the bytes as one line of the format `name`. The body must start on a character
/// boundary inside the line, field names must not be empty, and parsing twice must give the
/// same result.
fn format(name: &str, data: &[u8]) {
    let f = formats::by_name(name).expect("a registered format");
    let line = text(data);
    for cx in CONTEXTS.iter() {
        let parsed = f.parse(&line, cx);
        if let Some(p) = &parsed {
            check_parsed(f, &line, p);
        }
        assert_eq!(f.parse(&line, cx), parsed, "{name}: parsing again differs");
    }
}

fn check_parsed(f: &dyn Format, line: &str, p: &logq_collector::normalize::format::Parsed) {
    assert!(
        line.is_char_boundary(p.body),
        "{}: body at {} of a line of {} bytes, or inside a character",
        f.name(),
        p.body,
        line.len()
    );
    assert!(
        p.fields.iter().all(|(n, _)| !n.is_empty()),
        "{}: a field without a name",
        f.name()
    );
}

/// One function per registered format, so that a crash names its parser.
macro_rules! format_targets {
    ($($fn_name:ident => $format:literal),* $(,)?) => {
        $(
            #[doc = concat!("One line of the `", $format, "` format; see `format`.")]
            pub fn $fn_name(data: &[u8]) {
                format($format, data);
            }
        )*
    };
}

format_targets! {
    format_pm2 => "pm2",
    format_rails => "rails",
    format_sidekiq => "sidekiq",
    format_gunicorn => "gunicorn",
    format_nginx_error => "nginx_error",
    format_access => "access",
    format_syslog => "syslog",
    format_lograge_kv => "lograge_kv",
    format_json => "json",
    format_plain => "plain",
}

/// The shipper hints a stream may carry: none, every known one, and an unknown one.
const HINTS: &[Option<&str>] = &[
    None,
    Some("pm2"),
    Some("rails"),
    Some("lograge"),
    Some("gunicorn"),
    Some("sidekiq"),
    Some("nginx"),
    Some("apache"),
    Some("nginx_error"),
    Some("json"),
    Some("logfmt"),
    Some("syslog"),
    Some("plain"),
    Some("cobol"),
];

/// The first byte picks a hint; the rest are lines.
fn hint_and_lines(data: &[u8]) -> (Option<&'static str>, Cow<'_, str>) {
    match data.split_first() {
        Some((first, rest)) => (HINTS[usize::from(*first) % HINTS.len()], text(rest)),
        None => (None, Cow::Borrowed("")),
    }
}

/// Format detection over a stream's lines: a line read in a format is what that format parses
/// it as; a foreign line is one no candidate format parses.
pub fn detect(data: &[u8]) {
    let (hint, lines) = hint_and_lines(data);
    let candidates: Vec<&dyn Format> = match hint.and_then(formats::family) {
        Some(family) => family,
        None => formats::ALL
            .iter()
            .copied()
            .filter(|f| f.name() != "plain")
            .collect(),
    };
    let cx = &CONTEXTS[0];
    let mut stream = StreamFormat::new(hint);
    for line in lines.split('\n') {
        match stream.read(line, cx) {
            Reading::Parsed(f, p) => {
                check_parsed(f, line, &p);
                assert_eq!(
                    f.parse(line, cx).as_ref(),
                    Some(&p),
                    "detection read the line other than {} does",
                    f.name()
                );
            }
            Reading::Foreign => {
                for f in &candidates {
                    assert!(
                        f.parse(line, cx).is_none(),
                        "a line {} parses was called foreign",
                        f.name()
                    );
                }
            }
        }
        if let Some(chosen) = stream.chosen() {
            assert!(
                candidates.iter().any(|c| c.name() == chosen.name()),
                "{} chosen, not a candidate",
                chosen.name()
            );
        }
    }
}

/// The normalizer, which assembles multi-line events, over one app's lines. The first byte
/// picks the hint (and, with its high bit, whether batches alternate between two streams);
/// the rest are lines, in batches separated by `\x1e`. Each batch arrives 300 ms after the
/// one before, so that empty batches (`\x1e\x1e`) let events go idle, and the live idle timer
/// runs at each empty batch.
///
/// Every line must come out in exactly one record, as the first line of the record with its id
/// or a later line of another; records must come out in id order.
pub fn normalize(data: &[u8]) {
    let (hint, text) = hint_and_lines(data);
    let alternate = data.first().is_some_and(|b| b & 0x80 != 0);
    let start = at("2026-11-23T10:00:00Z");
    let mut n = Normalizer::new();
    let mut out: Vec<Normalized> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for (k, batch_text) in text.split('\x1e').enumerate() {
        let received = start + SignedDuration::from_millis(300 * k as i64);
        if batch_text.is_empty() {
            out.extend(n.flush_idle(received));
            continue;
        }
        let stream = if alternate && k % 2 == 1 {
            "stderr"
        } else {
            "stdout"
        };
        let texts: Vec<&str> = batch_text.split('\n').collect();
        let batch = WalBatch {
            first_id: lines.len() as u64,
            meta: StreamMeta {
                key: format!("fuzz/{stream}"),
                app: "app".into(),
                host: "host".into(),
                stream: stream.into(),
                format: hint.map(str::to_owned),
                tz: "+05:30".into(),
                fields: Default::default(),
            },
            read_at: received,
            received,
            lines: texts
                .iter()
                .zip(lines.len() as u64..)
                .map(|(t, id)| Line {
                    end: id + 1,
                    text: (*t).to_owned(),
                    split: false,
                    time: None,
                })
                .collect(),
        };
        lines.extend(&texts);
        let location = WalLocation {
            file: 1,
            offset: k as u64 + 1,
        };
        out.extend(n.push(&batch, location));
    }
    out.extend(n.flush_all());
    assert!(!n.has_open(), "an event stayed open after flush_all");

    let mut parts: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, r) in out.iter().enumerate() {
        let id = r.record.id;
        if i > 0 {
            assert!(out[i - 1].record.id < id, "records out of id order");
        }
        let message = &r.record.record.message;
        let first = lines.get(id as usize).expect("a record id is a line id");
        assert!(
            message.split('\n').next() == Some(*first),
            "record {id} does not start with its line"
        );
        parts.extend(message.split('\n'));
    }
    let mut expected = lines.clone();
    expected.sort_unstable();
    parts.sort_unstable();
    assert_eq!(parts, expected, "the records do not hold each line once");
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Parses the bytes as a query. A refused query points inside the text; a parsed one is well
/// formed and converts to a tantivy query that finds what the matcher matches.
pub fn query_parse(data: &[u8]) {
    let text = text(data);
    match Query::parse(&text) {
        Err(e) => assert!(
            e.at <= text.chars().count(),
            "error at character {} of a query of {}",
            e.at,
            text.chars().count()
        ),
        Ok(q) => {
            check_expr(q.expr(), 0);
            let _ = q.expr().to_string();
            logq_collector::fuzzing::query_agrees(&q);
        }
    }
}

/// What `Expr`'s documentation promises.
fn check_expr(e: &logq_collector::query::Expr, depth: usize) {
    use logq_collector::query::Expr;
    // Each level of nesting adds at most a `Not` and a group.
    assert!(depth <= 2 * MAX_DEPTH + 2, "nested deeper than MAX_DEPTH");
    match e {
        Expr::Phrase(t) | Expr::Prefix(t) => {
            assert!(!t.is_empty(), "an empty phrase");
            assert!(t.iter().all(|w| !w.is_empty()), "an empty word");
        }
        Expr::And(es) | Expr::Or(es) => {
            assert!(es.len() >= 2, "a group of {}", es.len());
            for e in es {
                assert!(!matches!(e, Expr::All), "`*` inside a group");
                check_expr(e, depth + 1);
            }
        }
        Expr::Not(e) => check_expr(e, depth + 1),
        _ => {}
    }
}
