//! pm2's log files and its `pm2 logs` console.
//!
//! Line shapes (see `tests/data/formats/pm2/`):
//!
//! ```text
//! {"message":"tick 1\n","timestamp":"2026-11-22T13:07:27.902Z","type":"out","process_id":2,"app_name":"osm-app-json"}
//! 2026-11-22T13:07:27: Error: connect ECONNREFUSED 127.0.0.1:9
//! 2026-11-22T13:07:30: PM2 log: App [osm-worker-cluster:11] starting in -cluster mode-
//! \e[31m0|osm-app  | \e[39mError: connect ECONNREFUSED 127.0.0.1:9
//! \e[34mPM2        | \e[39m2026-11-22T13:07:29: PM2 log: App [osm-cluster-merged:6] online
//! \e[2m\e[90m2026-11-22-13:08:02 \e[39m\e[22m\e[32m2|osm-app-json | \e[39m{"message":…}
//! timestamp=2026-11-22-13:08:02+0000 app=osm-app id=0 type=error message=Error: connect …
//! ```
//!
//! - `--log-type json` chunks (also in `pm2 logs --json`): one object per write, so `message` may
//!   hold several lines; `timestamp` is RFC 3339, zone-less with `--time` (the context's zone).
//!   Fields `stream` (`type`), `pm_id` (`process_id`), `program` (`app_name`); the body is the
//!   whole object.
//! - the `--time` prefix `YYYY-MM-DDTHH:mm:ss: ` in local time, without a zone (the context's
//!   zone); the daemon's own log (`$PM2_HOME/pm2.log`) has it too, then `PM2 log: ` or
//!   `PM2 error: ` (`program` is `PM2`, the body starts after the label).
//! - the `pm2 logs` console prefix `<pm_id>|<name, padded> | ` or `PM2 <padding>| `, in ANSI
//!   colours (green for stdout, red for stderr: that gives `stream`), perhaps behind the
//!   `--timestamp` stamp `YYYY-MM-DD-HH:mm:ss ` (local time). The name is pm2's, truncated to
//!   the column width. What follows the prefix may be any of the shapes above.
//! - `pm2 logs --format`: `[timestamp=<stamp><zone> ]app=<name> [id=<pm_id> type=<out|error> ]message=…`.
//!
//! A message that is itself a JSON object (a pino or bunyan app under `--time`) gives its level
//! and fields as the JSON format reads them. The level is otherwise a level word at the start of
//! the message (`Error: …`, `WARN …`, or a lowercase `warn: ` label as winston writes it), else
//! error for a line pm2 says came from stderr. pm2's default file format, bare lines, is not
//! this format: plain text takes those.

use crate::normalize::format::Fields;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use logq_schemas::Level;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::formats::json::{Json, Loose, Text};
use crate::normalize::formats::plain::level_word;
use crate::normalize::time::{at_offset, civil, digits, in_zone, offset};

/// pm2's file and console formats.
#[derive(Debug)]
pub struct Pm2;

impl Format for Pm2 {
    fn name(&self) -> &'static str {
        "pm2"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        match *b.first()? {
            b'{' => chunk_at(line, 0, cx),
            b'0'..=b'9' => match time_prefix(b) {
                Some((dt, len)) => {
                    let parsed = Parsed {
                        time: in_zone(dt, &cx.tz),
                        ..Parsed::default()
                    };
                    Some(message(line, len, cx, parsed, Stream::Unknown))
                }
                None => console(line, cx),
            },
            0x1b | b'P' => console(line, cx),
            b't' | b'a' => formatted(line, cx),
            _ => None,
        }
    }

    /// pm2 stamps each line of the app's own output: `2026-11-22T13:07:27:     at f (...)`.
    fn wraps_writes(&self) -> bool {
        true
    }
}

/// Which of a process's outputs a line came from, when pm2 says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
    Unknown,
}

impl Stream {
    /// The `stream` field's value, as pm2's JSON chunks spell it.
    fn name(self) -> Option<&'static str> {
        match self {
            Stream::Out => Some("out"),
            Stream::Err => Some("err"),
            Stream::Unknown => None,
        }
    }
}

