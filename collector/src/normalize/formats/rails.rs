//! Rails: lines of Ruby's default `Logger::Formatter`, as `production.log` holds them.
//!
//! ```text
//! I, [2026-11-22T13:14:55.004321 #15971]  INFO -- : [6f66c1ca-d073-431d-abe0-95e1aabfefa9] Started POST "/items" for 127.0.0.1 at 2026-11-22 13:14:55 +0000
//! F, [2026-11-22T13:14:55.005892 #15971] FATAL -- : [c6233bf5-fced-41ef-90de-001a3333fca4]
//! [c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:42:in `block in <main>'
//! I, [2015-08-24T05:51:50.701000 #19020]  INFO -- : Completed 200 OK in 1212ms (Views: 4.0ms)
//! W, [2026-11-22T13:14:55.004321 #15971]  WARN -- sidekiq: progname before the colon
//! ```
//!
//! A Logger line is the severity letter, `[time #pid]` (local time without a zone, read in
//! `Context::tz`), the level word (`DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, `ANY`), `-- `, an
//! optional progname (field `program`) and `: `, then the message. `log_tags` put `[tag] `
//! groups at the head of the message; the first tag that looks like a request id (a UUID or a
//! long hex or alphanumeric id) is the field `request_id` (`jid`, with `job_class`, after an
//! `[ActiveJob]` tag). The body starts after the tags.
//!
//! Rails 6 writes the lines of a backtrace with the tags alone (second shape above): such a line
//! is a `continuation` whose fields hold the `request_id`. Lines without either prefix (Rails 4
//! backtraces, Rails 3 development logs) are not this format.
//!
//! From the message: `Started GET "/path" for 1.2.3.4` gives `method`, `path`, `remote_addr`;
//! `Processing by HomeController#show as HTML` gives `controller`, `action`;
//! `Completed 500 Internal Server Error in 12ms` gives `status`, `duration_ms`.
//!
//! A message that is a lograge request line (a JSON object, or `method=...` pairs) is left to
//! the `json` and `lograge_kv` formats, which read the Rails prefix too.

use logq_schemas::Level;
use serde_json::Value;

use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::time::iso8601;

/// Ruby `Logger::Formatter` lines, with Rails' tags and request lines.
#[derive(Debug)]
pub struct Rails;

/// How many `[tag]` groups are read at the head of a message.
const MAX_TAGS: usize = 8;
/// The longest tag taken as an id (Rails truncates `X-Request-Id` to 255 bytes).
const MAX_ID_LEN: usize = 255;
/// How far into the line the `#pid` is looked for when the time is not ISO 8601 (a custom
/// `datetime_format`).
const MAX_STAMP_LEN: usize = 64;

use crate::normalize::format::Fields;

impl Format for Rails {
    fn name(&self) -> &'static str {
        "rails"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        match b.first()? {
            b'[' => tag_only(line),
            b'D' | b'I' | b'W' | b'E' | b'F' | b'A' => logger_line(line, cx),
            _ => None,
        }
    }
}

/// Ruby Logger's prefix (`X, [time #pid]  LEVEL -- progname: `) and the `[tag] `s after it;
/// the `json` and `lograge_kv` formats read their Rails-prefixed lines with it too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoggerPrefix<'a> {
    /// The prefix's time, read in the context's zone (the Logger writes none).
    pub time: Option<jiff::Timestamp>,
    pub pid: u64,
    pub level: Option<Level>,
    program: &'a str,
    tags: Tags<'a>,
}

impl<'a> LoggerPrefix<'a> {
    /// Where the message starts, after the prefix and its tags.
    pub fn body(&self) -> usize {
        self.tags.end
    }

    /// The request id among the tags.
    pub fn request_id(&self) -> Option<&'a str> {
        match self.tags.id {
            Some(TagId::Request(id)) => Some(id),
            _ => None,
        }
    }

    /// Puts `pid`, `program` and the tags' id into `fields`.
    pub fn put_fields(&self, fields: &mut Fields) {
        put(fields, "pid", self.pid);
        if !self.program.is_empty() {
            put(fields, "program", self.program);
        }
        self.tags.put_id(fields);
    }
}

