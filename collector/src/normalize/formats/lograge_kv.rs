//! lograge's key=value lines: one line per request, written by its default
//! `Lograge::Formatters::KeyValue`.
//!
//! ```text
//! method=GET path=/items/42 format=html controller=HomeController action=show status=200 duration=1.23 view=0.45 db=0.00
//! I, [2026-11-22T13:14:56.513128 #15977]  INFO -- : [a08fcce3-…] method=GET path=/boom … status=500 error='ArgumentError: boom' duration=0.15
//! [a08fcce3-02b3-4c5f-9f05-4e65792cb8be] method=GET path=/ status=200 duration=7.57
//! ```
//!
//! The line may sit behind a Rails Logger prefix (time, pid, level) and tags (the first one that
//! looks like an id is the request id), or behind tags alone. Values may be quoted with `'…'`
//! (lograge quotes `error`) or `"…"`. A line needs `method=` and `status=` or `path=`; a Rails
//! Logger line without them is not this format. Without a level of its own (the Rails prefix or a
//! `level=` key), a line's level comes from its status: 5xx error, 4xx warn, else info.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use logq_schemas::Level;
use serde_json::Value;

use crate::normalize::format::{Context, Fields, Format, Parsed, level_of_status, put};
use crate::normalize::time::iso8601;

/// lograge's key=value format.
#[derive(Debug)]
pub struct LogrageKv;

impl Format for LogrageKv {
    fn name(&self) -> &'static str {
        "lograge_kv"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let first = *line.as_bytes().first()?;
        // `contains` has a SIMD path for short needles: most lines are rejected here.
        if !line.contains("method=") {
            return None;
        }
        let prefix = if first.is_ascii_uppercase() {
            rails_logger_prefix(line, cx)?
        } else if first == b'[' {
            tags_only(line)
        } else if first.is_ascii_alphabetic() {
            RailsPrefix::default()
        } else {
            return None;
        };
        let kv = line.get(prefix.body..)?;
        // A JSON payload is the JSON format's, whatever its strings hold.
        if kv.starts_with('{') || !has_key(kv, "method=") {
            return None;
        }
        let request = Request::read(kv)?;
        Some(request.into_parsed(prefix, &cx.tz))
    }

    /// A lograge line is a whole request.
    fn single_line(&self) -> bool {
        true
    }
}

/// What a Rails Logger prefix (`I, [2026-11-22T13:14:56.504808 #15977]  INFO -- : [tag] `) holds.
/// Shared with the JSON format, which reads lograge's JSON lines behind the same prefix.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RailsPrefix<'a> {
    /// The prefix's time, read in the context's zone (Ruby's Logger writes none).
    pub time: Option<Timestamp>,
    pub pid: Option<u64>,
    pub level: Option<Level>,
    /// The first tag, when it looks like a request id (Rails' `log_tags [:request_id]`).
    pub request_id: Option<&'a str>,
    /// Where the message starts, after the prefix and its tags.
    pub body: usize,
}

/// Ruby Logger's prefix at the start of `line`, then any `[tag] `s (read by the `rails`
/// format): `None` when the line does not start with one. Does not allocate.
pub(crate) fn rails_logger_prefix<'a>(line: &'a str, cx: &Context) -> Option<RailsPrefix<'a>> {
    let prefix = super::rails::logger_prefix(line, cx)?;
    Some(RailsPrefix {
        time: prefix.time,
        pid: Some(prefix.pid),
        level: prefix.level,
        request_id: prefix.request_id(),
        body: prefix.body(),
    })
}

/// A line that starts with `[tag] `s and no Logger prefix (tagged logging to stdout).
fn tags_only(line: &str) -> RailsPrefix<'_> {
    let (request_id, body) = super::rails::leading_tags(line);
    RailsPrefix {
        request_id,
        body,
        ..RailsPrefix::default()
    }
}

/// Whether `text` holds `key` (which ends in `=`) at the start of a word.
fn has_key(text: &str, key: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|t| t.find(key)) {
        let at = from + i;
        if at == 0 || text.as_bytes()[at - 1] == b' ' {
            return true;
        }
        from = at + key.len();
    }
    false
}

/// The `key=value` pairs of `text`, quotes taken off the values; words that are not pairs are
/// skipped.
fn pairs(text: &str) -> Pairs<'_> {
    Pairs { text, at: 0 }
}

/// Iterator over the `key=value` pairs of a line.
#[derive(Debug)]
struct Pairs<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let b = self.text.as_bytes();
        loop {
            while b.get(self.at) == Some(&b' ') {
                self.at += 1;
            }
            let start = self.at;
            if start >= b.len() {
                return None;
            }
            // A key runs to `=`; a word that meets a space first is no pair. Keys are not
            // checked further: only known names are used.
            let stop = b[start..]
                .iter()
                .position(|&c| c == b'=' || c == b' ')
                .map_or(b.len(), |i| start + i);
            if b.get(stop) != Some(&b'=') {
                self.at = stop;
                continue;
            }
            if stop == start {
                // `=value`: no key; skip the word.
                self.at = next_space(b, start);
                continue;
            }
            let (value, end) = value_at(self.text, stop + 1);
            self.at = end;
            return Some((&self.text[start..stop], value));
        }
    }
}

