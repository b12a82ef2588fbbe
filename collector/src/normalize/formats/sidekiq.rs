//! sidekiq: the lines of its default (`Pretty`) log formatter, in both generations.
//!
//! ```text
//! 2026-11-22T13:15:08.704Z pid=16030 tid=bie INFO: Booting Sidekiq 6.4.1 with redis options {...}
//! 2026-11-22T13:15:08.707Z pid=16030 tid=bs2 class=OsmSyncJob jid=86d84f6fa587ece97498136d INFO: start
//! 2026-11-22T13:15:08.757Z pid=16030 tid=bta class=OsmSyncJob jid=eaf75b5ca17e0cbea837031f elapsed=0.05 INFO: done
//! 2026-11-22T13:15:08.708Z pid=16030 tid=bs2 WARN: {"context":"Job raised exception","job":{"class":...,"jid":...}}
//! pid=16030 tid=bie INFO: Bye!
//! 2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: msg
//! 2015-11-10T03:07:39.602Z 21565 TID-16b40s HardWorker JID-0123abcd INFO: done: 0.5 sec
//! ```
//!
//! sidekiq 6 and later write `pid=`, `tid=` and the job context as `key=value` words (`class`,
//! `jid`, `elapsed` in seconds, `bid`, `tags`, and whatever an app adds); the third shape is its
//! `WithoutTimestamp` formatter (Heroku). sidekiq 5 and earlier write the pid, `TID-x`, and the
//! job as `Class JID-x [BID-x]`, and the run time as `done: 0.5 sec`. Then comes the Ruby Logger
//! severity with a colon and the message, where the body starts.
//!
//! Fields: `pid`, `tid`, `job_class`, `jid`, `bid`, `duration_ms`. The `WARN` line with the
//! failed job's JSON also gives that job's `job_class` and `jid`. The backtrace lines after an
//! error carry no prefix and are not this format.

use std::borrow::Cow;

use logq_schemas::Level;
use serde::Deserialize;

use super::rails::{decimal, number, ruby_severity, scaled};
use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::time::iso8601;

/// sidekiq's default log lines.
#[derive(Debug)]
pub struct Sidekiq;

/// How many words may come between the time and the severity.
const MAX_CONTEXT_WORDS: usize = 16;

use crate::normalize::format::Fields;

impl Format for Sidekiq {
    fn name(&self) -> &'static str {
        "sidekiq"
    }

    /// sidekiq logs a failed job's exception and its backtrace with two logger calls, so the
    /// backtrace's first frame sits behind a prefix of its own (`WARN: /app/worker.rb:12:in
    /// 'perform'`), the other frames without one: the frame continues the exception's event.
    fn wraps_writes(&self) -> bool {
        true
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        match b.first()? {
            b'0'..=b'9' if b.get(4) == Some(&b'-') && b.get(10) == Some(&b'T') => stamped(line, cx),
            b'p' if b.starts_with(b"pid=") => prefix(line, 0, None),
            _ => None,
        }
    }
}

/// A line that starts with sidekiq's UTC time.
fn stamped(line: &str, cx: &Context) -> Option<Parsed> {
    let (time, len) = iso8601(line, &cx.tz)?;
    if line.as_bytes().get(len) != Some(&b' ') {
        return None;
    }
    prefix(line, len + 1, Some(time))
}

/// The words from `at` up to the severity, then the message. Nothing is allocated until the
/// prefix has been read whole.
fn prefix(line: &str, at: usize, time: Option<jiff::Timestamp>) -> Option<Parsed> {
    let words = ContextWords::read(line, at)?;
    let context = words.words.get(..words.len)?;
    let mut fields = Fields::new();
    match line.as_bytes().get(at)? {
        b'p' if is_modern(context) => modern(context, &mut fields),
        b'0'..=b'9' if is_legacy(context) => legacy(context, &mut fields),
        _ => return None,
    }
    if let Some(message) = line.get(words.body..) {
        message_fields(message, &mut fields);
    }
    Some(Parsed {
        time,
        level: Some(words.level),
        fields,
        body: words.body,
        continuation: false,
    })
}

/// The words between the time and the severity, the severity, and where the message starts.
#[derive(Debug)]
struct ContextWords<'a> {
    words: [&'a str; MAX_CONTEXT_WORDS],
    len: usize,
    level: Level,
    body: usize,
}