/// The Logger prefix at the start of `line`, or `None`. Does not allocate.
pub(crate) fn logger_prefix<'a>(line: &'a str, cx: &Context) -> Option<LoggerPrefix<'a>> {
    let b = line.as_bytes();
    if !matches!(b.first()?, b'D' | b'I' | b'W' | b'E' | b'F' | b'A') || b.get(1..4) != Some(b", [")
    {
        return None;
    }
    let (time, pid, after_stamp) = stamp(line, cx)?;
    let (level, after_level) = severity(b, after_stamp)?;
    let (program, message) = progname(line, after_level)?;
    Some(LoggerPrefix {
        time,
        pid,
        level,
        program,
        tags: read_tags(line, message),
    })
}

/// The `[tag] `s at the start of a line without a Logger prefix: their request id and where
/// the text after them starts.
pub(crate) fn leading_tags(line: &str) -> (Option<&str>, usize) {
    let tags = read_tags(line, 0);
    let id = match tags.id {
        Some(TagId::Request(id)) => Some(id),
        _ => None,
    };
    (id, tags.end)
}

/// A full `Logger::Formatter` line.
fn logger_line(line: &str, cx: &Context) -> Option<Parsed> {
    let prefix = logger_prefix(line, cx)?;
    let text = line.get(prefix.body()..).unwrap_or("");
    if is_lograge(text) {
        return None;
    }
    let mut fields = Fields::new();
    prefix.put_fields(&mut fields);
    request_fields(text, &mut fields);
    Some(Parsed {
        time: prefix.time,
        level: prefix.level,
        fields,
        body: prefix.body(),
        continuation: false,
    })
}

/// A backtrace line of a tagged logger: `[request-id] text`, with no Logger prefix.
fn tag_only(line: &str) -> Option<Parsed> {
    let tags = read_tags(line, 0);
    if tags.id.is_none() || is_lograge(line.get(tags.end..).unwrap_or("")) {
        return None;
    }
    let mut fields = Fields::new();
    tags.put_id(&mut fields);
    Some(Parsed {
        fields,
        body: tags.end,
        continuation: true,
        ..Parsed::default()
    })
}

/// Whether a message is a lograge request line, which the `json` and `lograge_kv` formats read
/// with their Rails prefix: a JSON object, or `key=value` pairs from `method=`.
fn is_lograge(text: &str) -> bool {
    match text.as_bytes().first() {
        Some(b'{') => text.trim_end().ends_with('}'),
        Some(b'm') => text.starts_with("method="),
        _ => false,
    }
}

/// `[time #pid]` after `X, [`: the time (if it reads as ISO 8601), the pid and the index
/// after `]`.
fn stamp(line: &str, cx: &Context) -> Option<(Option<jiff::Timestamp>, u64, usize)> {
    let b = line.as_bytes();
    let from = 4; // after `X, [`, all ASCII, so a char boundary
    let (time, mut i) = match line.get(from..).and_then(|s| iso8601(s, &cx.tz)) {
        Some((t, len)) => (Some(t), from + len),
        None => {
            let window = b.get(from..b.len().min(MAX_STAMP_LEN))?;
            let hash = window.iter().position(|&c| c == b'#')?;
            (None, from + hash)
        }
    };
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.get(i) != Some(&b'#') {
        return None;
    }
    let (pid, len) = number(b.get(i + 1..)?)?;
    i += 1 + len;
    if b.get(i) != Some(&b']') {
        return None;
    }
    Some((time, pid, i + 1))
}

/// The padded level word after the stamp and the ` -- ` after it: the level and the index after
/// ` -- `.
fn severity(b: &[u8], from: usize) -> Option<(Option<Level>, usize)> {
    let mut i = from;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_uppercase) {
        i += 1;
    }
    let word = b.get(start..i)?;
    if word.is_empty() || b.get(i..i + 4) != Some(b" -- ") {
        return None;
    }
    Some((ruby_severity(word), i + 4))
}