/// The message part of a line, from `at`: a JSON object, or an optional `--time` stamp and the
/// daemon's label, then text. Fills `parsed`'s time (unless the message has a better one),
/// level and body.
fn message(line: &str, mut at: usize, cx: &Context, mut parsed: Parsed, stream: Stream) -> Parsed {
    let b = line.as_bytes();
    if let Some(stamp) = b.get(at..).and_then(time_prefix) {
        parsed.time = in_zone(stamp.0, &cx.tz).or(parsed.time);
        at += stamp.1;
    }
    let rest = line.get(at..).unwrap_or_default();
    if let Some(label_len) = daemon_label(rest) {
        put(&mut parsed.fields, "program", "PM2");
        if rest.starts_with("PM2 error") {
            parsed.level = Some(Level::Error);
        }
        at += label_len;
    }
    parsed.body = at;
    if b.get(at) == Some(&b'{') {
        if let Some(chunk) = chunk_at(line, at, cx) {
            // The chunk knows better than the console: the full app name, the exact time.
            parsed.time = chunk.time.or(parsed.time);
            parsed.level = chunk.level.or(parsed.level);
            parsed.fields.extend(chunk.fields);
        } else if let Some(app) = line.get(at..).and_then(|rest| Json.parse(rest, cx)) {
            // An app logging JSON (pino, bunyan): its level and fields, but pm2's own names.
            parsed.time = app.time.or(parsed.time);
            parsed.level = app.level.or(parsed.level);
            for (name, value) in app.fields.into_pairs() {
                parsed.fields.insert_if_absent(name, value);
            }
        }
    }
    if parsed.level.is_none() {
        parsed.level = level_word(line.get(at..).unwrap_or_default())
            .or((stream == Stream::Err).then_some(Level::Error));
    }
    parsed
}

/// The length of the daemon's `PM2 log: ` or `PM2 error: ` label at the start of `text`.
fn daemon_label(text: &str) -> Option<usize> {
    ["PM2 log: ", "PM2 error: "]
        .iter()
        .find(|label| text.starts_with(*label))
        .map(|label| label.len())
}

/// A `--time` stamp (`YYYY-MM-DDTHH:mm:ss: `) at the start of `b`: the civil time and the bytes
/// it takes (the space may be missing at the end of the line).
fn time_prefix(b: &[u8]) -> Option<(DateTime, usize)> {
    if b.get(19) != Some(&b':') {
        return None;
    }
    let dt = stamp(b, b'T')?;
    match b.get(20) {
        Some(b' ') => Some((dt, 21)),
        None => Some((dt, 20)),
        Some(_) => None,
    }
}

/// `YYYY-MM-DD<sep>HH:mm:ss` at the start of `b`.
fn stamp(b: &[u8], sep: u8) -> Option<DateTime> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != sep
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    civil(
        digits(b, 4)?,
        digits(&b[5..], 2)?,
        digits(&b[8..], 2)?,
        digits(&b[11..], 2)?,
        digits(&b[14..], 2)?,
        digits(&b[17..], 2)?,
        0,
    )
}

/// A `pm2 logs` console line: colours, the `--timestamp` stamp, then `0|name  | ` or
/// `PM2   | `, then the message.
fn console(line: &str, cx: &Context) -> Option<Parsed> {
    let b = line.as_bytes();
    let (mut at, mut colour) = skip_sgr(b, 0);
    let mut time = None;
    if let Some(dt) = stamp(&b[at..], b'-')
        && b.get(at + 19) == Some(&b' ')
    {
        time = in_zone(dt, &cx.tz);
        (at, colour) = skip_sgr(b, at + 20);
    }
    let mut fields = Fields::new();
    at = if b[at..].starts_with(b"PM2 ") {
        let (bar, end) = column_end(b, at + 3)?;
        if !b[at + 3..bar].iter().all(|&c| c == b' ') {
            return None;
        }
        put(&mut fields, "program", "PM2");
        end
    } else {
        let id_len = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=6).contains(&id_len) || b.get(at + id_len) != Some(&b'|') {
            return None;
        }
        let name_start = at + id_len + 1;
        let (bar, end) = column_end(b, name_start)?;
        let name = line.get(name_start..bar)?.trim_end();
        if name.is_empty() {
            return None;
        }
        put(
            &mut fields,
            "pm_id",
            line[at..at + id_len].parse::<u32>().ok()?,
        );
        put(&mut fields, "program", name);
        end
    };
    let stream = match colour {
        Some(31) => Stream::Err,
        Some(32) => Stream::Out,
        _ => Stream::Unknown,
    };
    if let Some(name) = stream.name() {
        put(&mut fields, "stream", name);
    }
    at = skip_sgr(b, at).0;
    let parsed = Parsed {
        time,
        fields,
        ..Parsed::default()
    };
    Some(message(line, at, cx, parsed, stream))
}

