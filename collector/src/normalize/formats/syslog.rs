//! syslog lines, as syslog daemons write them to files and send them over the network:
//!
//! ```text
//! <34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed             RFC 3164, with a PRI
//! Nov  3 09:23:38 veridian automount[7998]: lookup for foobar failed  rsyslog's file format
//! 2026-11-23T10:00:00.123456+00:00 web1 app[12]: msg                  rsyslog's high-precision
//!                                                                     file format (RFC 3339)
//! <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event
//!                                                                     RFC 5424
//! ```
//!
//! RFC 3164 stamps carry no year and no zone: the year is the one `Context::received` falls in
//! (in `Context::tz`), or the year before when that would put the line more than a few days in
//! the future (a December line read in January); the zone is `Context::tz`. The tag is
//! `program[pid]:` or `program:` (macOS writes `Setup Assistant[1173]:` and
//! `launchd[1] (service): ...`); a line whose text has no tag (`Use the BFG!`) keeps just the
//! host. The ISO 8601 form without a PRI must have a zone and a tag, so that plain lines that
//! begin with a time are not taken for syslog.
//!
//! RFC 5424 `-` values are left out; structured data stays in the text only.
//!
//! Fields: `syslog_host`, `program` (the tag or APP-NAME), `pid` (number, when the PID or PROCID
//! is one), `msgid` (RFC 5424), `facility` (its name, from the PRI). The level is the PRI's
//! severity when there is a PRI (0-2 fatal, 3 error, 4 warn, 5-6 info, 7 debug), else a level
//! word at the start of the message ([`level_word`]). `body` points at the message after the tag.

use jiff::{SignedDuration, Timestamp};
use logq_schemas::Level;

use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::formats::plain::level_word;
use crate::normalize::time::{civil, digits, in_zone, iso8601, month_abbrev};

/// RFC 3164 and RFC 5424 syslog lines and rsyslog's file formats.
#[derive(Debug)]
pub struct Syslog;

/// How far past the receive time a year-less stamp may lie before it is taken as last year's.
const FUTURE_SLACK: SignedDuration = SignedDuration::from_hours(3 * 24);
/// How far into the message the end of a tag (`[`, `:`) may sit.
const MAX_TAG: usize = 96;
/// The highest PRI: facility 23 (local7), severity 7.
const MAX_PRI: u32 = 191;
/// Facility names by number, as rsyslog and RFC 5424 section 6.2.1 give them.
const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

impl Format for Syslog {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        let (pri, at) = match b.first()? {
            b'<' => {
                let (pri, len) = pri(b)?;
                (Some(pri), len)
            }
            b'A'..=b'S' | b'0'..=b'9' => (None, 0),
            _ => return None,
        };
        let mut p = match pri.map(|_| version(&b[at..])) {
            Some(Some(len)) => rfc5424(line, at + len, cx)?,
            _ => rfc3164(line, at, pri.is_some(), cx)?,
        };
        match pri {
            Some(pri) => {
                p.level = Some(severity_level(pri % 8));
                let facility = FACILITIES[(pri / 8) as usize];
                put(&mut p.fields, "facility", facility);
            }
            None => p.level = line.get(p.body..).and_then(level_word),
        }
        Some(p)
    }

    /// syslog wraps each line an app writes.
    fn wraps_writes(&self) -> bool {
        true
    }
}

/// `<N>` at the start of `b`: the PRI and its length.
fn pri(b: &[u8]) -> Option<(u32, usize)> {
    let len = b
        .iter()
        .skip(1)
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=3).contains(&len) || b.get(1 + len) != Some(&b'>') {
        return None;
    }
    let pri = digits(&b[1..], len)?;
    (pri <= MAX_PRI).then_some((pri, len + 2))
}

/// The length of RFC 5424's `VERSION SP` (one or two digits, not 0) at the start of `b`.
fn version(b: &[u8]) -> Option<usize> {
    let len = b.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    ((1..=2).contains(&len) && b[0] != b'0' && b.get(len) == Some(&b' ')).then_some(len + 1)
}

