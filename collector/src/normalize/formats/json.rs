//! JSON lines: one JSON object per line, as bunyan, pino, logstash-style loggers, lograge's JSON
//! formatter and pm2's `--log-type json` write them.
//!
//! ```text
//! {"name":"renovate","hostname":"h","pid":7,"level":20,"msg":"Found 3 package file(s)","time":"2023-03-24T14:26:16.243Z","v":0}
//! {"level":"info","time":1745532517537,"pid":17,"msg":"Charge request received."}
//! {"message":"Some Message","@timestamp":"2026-11-22T13:20:01.104-05:00","@version":"1","severity":"INFO","host":"h"}
//! {"ts": "2013-09-06T22:01:49.124817Z", "lvl": "ERROR", "msg": "looking bad"}
//! I, [2026-11-22T13:14:55.752549 #15974]  INFO -- : [7839047f-…] {"method":"GET","path":"/","status":200,"duration":0.44}
//! ```
//!
//! The object may follow leading whitespace, or a Rails Logger prefix and its tags (lograge's
//! JSON formatter writing through `Rails.logger`: the prefix gives time, pid, level and request
//! id). Known top-level keys are read; every other key is skipped without being built:
//!
//! - time: `time`, `timestamp`, `@timestamp`, `ts`: an RFC 3339 string (zone-less: the context's
//!   zone) or an epoch number in seconds, milliseconds, microseconds or nanoseconds (told apart
//!   by magnitude);
//! - level: `level`, `severity`, `lvl`, `log.level`: a name (`DEBUG5` counts as debug) or a
//!   bunyan/pino number (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal); without one,
//!   a request line (`method` and `status`) takes it from its status, as lograge lines do;
//! - fields: `pid`, `request_id` (`request_id`, `req_id`, `reqId`, `requestId`), `method`,
//!   `path`, `status`, `duration_ms` (`duration`, `duration_ms`), `remote_addr` (`remote_ip`,
//!   `ip`, `remote_addr`), `user_agent` (`user_agent`, `userAgent`), `error` (an `err`/`error`
//!   string or the `message` of such an object), `program` (`name`, `service.name`).
//!
//! The first of synonymous keys wins. A line that is not a JSON object is not this format.

use crate::normalize::format::Fields;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use logq_schemas::Level;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::normalize::format::level_of_status;
use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::formats::lograge_kv::rails_logger_prefix;
use crate::normalize::time::iso8601;

/// JSON-object lines.
#[derive(Debug)]
pub struct Json;

impl Format for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        if b.trim_ascii_end().last() != Some(&b'}') {
            return None;
        }
        let start = b.len() - b.trim_ascii_start().len();
        match *b.get(start)? {
            b'{' => object_at(line, start, cx),
            b'A'..=b'Z' => rails_prefixed(line, cx),
            _ => None,
        }
    }

    /// A JSON line is a whole event (a stack trace sits inside it).
    fn single_line(&self) -> bool {
        true
    }
}

/// The JSON object that makes up `line` from `start` on.
fn object_at(line: &str, start: usize, cx: &Context) -> Option<Parsed> {
    let entry = entry_at(line, start)?;
    let mut parsed = entry.into_parsed(&cx.tz);
    parsed.body = start;
    Some(parsed)
}

/// A Rails Logger line whose message is a JSON object (lograge's JSON formatter).
fn rails_prefixed(line: &str, cx: &Context) -> Option<Parsed> {
    let prefix = rails_logger_prefix(line, cx)?;
    if line.as_bytes().get(prefix.body) != Some(&b'{') {
        return None;
    }
    let entry = entry_at(line, prefix.body)?;
    let own_level = entry.level.level();
    let mut parsed = entry.into_parsed(&cx.tz);
    parsed.time = prefix.time.or(parsed.time);
    parsed.level = own_level.or(prefix.level).or(parsed.level);
    if let Some(pid) = prefix.pid {
        parsed.fields.insert_if_absent("pid", pid);
    }
    if let Some(id) = prefix.request_id {
        parsed.fields.insert_if_absent("request_id", id);
    }
    parsed.body = prefix.body;
    Some(parsed)
}

