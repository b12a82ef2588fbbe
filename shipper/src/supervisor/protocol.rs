//! supervisord's event listener protocol (supervisor 3.x/4.x, envelope `ver:3.0`): pure
//! framing and parsing over any `BufRead`/`Write`, no I/O of its own.
//!
//! The listener writes `READY\n`; supervisord writes one envelope, a header line
//!
//! ```text
//! ver:3.0 server:supervisor serial:21 pool:logq poolserial:10 eventname:PROCESS_LOG_STDOUT len:54
//! ```
//!
//! then a payload of exactly `len` *characters* of UTF-8 (supervisor 4 measures the Python
//! `str`, so `é` counts one though it takes two bytes); the listener answers `RESULT 2\nOK`
//! or `RESULT 4\nFAIL` (supervisord sends a failed event again) and writes `READY\n` for the
//! next one. Nothing else may ever go to the listener's stdout: supervisord takes any other
//! byte as a protocol violation and stops sending events to that listener.
//!
//! A `PROCESS_LOG_*` payload is `processname:X groupname:Y pid:Z channel:stdout\n<data>`,
//! where `<data>` is one raw read of the program's pipe (up to 128 KiB, lines cut anywhere).
//! supervisord decodes it as UTF-8 to build the payload; when it is not valid UTF-8 it sends
//! `Undecodable: ` and the Python `repr()` of the bytes instead (`b'caf\xc3'`), which
//! [`decode_data`] turns back into the original bytes.
//!
//! Errors come in two kinds. A [`ReadError`] means the byte stream itself is broken (a header
//! that cannot be parsed, a `len` over [`MAX_PAYLOAD_CHARS`], stdin ending inside an event):
//! where the next envelope starts is unknown, so the stream cannot go on. A [`PayloadError`]
//! concerns one well-framed event whose payload makes no sense: the stream goes on.
//! "Not enough bytes yet" is never an error here: the reads block until supervisord writes.

use std::borrow::Cow;
use std::io::{self, BufRead, Read, Write};

use thiserror::Error;

/// The longest header line accepted, newline included.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The longest payload accepted, in characters. supervisord reads at most 128 KiB from a pipe
/// at once and its `repr()` of undecodable bytes takes at most 4 characters a byte; this
/// leaves room for `PROCESS_COMMUNICATION` captures too.
pub const MAX_PAYLOAD_CHARS: usize = 4 * 1024 * 1024;

/// What the listener writes when it can take an event.
pub const READY: &[u8] = b"READY\n";

/// The listener's answer to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The event is handled (for a log event: safely on disk).
    Ok,
    /// The event could not be handled now; supervisord sends it again.
    Fail,
}

impl Answer {
    /// The bytes of the answer, exactly as supervisord expects them.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Answer::Ok => b"RESULT 2\nOK",
            Answer::Fail => b"RESULT 4\nFAIL",
        }
    }
}

/// Writes `READY\n` and flushes.
pub fn write_ready(w: &mut impl Write) -> io::Result<()> {
    w.write_all(READY)?;
    w.flush()
}

/// Writes the answer to the current event, then `READY\n` when `ready` (one write, so
/// supervisord gets both at once), and flushes.
pub fn write_answer(w: &mut impl Write, answer: Answer, ready: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(answer.bytes());
    if ready {
        out.extend_from_slice(READY);
    }
    w.write_all(&out)?;
    w.flush()
}

/// Why the byte stream from supervisord cannot be read on.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("malformed event header {line:?}: {reason}")]
    BadHeader { line: String, reason: String },
    #[error("event header longer than {MAX_HEADER_BYTES} bytes")]
    HeaderTooLong,
    #[error("event len {len} is over the maximum of {MAX_PAYLOAD_CHARS} characters")]
    PayloadTooLong { len: usize },
    #[error("stdin ended inside an event ({0})")]
    Truncated(&'static str),
    #[error("cannot read stdin: {0}")]
    Io(#[from] io::Error),
}

/// Why one well-framed event cannot be used (the stream goes on).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("{event} payload has no header line")]
    NoHeaderLine { event: String },
    #[error("{event} payload header {line:?} lacks {field}")]
    Missing {
        event: String,
        line: String,
        field: &'static str,
    },
    #[error("{event} payload header {line:?}: pid {pid:?} is not a process id")]
    BadPid {
        event: String,
        line: String,
        pid: String,
    },
}