impl<'a> ContextWords<'a> {
    /// Reads words from `at` up to the first `LEVEL:` word.
    fn read(line: &'a str, at: usize) -> Option<ContextWords<'a>> {
        let mut words = [""; MAX_CONTEXT_WORDS];
        for (i, (start, word)) in words_of(line, at).enumerate() {
            if let Some(level) = word
                .strip_suffix(':')
                .and_then(|w| ruby_severity(w.as_bytes()))
            {
                let body = (start + word.len() + 1).min(line.len());
                return Some(ContextWords {
                    words,
                    len: i,
                    level,
                    body,
                });
            }
            *words.get_mut(i)? = word;
        }
        None
    }
}

/// The words of `line` from `at`, each with its start, up to [`MAX_CONTEXT_WORDS`]. Words are
/// short, so a plain byte loop finds their ends faster than a `memchr` call per word.
fn words_of(line: &str, at: usize) -> impl Iterator<Item = (usize, &str)> {
    let b = line.as_bytes();
    let mut next = at;
    std::iter::from_fn(move || {
        let start = next;
        if start > b.len() {
            return None;
        }
        let end = b[start..]
            .iter()
            .position(|&c| c == b' ')
            .map_or(b.len(), |i| start + i);
        next = end + 1;
        Some((start, line.get(start..end)?))
    })
    .take(MAX_CONTEXT_WORDS)
}

/// `key=value` split at its first `=`.
fn key_value(word: &str) -> Option<(&str, &str)> {
    let eq = word.bytes().position(|c| c == b'=')?;
    Some((&word[..eq], &word[eq + 1..]))
}

/// Whether the whole of `b` is a number.
fn is_number(b: &[u8]) -> bool {
    number(b).is_some_and(|(_, len)| len == b.len())
}

/// `pid=1 tid=x [key=value ...]` (sidekiq 6 and later).
fn is_modern(context: &[&str]) -> bool {
    let [pid, tid, rest @ ..] = context else {
        return false;
    };
    pid.strip_prefix("pid=")
        .is_some_and(|p| is_number(p.as_bytes()))
        && tid.strip_prefix("tid=").is_some_and(|t| !t.is_empty())
        && rest
            .iter()
            .all(|w| key_value(w).is_some_and(|(k, _)| !k.is_empty()))
}

fn modern(context: &[&str], fields: &mut Fields) {
    for (i, (key, value)) in context.iter().filter_map(|w| key_value(w)).enumerate() {
        match key {
            "pid" if i == 0 => {
                if let Some((pid, _)) = number(value.as_bytes()) {
                    put(fields, "pid", pid);
                }
            }
            "tid" => put(fields, "tid", value),
            "jid" => put(fields, "jid", value),
            "bid" => put(fields, "bid", value),
            "class" => put(fields, "job_class", value),
            "elapsed" => {
                if let Some((millionths, len)) = decimal(value.as_bytes())
                    && len == value.len()
                {
                    put(fields, "duration_ms", scaled(millionths, 1_000));
                }
            }
            // Context an app adds (`Sidekiq::Context.add`) keeps its own name, unless that
            // name is taken.
            key if !fields.contains_key(key) => put(fields, key.to_owned(), value),
            _ => {}
        }
    }
}

/// `21565 TID-16b40s [Class JID-x [BID-x]]` (sidekiq 5 and earlier).
fn is_legacy(context: &[&str]) -> bool {
    let [pid, tid, job @ ..] = context else {
        return false;
    };
    let job_ok = match job {
        [] => true,
        [class, jid, bid @ ..] => {
            !class.is_empty()
                && !class.starts_with("JID-")
                && jid.starts_with("JID-")
                && matches!(bid, [] | [_])
                && bid.iter().all(|b| b.starts_with("BID-"))
        }
        _ => false,
    };
    is_number(pid.as_bytes()) && tid.len() > 4 && tid.starts_with("TID-") && job_ok
}

fn legacy(context: &[&str], fields: &mut Fields) {
    if let Some((pid, _)) = context.first().and_then(|p| number(p.as_bytes())) {
        put(fields, "pid", pid);
    }
    for (i, word) in context.iter().enumerate().skip(1) {
        if let Some(tid) = word.strip_prefix("TID-") {
            put(fields, "tid", tid);
        } else if let Some(jid) = word.strip_prefix("JID-") {
            put(fields, "jid", jid);
        } else if let Some(bid) = word.strip_prefix("BID-") {
            put(fields, "bid", bid);
        } else if i == 2 {
            put(fields, "job_class", *word);
        }
    }
}

/// Fields the message gives: sidekiq 5's `done: 0.5 sec`, or the failed job of the `WARN`
/// line that sidekiq 6 writes as JSON.
fn message_fields(message: &str, fields: &mut Fields) {
    let b = message.as_bytes();
    match b.first() {
        Some(b'd' | b'f') => {
            if let Some(rest) = message
                .strip_prefix("done: ")
                .or_else(|| message.strip_prefix("fail: "))
                && let Some((millionths, len)) = decimal(rest.as_bytes())
                && rest.get(len..) == Some(" sec")
            {
                put(fields, "duration_ms", scaled(millionths, 1_000));
            }
        }
        Some(b'{') if message.starts_with("{\"context\":") => failed_job(message, fields),
        _ => {}
    }
}

/// The error handler's JSON: `{"context":"Job raised exception","job":{...},"jobstr":"..."}`.
/// Only the job's names are read; everything else is skipped without being built.
#[derive(Deserialize)]
struct Failure<'a> {
    #[serde(borrow)]
    job: Option<FailedJob<'a>>,
}