/// The value starting at `at` (quotes removed) and where it ends.
fn value_at(text: &str, at: usize) -> (&str, usize) {
    let b = text.as_bytes();
    match b.get(at) {
        Some(&q @ (b'\'' | b'"')) => {
            let mut i = at + 1;
            while i < b.len() {
                if b[i] == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if b[i] == q && matches!(b.get(i + 1), None | Some(b' ')) {
                    return (&text[at + 1..i], i + 1);
                }
                i += 1;
            }
            (&text[at + 1..], text.len())
        }
        _ => {
            let end = next_space(b, at);
            (&text[at..end], end)
        }
    }
}

/// The index of the next space at or after `from`, or the end.
fn next_space(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b' ')
        .map_or(b.len(), |i| from + i)
}

/// The values of one lograge line that logq keeps.
#[derive(Debug, Default)]
struct Request<'a> {
    method: &'a str,
    path: Option<&'a str>,
    status: Option<u64>,
    duration_ms: Option<f64>,
    controller: Option<&'a str>,
    action: Option<&'a str>,
    format: Option<&'a str>,
    request_id: Option<&'a str>,
    error: Option<&'a str>,
    remote_addr: Option<&'a str>,
    level: Option<Level>,
    time: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// The request named by the pairs of `kv`, or `None` without a method and a status or path.
    fn read(kv: &'a str) -> Option<Request<'a>> {
        let mut r = Request::default();
        for (key, value) in pairs(kv) {
            // The first byte picks the candidates, so most keys cost one string compare.
            match (key.as_bytes()[0], key) {
                (b'm', "method") => r.method = value,
                (b'p', "path") => r.path = Some(value),
                (b's', "status") => r.status = value.parse().ok(),
                (b'd', "duration" | "duration_ms") => r.duration_ms = value.parse().ok(),
                (b'c', "controller") => r.controller = Some(value),
                (b'a', "action") => r.action = Some(value),
                (b'f', "format") => r.format = Some(value),
                (b'r', "request_id" | "req_id" | "request-id") => r.request_id = Some(value),
                (b'e', "error") => r.error = Some(value),
                (b'r' | b'i', "remote_ip" | "ip" | "remote_addr") => r.remote_addr = Some(value),
                (b'l' | b's', "level" | "lvl" | "severity") => r.level = Level::from_alias(value),
                (b't', "time" | "timestamp" | "ts") => r.time = Some(value),
                _ => {}
            }
        }
        let method_ok =
            (3..=10).contains(&r.method.len()) && r.method.bytes().all(|c| c.is_ascii_uppercase());
        (method_ok && (r.status.is_some() || r.path.is_some())).then_some(r)
    }

    fn into_parsed(self, prefix: RailsPrefix<'_>, tz: &TimeZone) -> Parsed {
        let mut fields = Fields::new();
        put(&mut fields, "method", self.method);
        let strings = [
            ("path", self.path),
            ("controller", self.controller),
            ("action", self.action),
            ("format", self.format),
            ("request_id", self.request_id.or(prefix.request_id)),
            ("error", self.error),
            ("remote_addr", self.remote_addr),
        ];
        for (name, value) in strings {
            if let Some(v) = value {
                put(&mut fields, name, v);
            }
        }
        if let Some(status) = self.status {
            put(&mut fields, "status", status);
        }
        if let Some(ms) = self.duration_ms.filter(|d| d.is_finite()) {
            put(&mut fields, "duration_ms", Value::from(ms));
        }
        if let Some(pid) = prefix.pid {
            put(&mut fields, "pid", pid);
        }
        let time = prefix.time.or_else(|| {
            let text = self.time?;
            iso8601(text, tz).and_then(|(t, len)| (len == text.len()).then_some(t))
        });
        let level = self
            .level
            .or(prefix.level)
            .or(self.status.map(level_of_status));
        Parsed {
            time,
            level,
            fields,
            body: prefix.body,
            continuation: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::{cx, token_soup, ts};

    fn parse(line: &str) -> Option<Parsed> {
        LogrageKv.parse(line, &cx())
    }

    /// The first line of `text` that holds `needle`.
    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines()
            .find(|l| l.contains(needle))
            .expect("fixture line")
    }

    #[test]
    fn every_fixture_line_parses_without_panic() {
        let text = fixture("lograge_kv", "rails61_lograge_kv.log");
        let taken = text.lines().filter_map(parse).count();
        assert_eq!(taken, 5, "the five request lines");
    }

    #[test]
    fn rails_prefixed_request_lines_give_prefix_and_request_fields() {
        let text = fixture("lograge_kv", "rails61_lograge_kv.log");
        let lines: Vec<&str> = text.lines().collect();
        let p = parse(lines[1]).expect("GET /");
        assert_eq!(p.time, Some(ts("2026-11-22T13:14:56.504808Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(p.fields["pid"], 15977);
        assert_eq!(p.fields["method"], "GET");
        assert_eq!(p.fields["path"], "/");
        assert_eq!(p.fields["status"], 200);
        assert_eq!(p.fields["duration_ms"], 7.57);
        assert_eq!(p.fields["controller"], "HomeController");
        assert_eq!(p.fields["action"], "index");
        assert_eq!(p.fields["format"], "html");
        assert_eq!(
            p.fields["request_id"],
            "7c33acec-026f-4a6d-be09-4647265d66ad"
        );
        assert_eq!(&lines[1][p.body..p.body + 11], "method=GET ");

        let boom = parse(line_with(&text, "path=/boom")).expect("GET /boom");
        assert_eq!(boom.fields["status"], 500);
        assert_eq!(
            boom.fields["error"],
            "ArgumentError: boom: something broke in osm-app"
        );
        assert_eq!(boom.level, Some(Level::Info), "the prefix names the level");

        let refused = parse(line_with(&text, "path=/refused")).expect("GET /refused");
        assert_eq!(
            refused.fields["error"],
            "Errno::ECONNREFUSED: Connection refused - connect(2) for \"127.0.0.1\" port 9"
        );
        assert_eq!(refused.fields["duration_ms"], 0.5);
    }

    #[test]
    fn rails_lines_without_a_request_and_other_lines_are_rejected() {
        let text = fixture("lograge_kv", "rails61_lograge_kv.log");
        let lines: Vec<&str> = text.lines().collect();
        assert!(parse(lines[0]).is_none(), "the Logger header");
        assert!(parse(lines[2]).is_none(), "looking up item 42");
        assert!(parse(lines[5]).is_none(), "FATAL with only a tag");
        assert!(parse(lines[6]).is_none(), "tag + RoutingError");
        for other in [
            "",
            "{\"method\":\"GET\",\"status\":200}",
            "2026-11-22T13:07:27: method=GET status=200",
            "method=get status=200",
            "method=GET format=html",
            "127.0.0.1 - - [22/Nov/2026:13:07:27 +0000] \"GET / HTTP/1.1\" 200 5",
            "Started GET \"/\" for 127.0.0.1 at 2026-11-22 13:14:55 +0000",
            "pathmethod=GET status=200",
            "I, [2026-11-22T13:14:55.752549 #1]  INFO -- : {\"q\":\"x method=GET path=/\"}",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn bare_and_tagged_lines_take_their_level_from_the_status() {
        let p = parse(
            "method=GET path=/items/42 format=html controller=HomeController action=show status=200 duration=1.23 view=0.45 db=0.00",
        )
        .expect("bare");
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!((p.time, p.body), (None, 0));
        assert_eq!(p.fields["duration_ms"], 1.23);
        let p = parse("[0b6a7c1e-9f2d-4e8a] method=POST path=/pay status=503 duration=12.00")
            .expect("tagged");
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.fields["request_id"], "0b6a7c1e-9f2d-4e8a");
        assert_eq!(p.body, 21);
        let p = parse(
            "method=GET path=/x status=404 error=\"not found: x\" time=2026-11-22T13:14:56.5Z",
        )
        .expect("quoted");
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(p.fields["error"], "not found: x");
        assert_eq!(p.time, Some(ts("2026-11-22T13:14:56.5Z")));
        let p = parse("level=debug method=GET status=200").expect("logfmt level");
        assert_eq!(p.level, Some(Level::Debug));
    }

    #[test]
    fn the_prefix_time_is_read_in_the_context_zone() {
        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        let line = "W, [2026-11-22T13:14:56.000001 #7]  WARN -- app: method=GET path=/ status=200";
        let p = LogrageKv.parse(line, &paris).expect("warn");
        assert_eq!(p.time, Some(ts("2026-11-22T12:14:56.000001Z")));
        assert_eq!(p.level, Some(Level::Warn));
        assert!(!p.fields.contains_key("request_id"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for line in [
            "I, [",
            "I, [2026-11-22T13:14:56 #",
            "I, [2026-11-22T13:14:56 #1] INFO -- :",
            "[",
            "[é] method=GET status=1",
            "method='unterminated status=200",
            "method=\"GET\\",
            "m=é method=GETé status=2",
            "=x method=GET status=200",
        ] {
            let _ = parse(line);
        }
        assert!(
            parse("=x method=GET status=200").is_none(),
            "a line starts with a key"
        );
        assert!(
            parse("a =x method=GET status=200").is_some(),
            "a word without a key is skipped"
        );
    }

    #[test]
    fn token_soup_does_not_panic() {
        let tokens = [
            "method=",
            "GET",
            "path=",
            "/",
            "status=",
            "500",
            "duration=",
            "1.5",
            "error=",
            "'",
            "\"",
            "\\",
            " ",
            "=",
            "é",
            "[",
            "]",
            "abcdef0123456789",
            "I, [",
            "#",
            "]",
            "2026-11-22T13:14:56.504808",
            " #15977]",
            "  INFO -- : ",
            " -- ",
            ": ",
            "level=",
            "time=",
            "W",
            ",",
            "1e999",
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