/// The entry of the object that fills `line` from `start` to its end (trailing whitespace
/// allowed), or `None` when that is not a JSON object.
fn entry_at(line: &str, start: usize) -> Option<Entry<'_>> {
    let text = line.get(start..)?;
    if text.as_bytes().trim_ascii_end().last() != Some(&b'}') {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The keys logq reads from a JSON line; every other key is skipped.
#[derive(Debug, Default)]
struct Entry<'a> {
    time: Loose<'a>,
    level: Loose<'a>,
    pid: Loose<'a>,
    request_id: Loose<'a>,
    method: Loose<'a>,
    path: Loose<'a>,
    status: Loose<'a>,
    duration: Loose<'a>,
    remote_addr: Loose<'a>,
    user_agent: Loose<'a>,
    error: Loose<'a>,
    program: Loose<'a>,
}

impl<'a> Entry<'a> {
    /// The slot a key fills, or `None` for a key logq does not read.
    fn slot(&mut self, key: &str) -> Option<&mut Loose<'a>> {
        Some(match key {
            "time" | "timestamp" | "@timestamp" | "ts" => &mut self.time,
            "level" | "severity" | "lvl" | "log.level" => &mut self.level,
            "pid" => &mut self.pid,
            "request_id" | "req_id" | "reqId" | "requestId" => &mut self.request_id,
            "method" => &mut self.method,
            "path" => &mut self.path,
            "status" => &mut self.status,
            "duration" | "duration_ms" => &mut self.duration,
            "remote_ip" | "ip" | "remote_addr" => &mut self.remote_addr,
            "user_agent" | "userAgent" => &mut self.user_agent,
            "err" | "error" => &mut self.error,
            "name" | "service.name" => &mut self.program,
            _ => return None,
        })
    }

    fn into_parsed(self, tz: &TimeZone) -> Parsed {
        let mut fields = Fields::new();
        if let Some(pid) = self.pid.integer() {
            put(&mut fields, "pid", pid);
        }
        if let Some(id) = self.request_id.text_or_number() {
            put(&mut fields, "request_id", id);
        }
        let status = self.status.integer().filter(|s| (100..=999).contains(s));
        if let Some(status) = status {
            put(&mut fields, "status", status);
        }
        if let Some(ms) = self.duration.number() {
            put(&mut fields, "duration_ms", Value::from(ms));
        }
        let strings = [
            ("method", &self.method),
            ("path", &self.path),
            ("remote_addr", &self.remote_addr),
            ("user_agent", &self.user_agent),
            ("program", &self.program),
        ];
        for (name, value) in strings {
            if let Some(s) = value.text() {
                put(&mut fields, name, s);
            }
        }
        if let Some(error) = self.error.message() {
            put(&mut fields, "error", error);
        }
        let is_request = matches!(self.method, Loose::Str(_));
        let level = self
            .level
            .level()
            .or_else(|| status.filter(|_| is_request).map(level_of_status));
        Parsed {
            time: self.time.time(tz),
            level,
            fields,
            body: 0,
            continuation: false,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntryVisitor(PhantomData))
    }
}

/// Reads an object's keys into an [`Entry`], without building the values it skips.
struct EntryVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EntryVisitor<'a> {
    type Value = Entry<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entry<'a>, M::Error> {
        let mut entry = Entry::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match entry.slot(&key.0) {
                Some(slot) if matches!(slot, Loose::Absent) => *slot = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(entry)
    }
}

/// A JSON value of any type, kept only as far as logq reads it.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Loose<'a> {
    /// The key is absent or `null`.
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Num(f64),
    /// An object, with its `message` string when it has one (bunyan's and pino's `err`).
    Object(Option<Cow<'a, str>>),
    /// A boolean or an array.
    Other,
}