/// The level of a Ruby `Logger` severity word. `ANY` (`Logger#unknown`, which always logs) is
/// taken as info: it carries no judgement of severity.
pub(super) fn ruby_severity(word: &[u8]) -> Option<Level> {
    Some(match word {
        b"DEBUG" => Level::Debug,
        b"INFO" | b"ANY" => Level::Info,
        b"WARN" => Level::Warn,
        b"ERROR" => Level::Error,
        b"FATAL" => Level::Fatal,
        _ => return None,
    })
}

/// The progname between ` -- ` and `: `, and the index where the message starts.
fn progname(line: &str, from: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    let rest = b.get(from..)?;
    let colon = rest
        .iter()
        .enumerate()
        .position(|(i, &c)| c == b':' && matches!(rest.get(i + 1), None | Some(b' ')))?;
    let program = line.get(from..from + colon)?.trim();
    Some((program, (from + colon + 2).min(b.len())))
}

/// The id a line's tags carry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TagId<'a> {
    /// A request id (`log_tags [:request_id]`).
    Request(&'a str),
    /// An Active Job id, after the `[ActiveJob] [JobClass]` tags.
    Job { class: Option<&'a str>, id: &'a str },
}

/// The `[tag] ` groups at the head of a message.
#[derive(Debug, Clone, Copy)]
struct Tags<'a> {
    id: Option<TagId<'a>>,
    /// Where the text after the tags starts.
    end: usize,
}

impl Tags<'_> {
    fn put_id(&self, fields: &mut Fields) {
        match self.id {
            Some(TagId::Request(id)) => put(fields, "request_id", id),
            Some(TagId::Job { class, id }) => {
                put(fields, "jid", id);
                if let Some(class) = class {
                    put(fields, "job_class", class);
                }
            }
            None => {}
        }
    }
}

/// Reads the `[tag] ` groups of `line` from `start`.
fn read_tags(line: &str, start: usize) -> Tags<'_> {
    let b = line.as_bytes();
    let mut tags = Tags {
        id: None,
        end: start,
    };
    let mut active_job = false;
    let mut previous: Option<&str> = None;
    for _ in 0..MAX_TAGS {
        let Some(tag) = tag_at(line, tags.end) else {
            break;
        };
        tags.end += tag.len() + 2;
        if b.get(tags.end) == Some(&b' ') {
            tags.end += 1;
        }
        if tags.id.is_none() && looks_like_id(tag) {
            tags.id = Some(if active_job {
                TagId::Job {
                    class: previous.filter(|p| *p != "ActiveJob"),
                    id: tag,
                }
            } else {
                TagId::Request(tag)
            });
        }
        active_job |= tag == "ActiveJob";
        previous = Some(tag);
    }
    tags
}

/// The tag of a `[tag]` group at `at`, followed by a space or the end of the line.
fn tag_at(line: &str, at: usize) -> Option<&str> {
    let b = line.as_bytes();
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let rest = b.get(at + 1..)?;
    let close = rest.iter().take(MAX_ID_LEN + 1).position(|&c| c == b']')?;
    let after = at + 1 + close + 1;
    if close == 0 || !matches!(b.get(after), None | Some(b' ')) {
        return None;
    }
    line.get(at + 1..at + 1 + close)
}