#[derive(Deserialize)]
struct FailedJob<'a> {
    #[serde(borrow)]
    class: Option<Cow<'a, str>>,
    /// The Active Job class, when `class` is Active Job's Sidekiq wrapper.
    #[serde(borrow)]
    wrapped: Option<Cow<'a, str>>,
    #[serde(borrow)]
    jid: Option<Cow<'a, str>>,
}

/// `job.class` (or the Active Job class it wraps) and `job.jid` of the error handler's JSON.
fn failed_job(message: &str, fields: &mut Fields) {
    let Ok(Failure { job: Some(job) }) = serde_json::from_str::<Failure<'_>>(message) else {
        return;
    };
    if let Some(class) = job.wrapped.or(job.class) {
        fields.insert_if_absent("job_class", class.into_owned());
    }
    if let Some(jid) = job.jid {
        fields.insert_if_absent("jid", jid.into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::testing::{cx, every_cut_parses, lines as testing_lines, ts};
    use jiff::tz::TimeZone;
    use serde_json::Value;
    use serde_json::json;

    fn parse(line: &str) -> Parsed {
        Sidekiq
            .parse(line, &cx())
            .unwrap_or_else(|| panic!("sidekiq line: {line}"))
    }

    fn field<'a>(p: &'a Parsed, name: &str) -> Option<&'a Value> {
        p.fields.get(name)
    }

    #[test]
    fn every_fixture_line_and_cut_parses_without_panic() {
        every_cut_parses(&Sidekiq, "sidekiq_stdout.log");
        every_cut_parses(&Sidekiq, "sidekiq_stderr.log");
    }

    #[test]
    fn prefixed_lines_are_sidekiq_and_backtraces_are_not() {
        for line in testing_lines("sidekiq", "sidekiq_stdout.log") {
            let prefixed = line.starts_with("2026-11-22T");
            assert_eq!(Sidekiq.parse(&line, &cx()).is_some(), prefixed, "{line}");
        }
        for line in testing_lines("sidekiq", "sidekiq_stderr.log") {
            assert_eq!(Sidekiq.parse(&line, &cx()), None, "{line}");
        }
    }

    #[test]
    fn server_lines_have_time_pid_tid_and_level() {
        let file = testing_lines("sidekiq", "sidekiq_stdout.log");
        let p = parse(&file[0]);
        assert_eq!(p.time, Some(ts("2026-11-22T13:15:08.704Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(field(&p, "pid"), Some(&json!(16030)));
        assert_eq!(field(&p, "tid"), Some(&json!("bie")));
        assert!(file[0][p.body..].starts_with("Booting Sidekiq 6.4.1"));
        // The line carries its zone (`Z`): the context's zone does not apply.
        let paris = Context {
            tz: TimeZone::get("Europe/Paris").expect("tzdb"),
            ..cx()
        };
        let p = Sidekiq.parse(&file[0], &paris).expect("sidekiq line");
        assert_eq!(p.time, Some(ts("2026-11-22T13:15:08.704Z")));
    }

    #[test]
    fn job_lines_have_class_jid_and_elapsed() {
        let file = testing_lines("sidekiq", "sidekiq_stdout.log");
        let start = parse(&file[4]);
        assert_eq!(field(&start, "job_class"), Some(&json!("OsmSyncJob")));
        assert_eq!(
            field(&start, "jid"),
            Some(&json!("86d84f6fa587ece97498136d"))
        );
        assert_eq!(field(&start, "tid"), Some(&json!("bs2")));
        assert_eq!(&file[4][start.body..], "start");

        let fail = parse(&file[8]);
        assert_eq!(&file[8][fail.body..], "fail");
        assert_eq!(field(&fail, "duration_ms"), Some(&json!(1)));

        let zero = parse(&file[36]);
        assert_eq!(field(&zero, "duration_ms"), Some(&json!(0)));

        let done = parse(&file[66]);
        assert!(file[66].ends_with("elapsed=0.05 INFO: done"));
        assert_eq!(
            field(&done, "jid"),
            Some(&json!("eaf75b5ca17e0cbea837031f"))
        );
        assert_eq!(field(&done, "duration_ms"), Some(&json!(50)));
    }

    #[test]
    fn warn_lines_name_the_failed_job() {
        let file = testing_lines("sidekiq", "sidekiq_stdout.log");
        let json = parse(&file[9]);
        assert_eq!(json.level, Some(Level::Warn));
        assert_eq!(field(&json, "job_class"), Some(&json!("OsmSyncJob")));
        assert_eq!(
            field(&json, "jid"),
            Some(&json!("86d84f6fa587ece97498136d"))
        );
        assert!(file[9][json.body..].starts_with("{\"context\":"));

        let wrapped = parse(
            "2026-11-22T13:15:08.709Z pid=1 tid=x WARN: {\"context\":\"Job raised exception\",\
             \"job\":{\"class\":\"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper\",\
             \"wrapped\":\"Mail\\u0065rJob\",\"args\":[{\"a\":[1,2]}],\"jid\":\"j1\"}}",
        );
        assert_eq!(field(&wrapped, "job_class"), Some(&json!("MailerJob")));
        assert_eq!(field(&wrapped, "jid"), Some(&json!("j1")));
        let broken =
            parse("2026-11-22T13:15:08.709Z pid=1 tid=x WARN: {\"context\":\"x\",\"job\":[]}");
        assert_eq!(field(&broken, "jid"), None);

        let error = parse(&file[10]);
        assert_eq!(
            &file[10][error.body..],
            "ArgumentError: boom: bad payload 2"
        );
        assert_eq!(
            (error.level, field(&error, "jid")),
            (Some(Level::Warn), None)
        );
        let frame = parse(&file[11]);
        assert!(file[11][frame.body..].starts_with("/srv/appsrv1/sidekiq/worker.rb:12:in"));
    }

    #[test]
    fn sidekiq5_lines_and_lines_without_time() {
        let p = parse("2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: msg");
        assert_eq!(p.time, Some(ts("2015-11-10T03:07:39.602Z")));
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(field(&p, "pid"), Some(&json!(21565)));
        assert_eq!(field(&p, "tid"), Some(&json!("16b40s")));
        assert_eq!(
            p.body,
            "2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: ".len()
        );

        let line = "2015-11-10T03:07:39.602Z 21565 TID-ox4ezq7sw Mailers::Digest JID-f4b2c1e0 \
                    BID-9a8b INFO: done: 0.512 sec";
        let p = parse(line);
        assert_eq!(field(&p, "job_class"), Some(&json!("Mailers::Digest")));
        assert_eq!(field(&p, "jid"), Some(&json!("f4b2c1e0")));
        assert_eq!(field(&p, "bid"), Some(&json!("9a8b")));
        assert_eq!(field(&p, "duration_ms"), Some(&json!(512)));
        assert_eq!(&line[p.body..], "done: 0.512 sec");

        let p = parse("pid=4 tid=owl class=HardWorker jid=abc elapsed=1.5 tags=a,b INFO: done");
        assert_eq!(p.time, None);
        assert_eq!(field(&p, "duration_ms"), Some(&json!(1500)));
        assert_eq!(field(&p, "tags"), Some(&json!("a,b")));
    }

    #[test]
    fn other_lines_are_not_sidekiq() {
        for line in [
            "",
            "2026-11-22T13:15:08.704Z",
            "2026-11-22T13:15:08.704Z INFO: no pid",
            "2026-11-22T13:15:08.704Z pid=16030 INFO: no tid",
            "2026-11-22T13:15:08.704Z pid=x tid=bie INFO: bad pid",
            "2026-11-22T13:15:08.704Z pid=16030 tid=bie starting without a level",
            "2026-11-22T13:15:08.704Z 21565 16b40s ERROR: no TID-",
            "2026-11-22 13:15:08 21565 TID-16b40s ERROR: space-separated time",
            "2026-11-22T13:14:54: 2026-11-22T13:15:08.704Z pid=1 tid=x INFO: pm2 --time",
            "pid=4 level=info msg=logfmt",
            "I, [2026-11-22T13:14:54.995259 #15971]  INFO -- : rails",
            "[2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn 27.0.1",
            "/usr/share/rubygems-integration/all/gems/sidekiq-6.4.1/lib/sidekiq/util.rb:65:in `x'",
        ] {
            assert_eq!(Sidekiq.parse(line, &cx()), None, "{line}");
        }
    }
}
