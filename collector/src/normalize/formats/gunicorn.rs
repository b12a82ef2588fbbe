//! gunicorn's error log: the lines of its default `logging` format.
//!
//! ```text
//! [2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn 27.0.1
//! [2026-11-22 13:11:37 +0000] [13778] [ERROR] Error handling request GET /boom
//! [2026-11-22 13:11:41 +0000] [13776] [CRITICAL] WORKER TIMEOUT (pid:13778)
//! ```
//!
//! That is `[time offset] [pid] [LEVEL] message`, with the zone gunicorn writes (`%z`; a time
//! without one is read in `Context::tz`). Levels are Python's: `DEBUG`, `INFO`, `WARNING`,
//! `ERROR`, `CRITICAL` (fatal). Field: `pid`. The traceback lines after `Error handling request`
//! carry no prefix and are not this format. gunicorn's access log is Apache's combined format,
//! the `access` format's.

use crate::normalize::format::Fields;

use jiff::Timestamp;
use logq_schemas::Level;

use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::time::{at_offset, civil, digits, in_zone, offset};

/// gunicorn's error log lines.
#[derive(Debug)]
pub struct Gunicorn;

/// `[YYYY-MM-DD HH:MM:SS`: the bytes before the zone or the closing bracket.
const DATE_LEN: usize = 20;

impl Format for Gunicorn {
    fn name(&self) -> &'static str {
        "gunicorn"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        if b.first() != Some(&b'[') || b.get(5) != Some(&b'-') || b.get(11) != Some(&b' ') {
            return None;
        }
        let (time, at) = stamp(b, cx)?;
        let (pid, at) = pid(b, at)?;
        let (level, body) = level(b, at)?;
        let mut fields = Fields::new();
        put(&mut fields, "pid", pid);
        Some(Parsed {
            time: Some(time),
            level: Some(level),
            fields,
            body,
            continuation: false,
        })
    }
}

/// `[2026-11-22 13:11:35 +0000] `: the time and the index after the space.
fn stamp(b: &[u8], cx: &Context) -> Option<(Timestamp, usize)> {
    if b.get(8) != Some(&b'-') || b.get(14) != Some(&b':') || b.get(17) != Some(&b':') {
        return None;
    }
    let (y, mo, d) = (
        digits(&b[1..], 4)?,
        digits(&b[6..], 2)?,
        digits(&b[9..], 2)?,
    );
    let (h, mi, s) = (
        digits(&b[12..], 2)?,
        digits(&b[15..], 2)?,
        digits(&b[18..], 2)?,
    );
    let dt = civil(y, mo, d, h, mi, s.min(59), 0)?;
    let (time, close) = match b.get(DATE_LEN)? {
        b']' => (in_zone(dt, &cx.tz)?, DATE_LEN),
        b' ' => {
            let (secs, len) = offset(b.get(DATE_LEN + 1..)?)?;
            (at_offset(dt, secs)?, DATE_LEN + 1 + len)
        }
        _ => return None,
    };
    if b.get(close..close + 2) != Some(b"] ") {
        return None;
    }
    Some((time, close + 2))
}

/// `[13776] `: the pid and the index after the space.
fn pid(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let inner = bracketed(b, at)?;
    if inner.is_empty() || inner.len() > 10 || !inner.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pid = inner
        .iter()
        .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
    Some((pid, at + inner.len() + 3))
}

/// `[INFO] `: the level and the index where the message starts.
fn level(b: &[u8], at: usize) -> Option<(Level, usize)> {
    let inner = bracketed(b, at)?;
    let level = match inner {
        b"DEBUG" => Level::Debug,
        b"INFO" => Level::Info,
        b"WARNING" => Level::Warn,
        b"ERROR" => Level::Error,
        b"CRITICAL" => Level::Fatal,
        _ => return None,
    };
    Some((level, (at + inner.len() + 3).min(b.len())))
}