/// The end of a console column that starts at `from`, within a name's width: where its closing
/// ` | ` starts and where the text after it starts (` |` may also end the line).
fn column_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let window = b.get(from..)?;
    let window = &window[..window.len().min(80)];
    let bar = from + window.windows(2).position(|w| w == b" |")?;
    match b.get(bar + 2) {
        Some(b' ') => Some((bar, bar + 3)),
        None => Some((bar, bar + 2)),
        Some(_) => None,
    }
}

/// Skips ANSI SGR escapes (`\e[32m`) from `at`: where the text resumes and the last foreground
/// colour set.
fn skip_sgr(b: &[u8], mut at: usize) -> (usize, Option<u32>) {
    let mut colour = None;
    while b.get(at) == Some(&0x1b) && b.get(at + 1) == Some(&b'[') {
        let params = &b[at + 2..];
        let len = params
            .iter()
            .take(16)
            .take_while(|c| c.is_ascii_digit() || **c == b';')
            .count();
        if params.get(len) != Some(&b'm') {
            break;
        }
        let last = params[..len]
            .rsplit(|&c| c == b';')
            .next()
            .unwrap_or_default();
        if last.len() == 2
            && let Some(code) = digits(last, 2).filter(|c| matches!(c, 30..=37 | 90..=97))
        {
            colour = Some(code);
        }
        at += 2 + len + 1;
    }
    (at, colour)
}

/// A `pm2 logs --format` line: `[timestamp=… ]app=… [id=… type=… ]message=…`.
fn formatted(line: &str, cx: &Context) -> Option<Parsed> {
    let b = line.as_bytes();
    let mut at = 0;
    let mut time = None;
    if b.starts_with(b"timestamp=") {
        let (t, len) = zoned_stamp(&b[10..], &cx.tz)?;
        if b.get(10 + len) != Some(&b' ') {
            return None;
        }
        time = Some(t);
        at = 10 + len + 1;
    }
    let mut fields = Fields::new();
    let app = value_of(line, &mut at, "app=")?;
    let id = value_of(line, &mut at, "id=");
    let kind = value_of(line, &mut at, "type=");
    // The daemon's lines name no process; an app's name its id and stream.
    if !(app == "pm2" || id.is_some() && kind.is_some()) {
        return None;
    }
    put(
        &mut fields,
        "program",
        if app == "pm2" { "PM2" } else { app },
    );
    if let Some(id) = id {
        put(&mut fields, "pm_id", id.parse::<u32>().ok()?);
    }
    let stream = match kind {
        Some("out") => Stream::Out,
        Some("err" | "error") => Stream::Err,
        _ => Stream::Unknown,
    };
    if let Some(name) = stream.name() {
        put(&mut fields, "stream", name);
    }
    if !line.get(at..)?.starts_with("message=") {
        return None;
    }
    let parsed = Parsed {
        time,
        fields,
        ..Parsed::default()
    };
    Some(message(line, at + 8, cx, parsed, stream))
}

/// The space-ended value of `key` at `*at`, moving `*at` past it and its space.
fn value_of<'a>(line: &'a str, at: &mut usize, key: &str) -> Option<&'a str> {
    let rest = line.get(*at..)?.strip_prefix(key)?;
    let end = rest.find(' ')?;
    *at += key.len() + end + 1;
    Some(&rest[..end])
}

/// `YYYY-MM-DD-HH:mm:ss` with an optional zone (`+0000`) at the start of `b`.
fn zoned_stamp(b: &[u8], tz: &TimeZone) -> Option<(Timestamp, usize)> {
    let dt = stamp(b, b'-')?;
    match offset(&b[19..]) {
        Some((secs, len)) => Some((at_offset(dt, secs)?, 19 + len)),
        None => Some((in_zone(dt, tz)?, 19)),
    }
}