/// An envelope's header line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub ver: String,
    /// supervisord's `identifier` (`supervisor` unless configured).
    pub server: String,
    /// The event's serial across all pools of this supervisord run.
    pub serial: String,
    /// The listener pool (the `[eventlistener:x]` name).
    pub pool: String,
    /// The event's serial within the pool.
    pub poolserial: String,
    /// `PROCESS_LOG_STDOUT`, `PROCESS_STATE_RUNNING`, `TICK_5`, ...
    pub eventname: String,
    /// Payload length in characters.
    pub len: usize,
}

/// Reads the next header line; `None` when stdin ends between events.
pub fn read_header(r: &mut impl BufRead) -> Result<Option<Header>, ReadError> {
    let mut line = Vec::new();
    r.by_ref()
        .take(MAX_HEADER_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_HEADER_BYTES {
            ReadError::HeaderTooLong
        } else {
            ReadError::Truncated("in its header")
        });
    }
    line.pop();
    let text = String::from_utf8_lossy(&line);
    parse_header(&text).map(Some)
}

/// Parses a header line (without its newline): space-separated `key:value` tokens. Values
/// with spaces (an `identifier` may hold some) are put back together; unknown keys are
/// ignored; `eventname` and a `len` within bounds are required.
pub fn parse_header(line: &str) -> Result<Header, ReadError> {
    let bad = |reason: &str| ReadError::BadHeader {
        line: line.chars().take(200).collect(),
        reason: reason.to_owned(),
    };
    const KEYS: [&str; 7] = [
        "ver",
        "server",
        "serial",
        "pool",
        "poolserial",
        "eventname",
        "len",
    ];
    let mut fields: Vec<(&str, String)> = Vec::new();
    for token in line.split(' ') {
        let key = token
            .split_once(':')
            .map(|(k, _)| k)
            .filter(|k| KEYS.contains(k));
        match (key, fields.last_mut()) {
            (Some(key), _) => fields.push((key, token[key.len() + 1..].to_owned())),
            (None, Some((_, value))) => {
                value.push(' ');
                value.push_str(token);
            }
            (None, None) => return Err(bad("it does not start with a key:value token")),
        }
    }
    let get = |key: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    };
    let eventname = get("eventname").ok_or_else(|| bad("no eventname"))?;
    if eventname.is_empty() || eventname.contains(' ') {
        return Err(bad("eventname is not one word"));
    }
    let len = get("len").ok_or_else(|| bad("no len"))?;
    let len: usize = len
        .parse()
        .map_err(|_| bad("len is not a number of characters"))?;
    if len > MAX_PAYLOAD_CHARS {
        return Err(ReadError::PayloadTooLong { len });
    }
    Ok(Header {
        ver: get("ver").unwrap_or_default(),
        server: get("server").unwrap_or_default(),
        serial: get("serial").unwrap_or_default(),
        pool: get("pool").unwrap_or_default(),
        poolserial: get("poolserial").unwrap_or_default(),
        eventname,
        len,
    })
}

/// Reads exactly `chars` UTF-8 characters and returns their bytes. supervisord sends nothing
/// past the payload until it has an answer, so this must stop at the last byte of the last
/// character: a lead byte says how many continuation bytes follow it. Bytes that are not
/// UTF-8 (supervisord never sends any) count one character each, so a broken stream cannot
/// make this read past the envelope by more than a character's tail.
pub fn read_payload(r: &mut impl BufRead, chars: usize) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::with_capacity(chars.min(256 * 1024));
    let mut left = chars;
    let mut continuation = 0usize;
    while left > 0 || continuation > 0 {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(ReadError::Truncated("in its payload"));
        }
        let mut used = 0;
        for &b in buf {
            if continuation > 0 {
                if b & 0xC0 == 0x80 {
                    continuation -= 1;
                    used += 1;
                    continue;
                }
                // A sequence cut short: the character is already counted.
                continuation = 0;
            }
            if left == 0 {
                break;
            }
            left -= 1;
            used += 1;
            continuation = match b {
                0xC2..=0xDF => 1,
                0xE0..=0xEF => 2,
                0xF0..=0xF4 => 3,
                _ => 0,
            };
            if left == 0 && continuation == 0 {
                break;
            }
        }
        out.extend_from_slice(&buf[..used]);
        r.consume(used);
    }
    Ok(out)
}