/// The level a syslog severity stands for.
fn severity_level(severity: u32) -> Level {
    match severity {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

/// `TIMESTAMP HOSTNAME TAG: MSG` from `at`, with a BSD stamp (`Mmm dd HH:MM:SS`) or an RFC 3339
/// one (rsyslog's high-precision format). `has_pri` relaxes the checks on the latter.
fn rfc3164(line: &str, at: usize, has_pri: bool, cx: &Context) -> Option<Parsed> {
    let b = line.as_bytes();
    let (time, len, iso) = match bsd_stamp(&b[at..], cx) {
        Some((time, len)) => (time, len, false),
        None => {
            let (time, len) = iso8601(line.get(at..)?, &cx.tz)?;
            let zoned = b[at + 19..at + len]
                .iter()
                .any(|c| matches!(c, b'+' | b'-' | b'Z' | b'z'));
            if !zoned && !has_pri {
                return None;
            }
            (time, len, true)
        }
    };
    let mut at = at + len;
    if b.get(at) != Some(&b' ') {
        return None;
    }
    at += 1;
    let mut p = Parsed {
        time: Some(time),
        ..Parsed::default()
    };
    let word = &line[at..at + line[at..].find(' ').unwrap_or(line.len() - at)];
    if is_host(word) && at + word.len() < line.len() {
        if iso && !has_pri && is_level_word(word) {
            return None;
        }
        put(&mut p.fields, "syslog_host", word);
        at += word.len() + 1;
    }
    match tag(&line[at..]) {
        Some(tag) => {
            put(&mut p.fields, "program", tag.program);
            if let Some(pid) = tag.pid {
                put(&mut p.fields, "pid", pid);
            }
            p.body = at + tag.len;
        }
        // Without a PRI, an RFC 3339 time and a host could begin any plain line: ask for a tag.
        None if iso && !has_pri => return None,
        None if !p.fields.contains_key("syslog_host") => return None,
        None => p.body = at,
    }
    Some(p)
}

/// `Mmm dd HH:MM:SS` (the day padded with a space, or not) at the start of `b`, in the context's
/// zone and the year that puts it closest before the receive time. Returns the bytes read.
fn bsd_stamp(b: &[u8], cx: &Context) -> Option<(Timestamp, usize)> {
    let mo = month_abbrev(b)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut at = 4;
    if b.get(at) == Some(&b' ') {
        at += 1;
    }
    let day_len = b
        .iter()
        .skip(at)
        .take(3)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let d = digits(&b[at..], day_len)?;
    at += day_len;
    let t = b.get(at..at + 9)?;
    if t[0] != b' ' || t[3] != b':' || t[6] != b':' {
        return None;
    }
    let (h, mi, s) = (
        digits(&t[1..], 2)?,
        digits(&t[4..], 2)?,
        digits(&t[7..], 2)?,
    );
    let year = cx.tz.to_datetime(cx.received).year();
    let at_year = |y: i16| {
        let y = u32::try_from(y).ok()?;
        in_zone(civil(y, mo, d, h, mi, s.min(59), 0)?, &cx.tz)
    };
    let time = match at_year(year) {
        Some(t) if t.duration_since(cx.received) <= FUTURE_SLACK => t,
        _ => at_year(year - 1)?,
    };
    Some((time, at + 9))
}

/// Whether `w` can be a host name or address (not a tag such as `su:`, as a line sent without
/// a host has).
fn is_host(w: &str) -> bool {
    !w.is_empty()
        && !w.ends_with(':')
        && w.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'%'))
}

/// Whether `w` is a level name (`ERROR`), which a plain line may have where syslog has a host.
fn is_level_word(w: &str) -> bool {
    w.len() <= 11 && Level::from_alias(w).is_some()
}

/// A syslog tag at the start of the message.
#[derive(Debug, PartialEq)]
struct Tag<'a> {
    program: &'a str,
    pid: Option<u64>,
    /// Bytes up to the message after the tag.
    len: usize,
}