/// Whether a tag is an id: a UUID or other hex id (16 hex digits or more, dashes allowed), or
/// an alphanumeric token of 20 bytes or more (`-`, `_` and `@` allowed, as Rails keeps in a
/// client's `X-Request-Id`) with a digit in it and no lowercase word (`web-01-production`).
fn looks_like_id(tag: &str) -> bool {
    let b = tag.as_bytes();
    if b.len() < 16 || b.len() > MAX_ID_LEN {
        return false;
    }
    let (mut hex, mut digit, mut beyond_hex) = (0, false, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                hex += 1;
                digit = true;
            }
            b'a'..=b'f' | b'A'..=b'F' => hex += 1,
            b'-' => {}
            b'g'..=b'z' | b'G'..=b'Z' | b'_' | b'@' => beyond_hex = true,
            _ => return false,
        }
    }
    if !beyond_hex {
        return hex >= 16;
    }
    b.len() >= 20
        && digit
        && !b
            .split(|&c| matches!(c, b'-' | b'_' | b'@'))
            .any(|part| part.len() >= 4 && part.iter().all(u8::is_ascii_lowercase))
}

/// Fields of the request lines Action Pack and Action Controller write.
fn request_fields(text: &str, fields: &mut Fields) {
    match text.as_bytes().first() {
        Some(b'S') => {
            if let Some(rest) = text.strip_prefix("Started ") {
                started(rest, fields);
            }
        }
        Some(b'P') => {
            if let Some(rest) = text.strip_prefix("Processing by ") {
                processing(rest, fields);
            }
        }
        Some(b'C') => {
            if let Some(rest) = text.strip_prefix("Completed ") {
                completed(rest, fields);
            }
        }
        _ => {}
    }
}

/// `GET "/items/42?verbose=1" for 127.0.0.1 at 2026-11-22 13:14:54 +0000`.
fn started(rest: &str, fields: &mut Fields) {
    let Some((method, rest)) = rest.split_once(' ') else {
        return;
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return;
    }
    let Some(rest) = rest.strip_prefix('"') else {
        return;
    };
    put(fields, "method", method);
    let (path, rest) = match rest.find("\" for ") {
        Some(end) => (&rest[..end], Some(&rest[end + 6..])),
        None => (rest.split('"').next().unwrap_or(rest), None),
    };
    put(fields, "path", path);
    if let Some(addr) = rest
        .and_then(|r| r.split(' ').next())
        .filter(|a| !a.is_empty())
    {
        put(fields, "remote_addr", addr);
    }
}

/// `HomeController#show as HTML`.
fn processing(rest: &str, fields: &mut Fields) {
    let target = rest.split(' ').next().unwrap_or(rest);
    if let Some((controller, action)) = target.split_once('#')
        && !controller.is_empty()
        && !action.is_empty()
    {
        put(fields, "controller", controller);
        put(fields, "action", action);
    }
}

/// `500 Internal Server Error in 12ms (...)`, or Rails 2's `in 614ms (View: 120) | 200 OK`.
fn completed(rest: &str, fields: &mut Fields) {
    let b = rest.as_bytes();
    if let Some((status, 3)) = number(b)
        && b.get(3) == Some(&b' ')
    {
        put(fields, "status", status);
    }
    let duration = if rest.starts_with("in ") {
        Some(3)
    } else {
        rest.find(" in ").map(|i| i + 4)
    };
    if let Some(at) = duration
        && let Some((millionths, len)) = decimal(&b[at..])
        && b.get(at + len..at + len + 2) == Some(b"ms")
    {
        put(fields, "duration_ms", scaled(millionths, 1_000_000));
    }
    if rest.starts_with("in ")
        && let Some(i) = rest.find(" | ")
        && let Some((status, 3)) = number(&b[i + 3..])
    {
        put(fields, "status", status);
    }
}

/// The value of the ASCII digits at the start of `b` (at most 18) and how many there are.
pub(super) fn number(b: &[u8]) -> Option<(u64, usize)> {
    let n = b.iter().take(18).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let v = b[..n]
        .iter()
        .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
    Some((v, n))
}