/// One envelope: its header and its payload as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub header: Header,
    pub payload: String,
}

impl Envelope {
    /// The envelope of `header` and the payload bytes [`read_payload`] read (bytes that are
    /// not UTF-8, which supervisord never sends, become U+FFFD).
    pub fn new(header: Header, payload: Vec<u8>) -> Envelope {
        let payload = match String::from_utf8(payload) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Envelope { header, payload }
    }
}

/// Reads one whole envelope; `None` when stdin ends between events.
pub fn read_envelope(r: &mut impl BufRead) -> Result<Option<Envelope>, ReadError> {
    let Some(header) = read_header(r)? else {
        return Ok(None);
    };
    let payload = read_payload(r, header.len)?;
    Ok(Some(Envelope::new(header, payload)))
}

/// Which output of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Stdout,
    Stderr,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "stdout" => Some(Channel::Stdout),
            "stderr" => Some(Channel::Stderr),
            _ => None,
        }
    }
}

/// A `PROCESS_LOG_STDOUT` or `PROCESS_LOG_STDERR` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent<'a> {
    /// The program's process name (`process_name`, `%(program_name)s` unless set).
    pub process: &'a str,
    /// Its group (the program name, or the `[group:x]` it belongs to).
    pub group: &'a str,
    pub pid: u32,
    pub channel: Channel,
    /// The bytes the program wrote, as they were (undecodable data decoded back).
    pub data: Cow<'a, [u8]>,
}

/// What an event is to this listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    Log(LogEvent<'a>),
    /// Any other event (`PROCESS_STATE_*`, `TICK_*`, ...): answered OK and ignored.
    Other,
}

/// Makes sense of an envelope's payload.
pub fn parse_event(envelope: &Envelope) -> Result<Event<'_>, PayloadError> {
    let name = envelope.header.eventname.as_str();
    let channel = match name {
        "PROCESS_LOG_STDOUT" => Channel::Stdout,
        "PROCESS_LOG_STDERR" => Channel::Stderr,
        _ => return Ok(Event::Other),
    };
    let event = || name.to_owned();
    let (line, data) = envelope
        .payload
        .split_once('\n')
        .ok_or_else(|| PayloadError::NoHeaderLine { event: event() })?;
    let missing = |field| PayloadError::Missing {
        event: event(),
        line: line.chars().take(200).collect(),
        field,
    };
    // Names come first and may hold what other fields hold; pid and channel never have
    // spaces: take the fields from the right.
    let (rest, channel_field) = line
        .rsplit_once(" channel:")
        .ok_or_else(|| missing("channel"))?;
    let (rest, pid) = rest.rsplit_once(" pid:").ok_or_else(|| missing("pid"))?;
    let (process, group) = rest
        .rsplit_once(" groupname:")
        .ok_or_else(|| missing("groupname"))?;
    let process = process
        .strip_prefix("processname:")
        .ok_or_else(|| missing("processname"))?;
    let pid = match pid.parse::<u32>() {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(PayloadError::BadPid {
                event: event(),
                line: line.chars().take(200).collect(),
                pid: pid.to_owned(),
            });
        }
    };
    Ok(Event::Log(LogEvent {
        process,
        group,
        pid,
        channel: Channel::parse(channel_field).unwrap_or(channel),
        data: decode_data(data),
    }))
}