/// `program[pid]: `, `program: ` or `program[pid] ` at the start of `s`; `None` when the text
/// has no tag. A program name may hold spaces (macOS's `Setup Assistant[1173]:`) only when a
/// `[pid]` follows and each word starts with a letter.
fn tag(s: &str) -> Option<Tag<'_>> {
    let b = s.as_bytes();
    let end = b
        .iter()
        .take(MAX_TAG)
        .position(|&c| c == b'[' || c == b':')?;
    let program = &s[..end];
    if program.is_empty() {
        return None;
    }
    let spaced = program.contains(' ');
    if b[end] == b':' {
        let len = end + 1 + usize::from(b.get(end + 1) == Some(&b' '));
        let ends = matches!(b.get(end + 1), None | Some(b' '));
        return (!spaced && ends).then_some(Tag {
            program,
            pid: None,
            len,
        });
    }
    if spaced
        && !program
            .split(' ')
            .all(|w| w.bytes().next().is_some_and(|c| c.is_ascii_alphabetic()))
    {
        return None;
    }
    let digits_len = b[end + 1..]
        .iter()
        .take(20)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let close = end + 1 + digits_len;
    if digits_len == 0 || b.get(close) != Some(&b']') {
        return None;
    }
    let pid = s[end + 1..close].parse().ok();
    let len = match b.get(close + 1) {
        Some(b':') => close + 2 + usize::from(b.get(close + 2) == Some(&b' ')),
        Some(b' ') => close + 2,
        None => close + 1,
        _ => return None,
    };
    Some(Tag {
        program,
        pid,
        len: len.min(s.len()),
    })
}

/// `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]` from `at` (RFC 5424).
fn rfc5424(line: &str, at: usize, cx: &Context) -> Option<Parsed> {
    let b = line.as_bytes();
    let mut p = Parsed::default();
    let mut at = at;
    if b.get(at) == Some(&b'-') {
        at += 1;
    } else {
        let (time, len) = iso8601(line.get(at..)?, &cx.tz)?;
        p.time = Some(time);
        at += len;
    }
    for name in ["syslog_host", "program", "procid", "msgid"] {
        if b.get(at) != Some(&b' ') {
            return None;
        }
        at += 1;
        let rest = &line[at..];
        let len = rest.find(' ')?;
        let value = &rest[..len];
        if value.is_empty() || !value.bytes().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        at += len;
        if value == "-" {
            continue;
        }
        match name {
            "procid" => {
                if let Ok(pid) = value.parse::<u64>() {
                    put(&mut p.fields, "pid", pid);
                }
            }
            _ => put(&mut p.fields, name, value),
        }
    }
    at += 1;
    at += structured_data(b.get(at..)?)?;
    p.body = match b.get(at) {
        None => at,
        Some(b' ') if b[at + 1..].starts_with("\u{feff}".as_bytes()) => at + 4,
        Some(b' ') => at + 1,
        Some(_) => return None,
    };
    Some(p)
}