/// A `--log-type json` chunk filling `line` from `at`, or `None` when that is no JSON object
/// with pm2's `type` and `app_name`.
fn chunk_at(line: &str, at: usize, cx: &Context) -> Option<Parsed> {
    let text = line.get(at..)?;
    if text.as_bytes().trim_ascii_end().last() != Some(&b'}') || !text.contains("\"app_name\"") {
        return None;
    }
    let chunk: Chunk<'_> = serde_json::from_str(text).ok()?;
    let (Loose::Str(app), Loose::Str(kind)) = (&chunk.app_name, &chunk.kind) else {
        return None;
    };
    let mut fields = Fields::new();
    put(&mut fields, "program", app.as_ref());
    put(&mut fields, "stream", kind.as_ref());
    if let Some(id) = chunk.process_id.integer() {
        put(&mut fields, "pm_id", id);
    }
    let stderr = kind == "err";
    Some(Parsed {
        time: chunk.timestamp.time(&cx.tz),
        level: chunk.message_level.or(stderr.then_some(Level::Error)),
        fields,
        body: at,
        continuation: false,
    })
}

/// The keys of a pm2 JSON chunk. The message is not kept, only the level it names, so reading
/// it allocates nothing even when it holds escapes.
#[derive(Debug, Default)]
struct Chunk<'a> {
    message_level: Option<Level>,
    timestamp: Loose<'a>,
    kind: Loose<'a>,
    process_id: Loose<'a>,
    app_name: Loose<'a>,
}

impl<'a> Chunk<'a> {
    /// The slot a key fills, or `None` for a key logq does not read.
    fn slot(&mut self, key: &str) -> Option<&mut Loose<'a>> {
        Some(match key {
            "timestamp" => &mut self.timestamp,
            "type" => &mut self.kind,
            "process_id" => &mut self.process_id,
            "app_name" => &mut self.app_name,
            _ => return None,
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Chunk<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ChunkVisitor(std::marker::PhantomData))
    }
}

/// Reads a chunk's keys into a [`Chunk`].
struct ChunkVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ChunkVisitor<'a> {
    type Value = Chunk<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pm2 JSON chunk")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Chunk<'a>, M::Error> {
        let mut chunk = Chunk::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.0 == "message" {
                chunk.message_level = map.next_value::<MessageLevel>()?.0;
                continue;
            }
            match chunk.slot(&key.0) {
                Some(slot) if matches!(slot, Loose::Absent) => *slot = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(chunk)
    }
}

/// The level a chunk's message names, read straight from the (possibly unescaped) text.
struct MessageLevel(Option<Level>);

impl<'de> Deserialize<'de> for MessageLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MessageLevelVisitor)
    }
}

/// Builds a [`MessageLevel`] from any JSON value (only strings name a level).
struct MessageLevelVisitor;