/// The bytes a program wrote, from the data of a log event.
///
/// supervisord sends data that is not valid UTF-8 as `Undecodable: ` followed by Python's
/// `repr()` of the bytes. Data is taken for such a literal only when it is one *entirely*
/// and the bytes it stands for are not valid UTF-8 (otherwise supervisord would have sent
/// them as text). What stays ambiguous is inherent to the protocol: a program that writes
/// exactly such a line in one write, say `Undecodable: b'\xff'`, gets it decoded to the byte
/// it names (and shipped as U+FFFD, as every invalid byte is).
pub fn decode_data(data: &str) -> Cow<'_, [u8]> {
    if let Some(literal) = data.strip_prefix("Undecodable: ")
        && let Some(bytes) = python_bytes_literal(literal)
        && std::str::from_utf8(&bytes).is_err()
    {
        return Cow::Owned(bytes);
    }
    Cow::Borrowed(data.as_bytes())
}

/// Parses a Python bytes literal as `repr()` writes it: `b'...'`, or `b"..."` when the bytes
/// hold a `'` but no `"`; printable ASCII as is, and the escapes `\\`, `\'`, `\"`, `\t`,
/// `\n`, `\r`, `\xHH`. Anything else (another escape, an unescaped closing quote, a
/// character outside printable ASCII, text after the closing quote) is not such a literal.
pub fn python_bytes_literal(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    let (&quote, body) = s.strip_prefix(b"b")?.split_first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let (&last, body) = body.split_last()?;
    if last != quote {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        match c {
            b'\\' => {
                let e = *body.get(i)?;
                i += 1;
                out.push(match e {
                    b'\\' | b'\'' | b'"' => e,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b'x' => {
                        let hex = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                        i += 2;
                        u8::from_str_radix(hex, 16).ok()?
                    }
                    _ => return None,
                });
            }
            _ if c == quote => return None,
            0x20..=0x7E => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/supervisor")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Python's `repr()` of bytes, as supervisord puts it after `Undecodable: `.
    pub(crate) fn py_repr(bytes: &[u8]) -> String {
        let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
            '"'
        } else {
            '\''
        };
        let mut s = format!("b{quote}");
        for &b in bytes {
            match b {
                b'\\' => s.push_str("\\\\"),
                b'\t' => s.push_str("\\t"),
                b'\n' => s.push_str("\\n"),
                b'\r' => s.push_str("\\r"),
                b'\'' if quote == '\'' => s.push_str("\\'"),
                0x20..=0x7E => s.push(b as char),
                _ => s.push_str(&format!("\\x{b:02x}")),
            }
        }
        s.push(quote);
        s
    }

    /// The envelope supervisord 4 writes for a chunk of program output.
    pub(crate) fn envelope(
        serial: u64,
        process: &str,
        pid: u32,
        stderr: bool,
        data: &[u8],
    ) -> Vec<u8> {
        let text = match std::str::from_utf8(data) {
            Ok(s) => s.to_owned(),
            Err(_) => format!("Undecodable: {}", py_repr(data)),
        };
        let channel = if stderr { "stderr" } else { "stdout" };
        let payload = format!(
            "processname:{process} groupname:{process} pid:{pid} channel:{channel}\n{text}"
        );
        let name = if stderr {
            "PROCESS_LOG_STDERR"
        } else {
            "PROCESS_LOG_STDOUT"
        };
        format!(
            "ver:3.0 server:supervisor serial:{serial} pool:logq poolserial:{serial} eventname:{name} len:{}\n{payload}",
            payload.chars().count()
        )
        .into_bytes()
    }

    #[test]
    fn reads_every_event_supervisord_wrote_in_the_sample() {
        let raw = sample("listener-stdin.bin");
        let mut r = Cursor::new(&raw[..]);
        let mut names = Vec::new();
        let mut stdout_of_worker = Vec::new();
        let mut burst = Vec::new();
        while let Some(env) = read_envelope(&mut r).expect("well framed") {
            names.push(env.header.eventname.clone());
            match parse_event(&env).expect("payload") {
                Event::Log(log) if log.process == "osm-worker" => {
                    assert_eq!((log.group, log.pid), ("osm-worker", 13513));
                    if log.channel == Channel::Stdout {
                        stdout_of_worker.extend_from_slice(&log.data);
                    }
                }
                Event::Log(log) => {
                    assert_eq!(
                        (log.process, log.pid, log.channel),
                        ("osm-burst", 13512, Channel::Stdout)
                    );
                    burst.extend_from_slice(&log.data);
                }
                Event::Other => assert!(env.header.eventname.starts_with("PROCESS_STATE")),
            }
        }
        assert_eq!(r.position() as usize, raw.len(), "every byte was consumed");
        assert_eq!(names.len(), 39);
        // Lines assemble across events; "héllo ✓" was the event whose len (100 characters)
        // is not its size in bytes (103).
        let text = String::from_utf8(stdout_of_worker).expect("utf-8");
        assert_eq!(
            text,
            "osm-worker starting\ntick 1\ntick 2\ntick 3\npartial line no newline... rest\nline A\nline B\nunicode: héllo ✓ and a tab\tend\n"
        );
        // The burst: 2000 lines over three events, the last sent as `Undecodable: b'...'`.
        let mut expected: Vec<u8> = (0..2000)
            .flat_map(|i| format!("burst line {i:05} {}\n", "x".repeat(60)).into_bytes())
            .collect();
        expected.extend_from_slice(b"invalid utf8 follows: \xff\xfe\xfd end\n");
        assert!(
            burst == expected,
            "the burst and its invalid bytes come back exactly"
        );
    }

    #[test]
    fn the_header_of_the_sample_parses() {
        let h = parse_header(
            "ver:3.0 server:supervisor serial:3 pool:logsink poolserial:3 eventname:PROCESS_LOG_STDOUT len:64963",
        )
        .expect("header");
        assert_eq!(
            h,
            Header {
                ver: "3.0".into(),
                server: "supervisor".into(),
                serial: "3".into(),
                pool: "logsink".into(),
                poolserial: "3".into(),
                eventname: "PROCESS_LOG_STDOUT".into(),
                len: 64963,
            }
        );
        let spaced = parse_header(
            "ver:3.0 server:my box serial:1 pool:p poolserial:1 eventname:TICK_5 len:0",
        )
        .expect("an identifier with a space");
        assert_eq!(spaced.server, "my box");
    }

    #[test]
    fn a_bad_header_or_len_is_a_clear_error_that_stops_the_stream() {
        let cases: [(&[u8], &str); 6] = [
            (b"hello there\n", "does not start with a key:value token"),
            (
                b"ver:3.0 server:s serial:1 pool:p poolserial:1 len:5\n",
                "no eventname",
            ),
            (b"ver:3.0 eventname:PROCESS_LOG_STDOUT\n", "no len"),
            (
                b"ver:3.0 eventname:PROCESS_LOG_STDOUT len:-4\n",
                "len is not a number",
            ),
            (
                b"ver:3.0 eventname:PROCESS_LOG_STDOUT len:99999999\n",
                "over the maximum",
            ),
            (
                b"ver:3.0 eventname:PROCESS_LOG_STDOUT len:10\nshort",
                "stdin ended inside an event",
            ),
        ];
        for (input, says) in cases {
            let err = read_envelope(&mut Cursor::new(input)).expect_err("malformed");
            assert!(err.to_string().contains(says), "{err} (wanted {says:?})");
        }
        let long = vec![b'x'; MAX_HEADER_BYTES + 10];
        let err = read_envelope(&mut Cursor::new(long)).expect_err("too long");
        assert!(matches!(err, ReadError::HeaderTooLong), "{err}");
        assert!(read_envelope(&mut Cursor::new(b"")).expect("eof").is_none());
    }

    #[test]
    fn a_bad_payload_header_is_an_error_of_that_event_only() {
        let env = |payload: &str| Envelope {
            header: Header {
                eventname: "PROCESS_LOG_STDERR".into(),
                len: payload.chars().count(),
                ..Default::default()
            },
            payload: payload.into(),
        };
        let e = env("no newline at all");
        assert!(matches!(
            parse_event(&e),
            Err(PayloadError::NoHeaderLine { .. })
        ));
        let e = env("processname:a groupname:a channel:stderr\ndata");
        assert_eq!(
            parse_event(&e).expect_err("no pid").to_string(),
            "PROCESS_LOG_STDERR payload header \"processname:a groupname:a channel:stderr\" lacks pid"
        );
        let e = env("processname:a groupname:a pid:0 channel:stderr\ndata");
        assert!(matches!(parse_event(&e), Err(PayloadError::BadPid { .. })));
        let e = env("processname:a b groupname:g pid:7 channel:stderr\nx y\n");
        let Ok(Event::Log(log)) = parse_event(&e) else {
            panic!("a process name with a space")
        };
        assert_eq!((log.process, log.group, log.pid), ("a b", "g", 7));
        assert_eq!(&log.data[..], b"x y\n");
    }

    #[test]
    fn len_counts_characters_and_reading_stops_at_the_last_byte() {
        let text = "héllo ✓ 𝄞";
        let mut input = text.as_bytes().to_vec();
        input.extend_from_slice(b"NEXT");
        let mut r = Cursor::new(input);
        let got = read_payload(&mut r, text.chars().count()).expect("payload");
        assert_eq!(got, text.as_bytes());
        assert_eq!(
            r.position() as usize,
            text.len(),
            "nothing past the payload was taken"
        );
    }

    #[test]
    fn undecodable_data_is_decoded_back_only_when_it_is_a_literal_of_invalid_bytes() {
        assert_eq!(&decode_data("Undecodable: b'a\\xffb'")[..], b"a\xffb");
        assert_eq!(
            &decode_data(r#"Undecodable: b"it's \xc3""#)[..],
            b"it's \xc3"
        );
        assert_eq!(
            &decode_data("Undecodable: b'\\\\ \\' \\t\\r\\n\\x00'\\x80")[..],
            "Undecodable: b'\\\\ \\' \\t\\r\\n\\x00'\\x80".as_bytes(),
            "text after the quote"
        );
        // Valid UTF-8 would have been sent as text: this one is what the program wrote.
        assert_eq!(
            &decode_data("Undecodable: b'abc'")[..],
            b"Undecodable: b'abc'"
        );
        assert_eq!(
            &decode_data("Undecodable: b'\\q'")[..],
            b"Undecodable: b'\\q'"
        );
        assert_eq!(
            &decode_data("Undecodable: b'it's'")[..],
            b"Undecodable: b'it's'"
        );
        assert_eq!(&decode_data("plain text\n")[..], b"plain text\n");
        for bytes in [&b"\xff"[..], b"'\"\xfe", b"'\xfe", b"\\\t\r\n\x7f\x80"] {
            assert_eq!(
                python_bytes_literal(&py_repr(bytes)).as_deref(),
                Some(bytes)
            );
        }
    }

    #[test]
    fn answers_are_the_exact_bytes_supervisord_expects() {
        let mut out = Vec::new();
        write_ready(&mut out).expect("write");
        write_answer(&mut out, Answer::Ok, true).expect("write");
        write_answer(&mut out, Answer::Fail, false).expect("write");
        assert_eq!(out, b"READY\nRESULT 2\nOKREADY\nRESULT 4\nFAIL");
        let listener = sample("listener-stdout.bin");
        assert!(listener.starts_with(b"READY\nRESULT 2\nOKREADY\n"));
    }

    proptest! {
        /// Any bytes, cut into reads anywhere (through characters too) and framed as
        /// supervisord frames them, come back exactly.
        #[test]
        fn arbitrary_output_cut_into_events_round_trips(
            data in proptest::collection::vec(
                prop_oneof![
                    4 => any::<u8>(),
                    4 => proptest::sample::select(b"ab\n\\'\" \t\r".to_vec()),
                    1 => Just(0xC3u8),
                    1 => Just(0xA9u8),
                ],
                0..600,
            ),
            cuts in proptest::collection::vec(0usize..600, 0..12),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c < data.len()).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            cuts.dedup();
            let mut stream = Vec::new();
            for (i, w) in cuts.windows(2).enumerate() {
                stream.extend(envelope(i as u64, "app", 42, i % 2 == 1, &data[w[0]..w[1]]));
            }
            let mut r = Cursor::new(stream);
            let mut got = Vec::new();
            while let Some(env) = read_envelope(&mut r).expect("framed") {
                match parse_event(&env).expect("payload") {
                    Event::Log(log) => got.extend_from_slice(&log.data),
                    Event::Other => panic!("a log event"),
                }
            }
            prop_assert_eq!(got, data);
        }
    }
}