/// A decimal number at the start of `b` (`12`, `0.05`) in millionths, and the bytes read.
/// Digits past the sixth decimal are read and dropped.
pub(super) fn decimal(b: &[u8]) -> Option<(u64, usize)> {
    let (whole, mut len) = number(b.get(..b.len().min(12))?)?;
    let mut millionths = whole * 1_000_000;
    if b.get(len) == Some(&b'.') {
        let digits = b[len + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let mut scale = 100_000;
        for &c in &b[len + 1..len + 1 + digits.min(6)] {
            millionths += u64::from(c - b'0') * scale;
            scale /= 10;
        }
        len += 1 + digits;
    }
    Some((millionths, len))
}

/// `value / per` as a JSON number: an integer when it divides evenly.
pub(super) fn scaled(value: u64, per: u64) -> Value {
    if value.is_multiple_of(per) {
        Value::from(value / per)
    } else {
        Value::from(value as f64 / per as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::testing::{cx, every_cut_parses, lines as testing_lines, ts};
    use jiff::tz::TimeZone;
    use serde_json::json;

    fn paris() -> Context {
        Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        }
    }

    fn parse(line: &str) -> Parsed {
        Rails
            .parse(line, &cx())
            .unwrap_or_else(|| panic!("rails line: {line}"))
    }

    fn field<'a>(p: &'a Parsed, name: &str) -> Option<&'a Value> {
        p.fields.get(name)
    }

    #[test]
    fn every_fixture_line_and_cut_parses_without_panic() {
        for file in [
            "production.log",
            "rails4_production.log",
            "rails4_rotated.log",
            "rla_rails3_no_prefix.log",
        ] {
            every_cut_parses(&Rails, file);
        }
    }

    #[test]
    fn fatal_line_has_level_time_pid_and_request_id() {
        let file = testing_lines("rails", "production.log");
        let line = &file[21];
        assert!(line.starts_with("F, [2026-11-22T13:14:55.005892 #15971] FATAL"));
        let p = parse(line);
        assert_eq!(p.level, Some(Level::Fatal));
        assert_eq!(p.time, Some(ts("2026-11-22T13:14:55.005892Z")));
        assert_eq!(field(&p, "pid"), Some(&json!(15971)));
        assert_eq!(
            field(&p, "request_id"),
            Some(&json!("c6233bf5-fced-41ef-90de-001a3333fca4"))
        );
        assert!(!p.continuation);
        assert_eq!(&line[p.body..], "  ");

        let in_paris = Rails.parse(line, &paris()).expect("rails line");
        assert_eq!(in_paris.time, Some(ts("2026-11-22T12:14:55.005892Z")));
    }

    #[test]
    fn tag_only_lines_continue_their_request() {
        let file = testing_lines("rails", "production.log");
        for (i, rest) in [
            (22, "ActionController::RoutingError"),
            (23, "  "),
            (24, "app.rb:42:in"),
        ] {
            let p = parse(&file[i]);
            assert!(p.continuation, "{}", file[i]);
            assert_eq!(
                field(&p, "request_id"),
                Some(&json!("c6233bf5-fced-41ef-90de-001a3333fca4"))
            );
            assert_eq!((p.time, p.level), (None, None));
            assert!(file[i][p.body..].starts_with(rest), "{}", file[i]);
        }
    }

    #[test]
    fn request_lines_give_method_path_status_and_duration() {
        let file = testing_lines("rails", "production.log");
        let started = parse(&file[14]);
        assert_eq!(field(&started, "method"), Some(&json!("POST")));
        assert_eq!(field(&started, "path"), Some(&json!("/items")));
        assert_eq!(field(&started, "remote_addr"), Some(&json!("127.0.0.1")));
        assert_eq!(started.level, Some(Level::Info));
        assert_eq!(
            field(&started, "request_id"),
            Some(&json!("6f66c1ca-d073-431d-abe0-95e1aabfefa9"))
        );
        assert!(file[14][started.body..].starts_with("Started POST"));

        let query = parse(&file[7]);
        assert_eq!(field(&query, "path"), Some(&json!("/items/42?verbose=1")));

        let processing = parse(&file[15]);
        assert_eq!(
            field(&processing, "controller"),
            Some(&json!("HomeController"))
        );
        assert_eq!(field(&processing, "action"), Some(&json!("create")));

        let failed = parse(&file[29]);
        assert!(file[29].contains("Completed 500 Internal Server Error in 0ms"));
        assert_eq!(field(&failed, "status"), Some(&json!(500)));
        assert_eq!(field(&failed, "duration_ms"), Some(&json!(0)));

        let created = parse(&file[17]);
        assert_eq!(field(&created, "status"), Some(&json!(201)));
    }

    #[test]
    fn rails4_lines_without_tags() {
        let file = testing_lines("rails", "rails4_production.log");
        let p = parse(&file[0]);
        assert_eq!(p.time, Some(ts("2015-08-24T05:51:49.146Z")));
        assert_eq!(field(&p, "pid"), Some(&json!(19020)));
        assert_eq!(field(&p, "method"), Some(&json!("POST")));
        assert_eq!(field(&p, "path"), Some(&json!("/chargify/hooks")));
        assert_eq!(field(&p, "remote_addr"), Some(&json!("50.112.130.129")));
        assert_eq!(field(&p, "request_id"), None);
        assert!(file[0][p.body..].starts_with("Started POST"));

        let p = parse(&file[1]);
        assert_eq!(
            field(&p, "controller"),
            Some(&json!("Chargify::HooksController"))
        );
        assert_eq!(field(&p, "action"), Some(&json!("dispatch_handler")));

        let p = parse(&file[4]);
        assert_eq!(field(&p, "status"), Some(&json!(200)));
        assert_eq!(field(&p, "duration_ms"), Some(&json!(1212)));

        let p = parse(&testing_lines("rails", "rails4_rotated.log")[3]);
        assert_eq!(field(&p, "status"), Some(&json!(201)));
        assert_eq!(field(&p, "duration_ms"), Some(&json!(112)));
    }

    #[test]
    fn lines_without_the_logger_prefix_are_not_rails() {
        for line in testing_lines("rails", "rla_rails3_no_prefix.log") {
            assert_eq!(Rails.parse(&line, &cx()), None, "{line}");
        }
        for line in [
            "# Logfile created on 2026-11-22 13:14:54 +0000 by logger.rb/v1.5.0",
            "",
            "ActiveRecord::RecordNotFound (Couldn't find Document with 'id'=1):",
            "  app/controllers/documents_controller.rb:12:in `show'",
            "[2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn 27.0.1",
            "2026-11-22T13:15:08.704Z pid=16030 tid=bie INFO: Bye!",
            "[web-01-production] not an id",
            "[1234] [INFO] short tags",
            "I, [2026-11-22T13:14:54.995259 #15971]  INFO : missing the dashes",
            "I, [2026-11-22T13:14:54.995259 15971]  INFO -- : no hash",
            "I, [",
        ] {
            assert_eq!(Rails.parse(line, &cx()), None, "{line}");
        }
    }

    #[test]
    fn prognames_other_severities_and_active_job_tags() {
        let p = parse("W, [2026-11-22T13:14:54.995259 #7]  WARN -- sidekiq: low memory");
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(field(&p, "program"), Some(&json!("sidekiq")));
        assert_eq!(field(&p, "pid"), Some(&json!(7)));
        assert_eq!(
            &"W, [2026-11-22T13:14:54.995259 #7]  WARN -- sidekiq: low memory"[p.body..],
            "low memory"
        );

        assert_eq!(
            parse("D, [2026-11-22T13:14:54.9 #7] DEBUG -- : x").level,
            Some(Level::Debug)
        );
        assert_eq!(
            parse("E, [2026-11-22T13:14:54.9 #7] ERROR -- : x").level,
            Some(Level::Error)
        );
        assert_eq!(
            parse("A, [2026-11-22T13:14:54.9 #7]   ANY -- : x").level,
            Some(Level::Info)
        );
        let empty = parse("I, [2026-11-22T13:14:54.9 #7]  INFO -- :");
        assert_eq!(empty.body, "I, [2026-11-22T13:14:54.9 #7]  INFO -- :".len());

        let custom = parse("I, [22/11/2026 13:14 #7]  INFO -- : custom datetime_format");
        assert_eq!(
            (custom.time, field(&custom, "pid")),
            (None, Some(&json!(7)))
        );

        let job = parse(
            "I, [2026-11-22T13:14:54.9 #7]  INFO -- : [ActiveJob] [HardJob] \
             [0a5c1e4b-3f7e-4f7a-9a1d-2b6c8d9e0f11] Performing HardJob",
        );
        assert_eq!(
            field(&job, "jid"),
            Some(&json!("0a5c1e4b-3f7e-4f7a-9a1d-2b6c8d9e0f11"))
        );
        assert_eq!(field(&job, "job_class"), Some(&json!("HardJob")));
        assert_eq!(field(&job, "request_id"), None);

        let second =
            parse("I, [2026-11-22T13:14:54.9 #7]  INFO -- : [www] [5fMq2xT0Lk9bZr3Vw8YcQ1] hi");
        assert_eq!(
            field(&second, "request_id"),
            Some(&json!("5fMq2xT0Lk9bZr3Vw8YcQ1"))
        );
    }

    #[test]
    fn lograge_request_lines_are_left_to_json_and_lograge_kv() {
        for line in [
            "I, [2026-11-22T13:14:55.752549 #15974]  INFO -- : [7839047f-de6e-41ec-a58e-dddd84a6a0a7] \
             {\"method\":\"GET\",\"path\":\"/\",\"status\":200}",
            "I, [2026-11-22T13:14:56.504808 #15977]  INFO -- : [7c33acec-026f-4a6d-be09-4647265d66ad] \
             method=GET path=/ format=html status=200 duration=7.57",
            "I, [2026-11-22T13:14:56.504808 #15977]  INFO -- : method=GET path=/ status=200",
            "[a08fcce3-02b3-4c5f-9f05-4e65792cb8be] method=GET path=/ status=200 duration=7.57",
        ] {
            assert_eq!(Rails.parse(line, &cx()), None, "{line}");
        }
        let p = parse(
            "I, [2026-11-22T13:14:55.753762 #15974]  INFO -- : [1bf4ac65-e63d-48d6-9dd4-d5dc2b4ed30c] \
             looking up item 42",
        );
        assert_eq!(
            field(&p, "request_id"),
            Some(&json!("1bf4ac65-e63d-48d6-9dd4-d5dc2b4ed30c"))
        );
        let p = parse("I, [2026-11-22T13:14:55.753762 #15974]  INFO -- : {\"partial\": ");
        assert_eq!(p.level, Some(Level::Info));
    }

    #[test]
    fn ids_and_numbers() {
        assert!(looks_like_id("c6233bf5-fced-41ef-90de-001a3333fca4"));
        assert!(looks_like_id("0123456789abcdef0123456789abcdef"));
        assert!(looks_like_id("5fMq2xT0Lk9bZr3Vw8YcQ1"));
        assert!(!looks_like_id("web-01-production"));
        assert!(!looks_like_id("ActiveJob"));
        assert!(!looks_like_id("2026-11-22 13:11:35 +0000"));
        assert_eq!(decimal(b"12ms"), Some((12_000_000, 2)));
        assert_eq!(decimal(b"0.05 sec"), Some((50_000, 4)));
        assert_eq!(decimal(b"1.23456789"), Some((1_234_567, 10)));
        assert_eq!(decimal(b"x"), None);
        assert_eq!(scaled(50_000, 1_000), json!(50));
        assert_eq!(scaled(1_500, 1_000), json!(1.5));
        let p = parse(
            "I, [2026-11-22T13:14:54.9 #7]  INFO -- : Completed in 614ms (View: 120) | 200 OK [http://x/]",
        );
        assert_eq!(field(&p, "status"), Some(&json!(200)));
        assert_eq!(field(&p, "duration_ms"), Some(&json!(614)));
    }
}