impl Loose<'_> {
    /// The text of a string.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number, or a string holding one.
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Loose::Num(n) => Some(*n),
            Loose::Str(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
            _ => None,
        }
    }

    /// A non-negative whole number, or a string holding one.
    pub(crate) fn integer(&self) -> Option<u64> {
        match self {
            Loose::Num(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 2f64.powi(63) => Some(*n as u64),
            Loose::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string, or a whole number written as one (pino-http's numeric `reqId`).
    fn text_or_number(&self) -> Option<String> {
        match self {
            Loose::Str(s) if !s.is_empty() => Some(s.to_string()),
            Loose::Num(_) => self.integer().map(|n| n.to_string()),
            _ => None,
        }
    }

    /// An error message: a string, or the `message` of an object.
    fn message(&self) -> Option<&str> {
        match self {
            Loose::Str(s) | Loose::Object(Some(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// A level: a name, or a bunyan/pino number.
    pub(crate) fn level(&self) -> Option<Level> {
        match self {
            Loose::Str(s) => level_name(s),
            Loose::Num(n) => bunyan_level(*n),
            _ => None,
        }
    }

    /// A time: an RFC 3339 string (the whole of it) or an epoch number.
    pub(crate) fn time(&self, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Loose::Str(s) => {
                let (t, len) = iso8601(s, tz)?;
                (len == s.len()).then_some(t)
            }
            Loose::Num(n) => epoch(*n),
            _ => None,
        }
    }
}

/// A level name, with trailing digits ignored (`DEBUG5`).
pub(crate) fn level_name(name: &str) -> Option<Level> {
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit());
    match name {
        "info" | "INFO" => Some(Level::Info),
        "debug" | "DEBUG" => Some(Level::Debug),
        "warn" | "WARN" => Some(Level::Warn),
        "error" | "ERROR" => Some(Level::Error),
        _ => Level::from_alias(name),
    }
}

/// bunyan's and pino's numeric levels.
fn bunyan_level(n: f64) -> Option<Level> {
    Some(match n as i64 {
        10..=19 => Level::Trace,
        20..=29 => Level::Debug,
        30..=39 => Level::Info,
        40..=49 => Level::Warn,
        50..=59 => Level::Error,
        60..=69 => Level::Fatal,
        _ => return None,
    })
}

/// An epoch time in seconds, milliseconds, microseconds or nanoseconds, told apart by
/// magnitude; `None` before 1973 (a number that is no epoch time).
pub(crate) fn epoch(n: f64) -> Option<Timestamp> {
    let scale: i64 = match n.abs() {
        x if x < 1e11 => 1_000_000_000,
        x if x < 1e14 => 1_000_000,
        x if x < 1e17 => 1_000,
        _ => 1,
    };
    // The whole part converts exactly; only the fraction is rounded.
    let nanos = n.trunc() as i128 * i128::from(scale) + (n.fract() * scale as f64).round() as i128;
    if !(100_000_000_000_000_000..100_000_000_000_000_000_000).contains(&nanos) {
        return None;
    }
    Timestamp::from_nanosecond(nanos).ok()
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(PhantomData))
    }
}

/// Builds a [`Loose`] from any JSON value.
struct LooseVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for LooseVisitor<'a> {
    type Value = Loose<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose<'a>, E> {
        Ok(Loose::Absent)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'a>, E> {
        Ok(Loose::Other)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose<'a>, E> {
        Ok(Loose::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose<'a>, E> {
        Ok(Loose::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose<'a>, E> {
        Ok(Loose::Num(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'a>, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'a>, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'a>, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Loose<'a>, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Loose<'a>, M::Error> {
        let mut message = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.0 == "message" && message.is_none() {
                if let Loose::Str(s) = map.next_value::<Loose<'a>>()? {
                    message = Some(s);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Loose::Object(message))
    }
}

/// A string (an object key), borrowed from the line unless it holds escapes.
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(PhantomData))
    }
}

/// Builds a [`Text`].
struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::{cx, token_soup, ts};

    fn parse(line: &str) -> Option<Parsed> {
        Json.parse(line, &cx())
    }

    /// The first line of `text` that holds `needle`.
    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines()
            .find(|l| l.contains(needle))
            .expect("fixture line")
    }

    const FIXTURES: [&str; 6] = [
        "lnav_bunyan.log",
        "lnav_pino.log",
        "lnav_json.log",
        "logstash.log",
        "rails61_lograge_json.log",
        "pm2_osm-app-json-error.log",
    ];

    #[test]
    fn every_fixture_line_parses_without_panic() {
        for file in FIXTURES {
            let text = fixture("json", file);
            let objects = text.lines().filter(|l| l.starts_with('{')).count();
            let taken = text.lines().filter_map(parse).count();
            assert!(taken >= objects, "{file}: {taken} of {objects}");
        }
    }

    #[test]
    fn bunyan_lines_give_numeric_levels_name_pid_and_time() {
        let text = fixture("json", "lnav_bunyan.log");
        let p = parse(text.lines().next().expect("line")).expect("bunyan");
        assert_eq!(p.time, Some(ts("2023-03-24T14:26:16.243Z")));
        assert_eq!(p.level, Some(Level::Debug));
        assert_eq!(p.fields["pid"], 7);
        assert_eq!(p.fields["program"], "renovate");
        assert_eq!(p.body, 0);
        let info = parse(line_with(&text, "Dependency extraction complete")).expect("info");
        assert_eq!(info.level, Some(Level::Info));
    }

    #[test]
    fn pino_epoch_milliseconds_and_string_levels() {
        let text = fixture("json", "lnav_pino.log");
        let p = parse(text.lines().next().expect("line")).expect("pino");
        assert_eq!(p.time, Some(ts("2025-04-24T22:08:37.537Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(p.fields["pid"], 17);
        assert_eq!(p.fields["program"], "payment", "service.name");
    }

    #[test]
    fn generic_json_ts_and_lvl() {
        let text = fixture("json", "lnav_json.log");
        let lines: Vec<&str> = text.lines().collect();
        let p = parse(lines[0]).expect("trace");
        assert_eq!(p.level, Some(Level::Trace));
        assert_eq!(p.time, Some(ts("2013-09-06T20:00:48.124817Z")));
        assert_eq!(parse(lines[3]).expect("DEBUG5").level, Some(Level::Debug));
        let bad = parse(line_with(&text, "bad ts")).expect("bad ts");
        assert_eq!((bad.time, bad.level), (None, Some(Level::Debug)));
        let p = parse(line_with(&text, "22:01:00Z")).expect("space");
        assert_eq!(p.time, Some(ts("2013-09-06T22:01:00Z")));
        assert_eq!(parse(line_with(&text, "STATS")).expect("stats").level, None);
        assert_eq!(
            parse(line_with(&text, "WARNING")).expect("w").level,
            Some(Level::Warn)
        );
        assert_eq!(
            parse(line_with(&text, "CRITICAL")).expect("c").level,
            Some(Level::Fatal)
        );
        assert_eq!(
            parse(line_with(&text, "\"FATAL\"")).expect("f").level,
            Some(Level::Fatal)
        );
    }

    #[test]
    fn logstash_lines_give_timestamp_severity_and_lograge_fields() {
        let text = fixture("json", "logstash.log");
        let lines: Vec<&str> = text.lines().collect();
        let p = parse(lines[0]).expect("info");
        assert_eq!(p.time, Some(ts("2026-11-22T18:20:01.104Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(parse(lines[1]).expect("warn").level, Some(Level::Warn));
        assert_eq!(parse(lines[2]).expect("error").level, Some(Level::Error));
        let req = parse(lines[3]).expect("request");
        assert_eq!(req.fields["method"], "GET");
        assert_eq!(req.fields["path"], "/items/42");
        assert_eq!(req.fields["status"], 200);
        assert_eq!(req.fields["duration_ms"], 12.48);
        assert_eq!(
            req.fields["request_id"],
            "3f2a9c1e-8d4b-4a61-9b0e-6c1d2e3f4a5b"
        );
        let boom = parse(lines[4]).expect("500 without severity");
        assert_eq!(boom.level, Some(Level::Error), "from the status");
        assert_eq!(
            boom.fields["error"],
            "ArgumentError: boom: something broke in osm-app"
        );
        assert_eq!(parse(lines[5]).expect("debug").fields["pid"], 4242);
        assert_eq!(parse(lines[6]).expect("fatal").level, Some(Level::Fatal));
    }

    #[test]
    fn rails_prefixed_lograge_json_takes_prefix_and_payload() {
        let text = fixture("json", "rails61_lograge_json.log");
        assert_eq!(
            text.lines().filter_map(parse).count(),
            5,
            "the request lines"
        );
        let line = line_with(&text, "\"path\":\"/boom\"");
        let p = parse(line).expect("lograge json");
        assert_eq!(p.time, Some(ts("2026-11-22T13:14:55.760852Z")));
        assert_eq!(p.level, Some(Level::Info), "the prefix names the level");
        assert_eq!(p.fields["pid"], 15974);
        assert_eq!(p.fields["status"], 500);
        assert_eq!(p.fields["duration_ms"], 0.13);
        assert_eq!(
            p.fields["request_id"],
            "584809bc-d941-4d74-9fbf-88259fd0b540"
        );
        assert_eq!(
            p.fields["error"],
            "ArgumentError: boom: something broke in osm-app"
        );
        assert!(line[p.body..].starts_with("{\"method\""));
        assert!(parse(line_with(&text, "looking up item 42")).is_none());
        assert!(parse(line_with(&text, "RoutingError")).is_none());
        assert!(parse(line_with(&text, "# Logfile created")).is_none());
    }

    #[test]
    fn pm2_json_chunks_are_json_too() {
        let text = fixture("json", "pm2_osm-app-json-error.log");
        let p = parse(text.lines().next().expect("line")).expect("pm2 chunk");
        assert_eq!(p.time, Some(ts("2026-11-22T13:07:27.701Z")));
    }

    #[test]
    fn error_objects_numbers_and_odd_values() {
        let p = parse(
            r#"  {"level":50,"time":1700000000,"err":{"type":"Error","message":"connect ECONNREFUSED","stack":"x"},"reqId":7,"status":"404","ip":"10.0.0.1","userAgent":"curl/8"}  "#,
        )
        .expect("pino err");
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.time, Some(ts("2023-11-14T22:13:20Z")));
        assert_eq!(p.fields["error"], "connect ECONNREFUSED");
        assert_eq!(p.fields["request_id"], "7");
        assert_eq!(p.fields["status"], 404);
        assert_eq!(p.fields["remote_addr"], "10.0.0.1");
        assert_eq!(p.fields["user_agent"], "curl/8");
        assert_eq!(p.body, 2);
        let p = parse(r#"{"time":1700000000.5,"level":null,"pid":"x","msg":"a\"b"}"#).expect("f");
        assert_eq!(p.time, Some(ts("2023-11-14T22:13:20.5Z")));
        assert_eq!(p.level, None);
        assert!(!p.fields.contains_key("pid"));
        let p = parse(r#"{"time":1700000000123456,"time":"x","log.level":"warning"}"#).expect("us");
        assert_eq!(
            p.time,
            Some(ts("2023-11-14T22:13:20.123456Z")),
            "first key wins"
        );
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(parse(r#"{"time":12.5}"#).expect("small").time, None);
        assert_eq!(
            parse(r#"{"ts":"2026-11-22T13:07:28"}"#)
                .expect("local")
                .time,
            Some(ts("2026-11-22T13:07:28Z"))
        );
        let p = parse(r#"{"status":500,"msg":"no method, no level"}"#).expect("x");
        assert_eq!(p.level, None);
        assert_eq!(p.fields["status"], 500);
    }

    #[test]
    fn lines_that_are_not_one_json_object_are_rejected() {
        for line in [
            "",
            "   ",
            "[1,2,3]",
            "\"text\"",
            "{",
            "{\"a\":1",
            "{\"a\":1} trailing",
            "{\"a\":1}{\"b\":2}",
            "{'a':1}",
            "plain text {\"a\":1}",
            "2026-11-22T13:07:27: {\"a\":1}",
            "I, [2026-11-22T13:14:55.752549 #1]  INFO -- : not json",
            "I, [2026-11-22T13:14:55.752549 #1]  INFO -- : {broken}",
            "Error: {\"a\":1}",
        ] {
            assert!(parse(line).is_none(), "{line}");
        }
    }

    #[test]
    fn token_soup_does_not_panic() {
        let tokens = [
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            " ",
            "\"time\"",
            "\"level\"",
            "\"err\"",
            "\"status\"",
            "\"pid\"",
            "\"reqId\"",
            "\"message\"",
            "\"duration\"",
            "1e308",
            "-1",
            "1745532517537",
            "1700000000.5",
            "99999999999999999999999",
            "null",
            "true",
            "\"2026-11-22T13:07:27Z\"",
            "\"warn\"",
            "\"x\\u00e9\"",
            "é",
            "I, [",
            "2026-11-22T13:14:55.752549",
            " #1]",
            "  INFO -- : ",
            "[abcdef012345] ",
        ];
        for line in token_soup(&tokens, 20_000) {
            let _ = parse(&line);
        }
    }
}