impl<'de> Visitor<'de> for MessageLevelVisitor {
    type Value = MessageLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MessageLevel, E> {
        Ok(MessageLevel(level_word(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MessageLevel, E> {
        Ok(MessageLevel(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MessageLevel, E> {
        Ok(MessageLevel(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MessageLevel, E> {
        Ok(MessageLevel(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MessageLevel, E> {
        Ok(MessageLevel(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MessageLevel, E> {
        Ok(MessageLevel(None))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<MessageLevel, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MessageLevel(None))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<MessageLevel, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MessageLevel(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::{cx, token_soup, ts};

    fn parse(line: &str) -> Option<Parsed> {
        Pm2.parse(line, &cx())
    }

    /// The first line of `text` that holds `needle`.
    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines()
            .find(|l| l.contains(needle))
            .expect("fixture line")
    }

    /// How many lines of a fixture pm2 takes, and how many it has.
    fn takes(file: &str) -> (usize, usize) {
        let text = fixture("pm2", file);
        let lines: Vec<&str> = text.lines().collect();
        (lines.iter().filter_map(|l| parse(l)).count(), lines.len())
    }

    #[test]
    fn every_fixture_line_parses_without_panic() {
        for file in [
            "osm-app-json-out.log",
            "osm-app-json-error.log",
            "osm-app-jsontime-out.log",
            "osm-app-jsontime-error.log",
            "osm-app-time-out.log",
            "osm-app-time-error.log",
            "osm-combined-combined.log",
            "pm2_daemon.log",
            "console_logs_timestamp_stream.txt",
            "console_logs_format_timestamp.txt",
        ] {
            let (taken, all) = takes(file);
            assert_eq!(taken, all, "{file}: every line is pm2's");
        }
        let (taken, all) = takes("osm-cluster-merged-error.log");
        assert_eq!((taken, all), (18, 26), "stack lines come unprefixed");
        let (taken, all) = takes("console_logs_all_tail.txt");
        assert!(
            taken > 150 && taken < all,
            "headers and blank lines are not pm2's: {taken}"
        );
        let (taken, _) = takes("console_logs_json.txt");
        assert_eq!(taken, 37);
    }

    #[test]
    fn the_default_file_format_is_not_pm2s() {
        for file in ["osm-app-out.log", "osm-worker-error.log"] {
            assert_eq!(takes(file).0, 0, "{file}");
        }
    }

    #[test]
    fn json_chunks_give_time_stream_pm_id_and_program() {
        let text = fixture("pm2", "osm-app-json-out.log");
        let p = parse(text.lines().next().expect("line")).expect("chunk");
        assert_eq!(p.time, Some(ts("2026-11-22T13:07:27.700Z")));
        assert_eq!(p.fields["stream"], "out");
        assert_eq!(p.fields["pm_id"], 2);
        assert_eq!(p.fields["program"], "osm-app-json");
        assert_eq!((p.level, p.body), (None, 0));

        let text = fixture("pm2", "osm-app-json-error.log");
        let warn = parse(line_with(&text, "warn: config")).expect("warn");
        assert_eq!(
            warn.level,
            Some(Level::Warn),
            "the message's own label wins"
        );
        assert_eq!(warn.fields["stream"], "err");
        let err = parse(line_with(&text, "\"message\":\"connect failed")).expect("stderr");
        assert_eq!(err.level, Some(Level::Error), "from stderr");
        let stack = parse(line_with(&text, "\"message\":\"Error: connect")).expect("error");
        assert_eq!(stack.level, Some(Level::Error));
    }

    #[test]
    fn json_time_chunks_are_read_in_the_context_zone() {
        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        let text = fixture("pm2", "osm-app-jsontime-out.log");
        let p = Pm2
            .parse(text.lines().next().expect("line"), &paris)
            .expect("chunk");
        assert_eq!(p.time, Some(ts("2026-11-22T12:07:28Z")));
        assert_eq!(p.fields["pm_id"], 3);
        assert_eq!(p.fields["program"], "osm-app-jsontime");
    }

    #[test]
    fn time_prefixed_lines_give_time_body_and_level() {
        let text = fixture("pm2", "osm-app-time-error.log");
        let lines: Vec<&str> = text.lines().collect();
        let warn = parse(lines[0]).expect("warn");
        assert_eq!(warn.time, Some(ts("2026-11-22T13:07:27Z")));
        assert_eq!(warn.level, Some(Level::Warn));
        assert_eq!(warn.body, 21);
        assert!(warn.fields.is_empty());
        assert_eq!(parse(lines[1]).expect("connect failed").level, None);
        assert_eq!(parse(lines[2]).expect("Error:").level, Some(Level::Error));
        let stack = parse(lines[3]).expect("stack line");
        assert_eq!(stack.level, None);
        assert_eq!(&lines[3][stack.body..stack.body + 7], "    at ");

        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        let p = Pm2.parse(lines[0], &paris).expect("warn");
        assert_eq!(p.time, Some(ts("2026-11-22T12:07:27Z")));
    }

    #[test]
    fn daemon_lines_name_pm2_and_start_after_the_label() {
        let text = fixture("pm2", "pm2_daemon.log");
        let line = line_with(&text, "App [osm-worker-cluster:11] starting");
        let p = parse(line).expect("daemon");
        assert_eq!(p.time, Some(ts("2026-11-22T13:07:30Z")));
        assert_eq!(p.fields["program"], "PM2");
        assert!(line[p.body..].starts_with("App [osm-worker-cluster:11]"));
        let p = parse("2026-11-22T13:07:30: PM2 error: Error caught while calling pidusage")
            .expect("e");
        assert_eq!(p.level, Some(Level::Error));
    }

    #[test]
    fn console_lines_give_pm_id_program_stream_and_what_follows() {
        let text = fixture("pm2", "console_logs_all_tail.txt");
        let err = parse(line_with(&text, "0|osm-app  | \u{1b}[39mError: connect")).expect("err");
        assert_eq!(err.fields["pm_id"], 0);
        assert_eq!(err.fields["program"], "osm-app");
        assert_eq!(err.fields["stream"], "err");
        assert_eq!(err.level, Some(Level::Error));
        assert_eq!(err.time, None);
        let line = line_with(&text, "\u{1b}[31m0|osm-app  | \u{1b}[39m    at TCP");
        let stack = parse(line).expect("stack");
        assert!(line[stack.body..].starts_with("    at TCPConnectWrap"));

        let out = parse(line_with(&text, "\u{1b}[32m0|osm-app  | \u{1b}[39mtick 1")).expect("out");
        assert_eq!(
            (out.fields["stream"].as_str(), out.level),
            (Some("out"), None)
        );

        let daemon = parse(line_with(
            &text,
            "PM2        | \u{1b}[39m2026-11-22T13:07:31: PM2 log: App name",
        ))
        .expect("daemon");
        assert_eq!(daemon.fields["program"], "PM2");
        assert_eq!(daemon.time, Some(ts("2026-11-22T13:07:31Z")));
        assert!(!daemon.fields.contains_key("pm_id"));

        let timed = parse(line_with(
            &text,
            "1|osm-app- | \u{1b}[39m2026-11-22T13:07:27: warn",
        ))
        .expect("t");
        assert_eq!(
            timed.fields["program"], "osm-app-",
            "pm2 truncates the name"
        );
        assert_eq!(timed.time, Some(ts("2026-11-22T13:07:27Z")));
        assert_eq!(timed.level, Some(Level::Warn));

        let line = line_with(
            &text,
            "\u{1b}[31m2|osm-app- | \u{1b}[39m{\"message\":\"warn",
        );
        let chunk = parse(line).expect("chunk");
        assert_eq!(
            chunk.fields["program"], "osm-app-json",
            "the chunk's full name"
        );
        assert_eq!(chunk.fields["pm_id"], 2);
        assert_eq!(chunk.time, Some(ts("2026-11-22T13:07:27.701Z")));
        assert!(line[chunk.body..].starts_with('{'));
    }

    #[test]
    fn console_timestamps_and_the_format_option() {
        let text = fixture("pm2", "console_logs_timestamp_stream.txt");
        let p = parse(line_with(&text, "10|osm-worker  | \u{1b}[39mError: boom")).expect("worker");
        assert_eq!(p.time, Some(ts("2026-11-22T13:08:02Z")));
        assert_eq!(p.fields["pm_id"], 10);
        assert_eq!(p.fields["program"], "osm-worker");
        assert_eq!(p.level, Some(Level::Error));
        let p = parse(line_with(&text, "PM2      | \u{1b}[39mStopping app")).expect("pm2");
        assert_eq!(p.time, Some(ts("2026-11-22T13:08:01Z")));

        let text = fixture("pm2", "console_logs_format_timestamp.txt");
        let line = line_with(&text, "app=osm-app id=0 type=error message=warn");
        let p = parse(line).expect("format");
        assert_eq!(p.time, Some(ts("2026-11-22T13:08:02Z")));
        assert_eq!(p.fields["program"], "osm-app");
        assert_eq!(p.fields["pm_id"], 0);
        assert_eq!(p.fields["stream"], "err");
        assert_eq!(p.level, Some(Level::Warn));
        assert!(line[p.body..].starts_with("warn: config"));
        let p = parse(line_with(&text, "app=pm2 message=Stopping")).expect("daemon");
        assert_eq!(p.fields["program"], "PM2");
    }

    #[test]
    fn json_apps_under_time_give_their_own_level() {
        let line =
            r#"2026-11-22T13:07:27: {"level":50,"time":1700000000000,"pid":7,"msg":"db down"}"#;
        let p = parse(line).expect("pino under --time");
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.time, Some(ts("2023-11-14T22:13:20Z")));
        assert_eq!(p.fields["pid"], 7);
        assert_eq!(p.body, 21);
        let line = "\u{1b}[32m0|api  | \u{1b}[39m{\"level\":30,\"name\":\"http\",\"msg\":\"up\"}";
        let p = parse(line).expect("pino under pm2 logs");
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(p.fields["program"], "api", "pm2's name, not the logger's");
        assert!(line[p.body..].starts_with('{'));
    }

    #[test]
    fn lines_of_other_formats_are_rejected() {
        for line in [
            "",
            "osm-app starting pid=12016",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)",
            "2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: msg",
            "2026-11-22 13:11:35 +0000 [13776] [INFO] msg",
            "[2026-11-22 13:11:35 +0000] [13776] [INFO] Booting worker",
            "I, [2026-11-22T13:14:55.752549 #15974]  INFO -- : hi",
            "127.0.0.1 - - [22/Nov/2026:13:07:27 +0000] \"GET / HTTP/1.1\" 200 5",
            "2026/11/22 13:07:27 [error] 31#31: *1 connect() failed",
            "{\"level\":30,\"msg\":\"bunyan, not pm2\"}",
            "{\"app_name\":\"x\"}",
            "404|",
            "0|x",
            "0| | y",
            "PM2",
            "PM2 log: x",
            "\u{1b}[1m\u{1b}[90m[TAILING] Tailing last 15 lines",
            "\u{1b}[90m/srv/appsrv1/pm2home/pm2.log last 15 lines:\u{1b}[39m",
            "timestamp=2026-11-22-13:08:01+0000 level=info",
            "app=web message",
            "app=web message=hello",
            "app=web id=1 message=hello",
            "timestamp=2026-11-22-13:08:01+0000 app=web message=hello",
            "method=GET path=/ status=200",
        ] {
            assert!(parse(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn odd_input_does_not_panic() {
        for line in [
            "\u{1b}[",
            "\u{1b}[3",
            "\u{1b}[31m",
            "\u{1b}[31m0|",
            "\u{1b}[99999999999999m0|x | y",
            "\u{1b}[;m\u{1b}[1;m0|x | y",
            "\u{1b}[31m0|é |",
            "0|é |",
            "0|osm |",
            "PM2 |",
            "2026-11-22T13:07:27:",
            "2026-11-22T13:07:27:é",
            "2026-11-22-13:08:01 ",
            "2026-11-22-13:08:01 PM2 |é",
            "timestamp=2026-11-22-13:08:01+",
            "timestamp=2026-11-22-13:08:01+00:0 app=x message=",
            "app=é message=x",
            "app=x id=é message=x",
            "{\"app_name\":\"x\",\"type\":\"out\",\"message\":{\"a\":[1,{}]},\"process_id\":-1}",
        ] {
            let _ = parse(line);
        }
        let p = parse("0|osm |").expect("empty message");
        assert_eq!(p.body, 7);
    }

    #[test]
    fn token_soup_does_not_panic() {
        let tokens = [
            "\u{1b}[",
            "31m",
            "32",
            "m",
            ";",
            "0|",
            "12",
            "PM2",
            " | ",
            "|",
            " ",
            "  ",
            "2026-11-22T13:07:27:",
            "2026-11-22-13:08:01",
            "2026-11-22T13:07:27",
            "{",
            "}",
            "\"app_name\":\"a\"",
            "\"type\":\"err\"",
            ",",
            ":",
            "\"message\":",
            "\"",
            "é",
            "T",
            "-",
            "+0000",
            "+",
            "timestamp=",
            "app=",
            "pm2",
            "id=",
            "type=",
            "message=",
            "9",
            "\\",
            "PM2 log: ",
            "warn:",
            "Error:",
            "[",
            "]",
        ];
        for line in token_soup(&tokens, 20_000) {
            for end in 0..=line.len() {
                if let Some(prefix) = line.get(..end) {
                    let _ = parse(prefix);
                }
            }
        }
    }
}