/// The bytes between `[` at `at` and the next `]`, which must be followed by a space or the end.
fn bracketed(b: &[u8], at: usize) -> Option<&[u8]> {
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let rest = b.get(at + 1..)?;
    let close = rest.iter().take(16).position(|&c| c == b']')?;
    if !matches!(rest.get(close + 1), None | Some(b' ')) {
        return None;
    }
    Some(&rest[..close])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::testing::{cx, every_cut_parses, lines as testing_lines, ts};
    use jiff::tz::TimeZone;
    use serde_json::json;

    fn parse(line: &str) -> Parsed {
        Gunicorn
            .parse(line, &cx())
            .unwrap_or_else(|| panic!("gunicorn line: {line}"))
    }

    #[test]
    fn every_fixture_line_and_cut_parses_without_panic() {
        every_cut_parses(&Gunicorn, "g27_error.log");
        every_cut_parses(&Gunicorn, "g27_access.log");
    }

    #[test]
    fn prefixed_lines_parse_and_tracebacks_do_not() {
        for line in testing_lines("gunicorn", "g27_error.log") {
            let p = Gunicorn.parse(&line, &cx());
            assert_eq!(p.is_some(), line.starts_with("[2026-11-22 "), "{line}");
            if let Some(p) = p {
                assert!(p.body <= line.len(), "{line}");
            }
        }
    }

    #[test]
    fn lines_have_time_with_offset_pid_and_level() {
        let file = testing_lines("gunicorn", "g27_error.log");
        let p = parse(&file[0]);
        assert_eq!(p.time, Some(ts("2026-11-22T13:11:35Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(p.fields.get("pid"), Some(&json!(13776)));
        assert_eq!(&file[0][p.body..], "Starting gunicorn 27.0.1");
        // The written +0000 wins over the context's zone.
        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        assert_eq!(
            Gunicorn.parse(&file[0], &paris).and_then(|p| p.time),
            Some(ts("2026-11-22T13:11:35Z"))
        );

        let error = parse(&file[6]);
        assert_eq!(error.level, Some(Level::Error));
        assert_eq!(error.fields.get("pid"), Some(&json!(13778)));
        assert_eq!(&file[6][error.body..], "Error handling request GET /boom");

        let timeout = parse(&file[35]);
        assert_eq!(&file[35][timeout.body..], "WORKER TIMEOUT (pid:13778)");
        assert_eq!(timeout.level, Some(Level::Fatal));
        assert_eq!(timeout.fields.get("pid"), Some(&json!(13776)));
        assert_eq!(timeout.time, Some(ts("2026-11-22T13:11:41Z")));
    }

    #[test]
    fn other_offsets_levels_and_zone_less_times() {
        let p = parse("[2026-11-22 13:11:35 +0530] [1] [WARNING] Worker with pid 2 was terminated");
        assert_eq!(p.time, Some(ts("2026-11-22T07:41:35Z")));
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(
            parse("[2026-11-22 13:11:35 -0300] [1] [DEBUG] x").time,
            Some(ts("2026-11-22T16:11:35Z"))
        );
        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        let p = Gunicorn
            .parse("[2026-11-22 13:11:35] [1] [INFO] no zone", &paris)
            .expect("line");
        assert_eq!(p.time, Some(ts("2026-11-22T12:11:35Z")));
        let empty = parse("[2026-11-22 13:11:35 +0000] [1] [INFO]");
        assert_eq!(empty.body, "[2026-11-22 13:11:35 +0000] [1] [INFO]".len());
    }

    #[test]
    fn other_lines_are_not_gunicorn() {
        for line in testing_lines("gunicorn", "g27_access.log") {
            assert_eq!(Gunicorn.parse(&line, &cx()), None, "{line}");
        }
        for line in [
            "",
            "[",
            "Traceback (most recent call last):",
            "ValueError: boom: something broke in osm-api",
            "[2026-11-22 13:11:35 +0000] [13776] [NOTICE] unknown level",
            "[2026-11-22 13:11:35 +0000] [x] [INFO] bad pid",
            "[2026-11-22 13:11:35 +0000] [13776] INFO no brackets",
            "[2026-11-22 13:11:35 +0000]",
            "[2026-11-22 13:11:35 +00:00x] [1] [INFO] bad zone",
            "[2026-11-22T13:11:35 +0000] [1] [INFO] T separator",
            "[c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:42:in `<main>'",
            "2026-11-22T13:15:08.704Z pid=16030 tid=bie INFO: sidekiq",
        ] {
            assert_eq!(Gunicorn.parse(line, &cx()), None, "{line}");
        }
    }
}