/// The length of RFC 5424 STRUCTURED-DATA at the start of `b`: `-` or `[id k="v" ...]...`,
/// where a quoted value may hold `\"`, `\]` and `\\`.
fn structured_data(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'-' => return Some(1),
        b'[' => {}
        _ => return None,
    }
    let mut at = 0;
    while b.get(at) == Some(&b'[') {
        at += 1;
        let mut quoted = false;
        loop {
            match *b.get(at)? {
                b'\\' if quoted => at += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            at += 1;
        }
        at += 1;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::ts;

    const FIXTURES: [&str; 5] = [
        "lnav_syslog.0.log",
        "lnav_syslog.1.log",
        "lnav_format_samples_syslog.log",
        "rfc5424_examples.log",
        "rfc3164_examples.log",
    ];

    fn cx() -> Context {
        Context::utc(ts("2026-11-23T12:00:00Z"))
    }

    fn parse_at(line: &str, cx: &Context) -> Option<Parsed> {
        Syslog.parse(line, cx)
    }

    fn parse(line: &str) -> Option<Parsed> {
        parse_at(line, &cx())
    }

    fn line(file: &str, n: usize) -> (String, Parsed) {
        let text = fixture("syslog", file);
        let line = text.lines().nth(n - 1).expect("line in fixture").to_owned();
        let p = parse(&line).unwrap_or_else(|| panic!("{file}:{n} parses: {line}"));
        (line, p)
    }

    fn field<'p>(p: &'p Parsed, name: &str) -> Option<&'p Value> {
        p.fields.get(name)
    }

    #[test]
    fn every_fixture_line_parses_without_panic() {
        for file in FIXTURES {
            let text = fixture("syslog", file);
            for (i, l) in text.lines().enumerate() {
                let p = parse(l);
                // Only the RFC 3164 example with a year before the month is not syslog as
                // daemons write it.
                if !l.starts_with("<0>1990") {
                    assert!(p.is_some(), "{file}:{}: {l}", i + 1);
                }
            }
        }
    }

    #[test]
    fn rsyslog_file_lines_take_the_receive_year() {
        let (text, p) = line("lnav_syslog.0.log", 1);
        assert_eq!(p.time, Some(ts("2026-11-03T09:23:38Z")));
        assert_eq!(field(&p, "syslog_host"), Some(&json!("veridian")));
        assert_eq!(field(&p, "program"), Some(&json!("automount")));
        assert_eq!(field(&p, "pid"), Some(&json!(7998)));
        assert_eq!(field(&p, "facility"), None);
        assert_eq!(&text[p.body..], "lookup(file): lookup for foobar failed");
        assert_eq!(p.level, None);

        // No pid; the message after `sudo: `.
        let (text, p) = line("lnav_syslog.0.log", 4);
        assert_eq!(field(&p, "program"), Some(&json!("sudo")));
        assert_eq!(field(&p, "pid"), None);
        assert!(text[p.body..].starts_with("timstack : TTY=pts/6"));
    }

    #[test]
    fn a_year_ahead_of_the_receive_time_is_last_year() {
        // Received on 2027-01-02: Dec 3 is last year's, Jan 3 this year's (one day ahead).
        let cx = Context::utc(ts("2027-01-02T08:00:00Z"));
        let text = fixture("syslog", "lnav_syslog.1.log");
        let mut lines = text.lines();
        let dec = parse_at(lines.next().expect("line"), &cx).expect("parses");
        assert_eq!(dec.time, Some(ts("2026-12-03T09:23:38Z")));
        let jan = parse_at(lines.nth(2).expect("line"), &cx).expect("parses");
        assert_eq!(jan.time, Some(ts("2027-01-03T09:47:02Z")));
        assert_eq!(field(&jan, "program"), Some(&json!("sudo")));

        // The zone of the context applies.
        let paris = jiff::tz::TimeZone::get("Europe/Paris").expect("tzdb");
        let cx = Context {
            tz: paris,
            received: ts("2026-11-23T12:00:00Z"),
        };
        let p =
            parse_at("Nov 23 10:00:00 web1 sshd[4321]: Accepted publickey", &cx).expect("parses");
        assert_eq!(p.time, Some(ts("2026-11-23T09:00:00Z")));
        assert_eq!(field(&p, "pid"), Some(&json!(4321)));
    }

    #[test]
    fn rfc3164_with_pri_has_facility_and_severity() {
        let (text, p) = line("rfc3164_examples.log", 1);
        assert_eq!(field(&p, "facility"), Some(&json!("auth")));
        assert_eq!(p.level, Some(Level::Fatal)); // severity 2, critical
        assert_eq!(field(&p, "syslog_host"), Some(&json!("mymachine")));
        assert_eq!(field(&p, "program"), Some(&json!("su")));
        assert_eq!(p.time, Some(ts("2026-10-11T22:14:15Z")));
        assert!(text[p.body..].starts_with("'su root' failed"));

        // No tag: the host only.
        let (text, p) = line("rfc3164_examples.log", 2);
        assert_eq!(field(&p, "syslog_host"), Some(&json!("10.0.0.99")));
        assert_eq!(field(&p, "program"), None);
        assert_eq!(p.level, Some(Level::Info)); // user.notice
        assert_eq!(&text[p.body..], "Use the BFG!");
        assert_eq!(p.time, Some(ts("2026-02-05T17:32:18Z")));

        let p = parse("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed").expect("parses");
        assert_eq!(field(&p, "pid"), Some(&json!(123)));
        let p = parse("<191>Nov 23 10:00:00 h app: debug").expect("parses");
        assert_eq!(
            (p.level, field(&p, "facility")),
            (Some(Level::Debug), Some(&json!("local7")))
        );
        // Sent to /dev/log, before the daemon adds a host.
        let p = parse("<14>Nov 23 10:00:00 su: x").expect("parses");
        assert_eq!(
            (field(&p, "program"), field(&p, "syslog_host")),
            (Some(&json!("su")), None)
        );
        let p = parse("<14>Nov 23 10:00:00 app[7]: x").expect("parses");
        assert_eq!(
            (field(&p, "program"), field(&p, "pid")),
            (Some(&json!("app")), Some(&json!(7)))
        );
        assert_eq!(
            (p.level, field(&p, "facility")),
            (Some(Level::Info), Some(&json!("user")))
        );
    }

    #[test]
    fn macos_and_linux_tags_from_lnav() {
        let (_, p) = line("lnav_format_samples_syslog.log", 2);
        assert_eq!(
            field(&p, "syslog_host"),
            Some(&json!("Tims-MacBook-Air.local"))
        );
        assert_eq!(field(&p, "program"), Some(&json!("configd")));
        assert_eq!(field(&p, "pid"), Some(&json!(17)));

        let (text, p) = line("lnav_format_samples_syslog.log", 3);
        assert_eq!(field(&p, "program"), None);
        assert!(text[p.body..].starts_with("[CLOUDINIT] util.py[DEBUG]:"));

        let (text, p) = line("lnav_format_samples_syslog.log", 7);
        assert_eq!(field(&p, "program"), Some(&json!("com.apple.xpc.launchd")));
        assert_eq!(field(&p, "pid"), Some(&json!(1)));
        assert!(text[p.body..].starts_with("(com.apple.mdworker"));

        let (text, p) = line("lnav_format_samples_syslog.log", 8);
        assert_eq!(field(&p, "program"), Some(&json!("Setup Assistant")));
        assert_eq!(field(&p, "pid"), Some(&json!(1173)));
        assert_eq!(&text[p.body..], "Creating connection");
        assert_eq!(p.time, Some(ts("2026-01-04T10:23:26Z")));
    }

    #[test]
    fn rsyslog_high_precision_format() {
        let (text, p) = line("lnav_format_samples_syslog.log", 9);
        assert_eq!(p.time, Some(ts("2025-08-31T16:36:55.418891Z")));
        assert_eq!(field(&p, "syslog_host"), Some(&json!("stack-pc2")));
        assert_eq!(field(&p, "program"), Some(&json!("rsyslogd")));
        assert!(text[p.body..].starts_with("[origin software="));

        let p = parse("2026-11-23T10:00:00.123456+00:00 web1 app[12]: ERROR disk full")
            .expect("parses");
        assert_eq!(p.time, Some(ts("2026-11-23T10:00:00.123456Z")));
        assert_eq!(field(&p, "syslog_host"), Some(&json!("web1")));
        assert_eq!(field(&p, "program"), Some(&json!("app")));
        assert_eq!(field(&p, "pid"), Some(&json!(12)));
        assert_eq!(p.level, Some(Level::Error));
    }

    #[test]
    fn rfc5424_examples() {
        let (text, p) = line("rfc5424_examples.log", 1);
        assert_eq!(p.time, Some(ts("2003-10-11T22:14:15.003Z")));
        assert_eq!(
            field(&p, "syslog_host"),
            Some(&json!("mymachine.example.com"))
        );
        assert_eq!(field(&p, "program"), Some(&json!("su")));
        assert_eq!(field(&p, "pid"), None);
        assert_eq!(field(&p, "msgid"), Some(&json!("ID47")));
        assert_eq!(field(&p, "facility"), Some(&json!("auth")));
        assert_eq!(p.level, Some(Level::Fatal));
        assert!(
            text[p.body..].starts_with("'su root' failed"),
            "BOM skipped"
        );

        let (text, p) = line("rfc5424_examples.log", 2);
        assert_eq!(p.time, Some(ts("2003-08-24T12:14:15.000003Z")));
        assert_eq!(field(&p, "syslog_host"), Some(&json!("192.0.2.1")));
        assert_eq!(field(&p, "program"), Some(&json!("myproc")));
        assert_eq!(field(&p, "pid"), Some(&json!(8710)));
        assert_eq!(field(&p, "msgid"), None);
        assert_eq!(field(&p, "facility"), Some(&json!("local4")));
        assert_eq!(p.level, Some(Level::Info)); // notice
        assert!(text[p.body..].starts_with("%% It's time"));

        let (text, p) = line("rfc5424_examples.log", 3);
        assert_eq!(field(&p, "program"), Some(&json!("evntslog")));
        assert_eq!(&text[p.body..], "An application event log entry...");

        // Structured data and no message.
        let (text, p) = line("rfc5424_examples.log", 4);
        assert_eq!(p.body, text.len());
        assert_eq!(field(&p, "msgid"), Some(&json!("ID47")));
    }

    #[test]
    fn rsyslog_5424_from_lnav() {
        let (text, p) = line("lnav_format_samples_syslog.log", 4);
        assert_eq!(p.time, Some(ts("2017-04-27T05:50:47.381967Z")));
        assert_eq!(field(&p, "program"), Some(&json!("rsyslogd")));
        assert_eq!(&text[p.body..], "start");
        assert_eq!(field(&p, "facility"), Some(&json!("syslog")));

        let (_, p) = line("lnav_format_samples_syslog.log", 6);
        assert_eq!(field(&p, "program"), Some(&json!("CRON")));
        assert_eq!(field(&p, "pid"), Some(&json!(1472)));
        assert_eq!(field(&p, "facility"), Some(&json!("cron")));
    }

    #[test]
    fn tags() {
        assert_eq!(
            tag("su: x"),
            Some(Tag {
                program: "su",
                pid: None,
                len: 4
            })
        );
        assert_eq!(
            tag("a[1]:"),
            Some(Tag {
                program: "a",
                pid: Some(1),
                len: 5
            })
        );
        assert_eq!(
            tag("a[1]"),
            Some(Tag {
                program: "a",
                pid: Some(1),
                len: 4
            })
        );
        assert_eq!(tag("a[x]: y"), None);
        assert_eq!(tag("Use the BFG!"), None);
        assert_eq!(tag("1987 mymachine myproc[10]: x"), None);
        assert_eq!(tag("syslogd 1.4.1: restart."), None);
        assert_eq!(tag("http://x"), None);
        assert_eq!(tag("[1]: x"), None);
    }

    #[test]
    fn other_formats_and_broken_lines_are_rejected() {
        for l in [
            r#"127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] "GET / HTTP/1.1" 200 13 "-" "curl/7.88.1""#,
            "2021/04/01 13:02:31 [error] 31#31: *1 open() failed",
            "2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: boom",
            "2026-11-23T09:00:01.5Z ERROR connect failed",
            "2026-11-23T09:00:01.5Z ERROR db: connect failed",
            "2026-11-22T13:07:27: Listening on 3000",
            "2026-11-22 13:07:27 server started",
            "I, [2015-08-24T07:36:43.598000 #19020]  INFO -- : Started GET",
            "Nov 23 10:00:00",
            "Nov 23 10:00:00 ",
            "Nov 31 10:00:00 h a: b",
            "Now 23 10:00:00 h a: b",
            "<192>Nov 23 10:00:00 h a: b",
            "<1>1 2026-11-23T10:00:00Z h a - -",
            "<1>1 2026-11-23T10:00:00Z h a - - [x",
            "<1>1 2026-11-23T10:00:00Z h a - - -x",
            "<",
            "",
        ] {
            assert_eq!(parse(l), None, "{l}");
        }
    }

    #[test]
    fn every_prefix_of_every_fixture_line_is_safe() {
        let cx = cx();
        for file in FIXTURES {
            for l in fixture("syslog", file).lines() {
                for (i, _) in l.char_indices() {
                    let _ = Syslog.parse(&l[..i], &cx);
                    let _ = Syslog.parse(&l[i..], &cx);
                }
            }
        }
    }
}
