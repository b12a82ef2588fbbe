//! The interface every line format implements, and what a parser returns.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use logq_schemas::Level;
use serde_json::Value;

/// What parsers know about the stream a line comes from.
#[derive(Debug, Clone)]
pub struct Context {
    /// The shipper host's time zone, for timestamps written without one (pm2 `--time`, Rails
    /// Logger, nginx's error log, syslog).
    pub tz: TimeZone,
    /// When the collector received the line: gives the year to formats that omit it (RFC 3164).
    pub received: Timestamp,
}

impl Context {
    /// A context in UTC, received at `received` (tests).
    pub fn utc(received: Timestamp) -> Context {
        Context {
            tz: TimeZone::UTC,
            received,
        }
    }
}

/// What a parser found in one line of its format.
///
/// Field names are shared across formats so that one filter finds them all: `pid` (number),
/// `tid`, `request_id`, `method`, `path`, `protocol`, `status` (number), `bytes` (number),
/// `duration_ms` (number), `remote_addr`, `user`, `referer`, `user_agent`, `controller`,
/// `action`, `job_class`, `jid`, `bid`, `program` (syslog app name, pm2 app name, Ruby
/// progname), `facility`, `syslog_host`, `msgid`, `pm_id`, `stream` (pm2 json `type`),
/// `server`, `upstream`, `http_host`, `connection` (nginx), `error` (an error message a
/// structured line names apart from its text).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Parsed {
    /// The event time the line carries, with its zone applied (`Context::tz` when it has none).
    pub time: Option<Timestamp>,
    pub level: Option<Level>,
    pub fields: Fields,
    /// Byte offset in the line where the message itself starts, after the format's prefix
    /// (pm2's `--time` stamp, a Rails tag...). Stack-trace detection looks at the text from
    /// here: pm2 writes `2026-11-22T13:07:27:     at f (node:net:1611:16)`.
    pub body: usize,
    /// The line carries only a prefix and continues an event rather than starting one: Rails'
    /// backtrace lines that hold just the `[request-id]` tag (then `fields` holds `request_id`,
    /// so the line joins the event of that request).
    pub continuation: bool,
}

/// One line format.
pub trait Format: Send + Sync + std::fmt::Debug {
    /// The name stored in each record's `format` and accepted as a shipper `--format` hint.
    fn name(&self) -> &'static str;
    /// Parses one line (without its newline), or `None` when the line is not in this format.
    /// Must never panic, whatever the bytes; must not allocate for a line it rejects.
    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed>;
    /// Whether the format's prefix wraps each line of an app's own output (pm2's `--time`
    /// stamp, syslog, plain text), so the text after it follows the app's own conventions for
    /// stack traces: `2026-11-22T13:07:27:     at f (node:net:1611:16)` continues an event.
    fn wraps_writes(&self) -> bool {
        false
    }
    /// Whether every line of the format is a whole event (access logs, JSON lines), so its
    /// record is out at once rather than after waiting for continuation lines.
    fn single_line(&self) -> bool {
        false
    }
}

/// The fields a parser found, in the order found. Names are mostly the shared vocabulary
/// above (`&'static str`), so a field costs no allocation for its name: a map with a `String`
/// per name was half of a parser's time (`perf`, `cargo bench --bench parse`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields(Vec<(Cow<'static, str>, Value)>);

impl Fields {
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    /// Sets `name` to `value`, replacing what it held.
    pub fn insert(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Sets `name` to `value` unless it holds one already.
    pub fn insert_if_absent(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) {
        let name = name.into();
        if !self.contains_key(&name) {
            self.0.push((name, value.into()));
        }
    }

    /// Adds `other`'s fields, replacing those of the same name.
    pub fn extend(&mut self, other: Fields) {
        for (name, value) in other.0 {
            self.insert(name, value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(at).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// The fields as (name, value) pairs, in the order found.
    pub fn into_pairs(self) -> impl Iterator<Item = (Cow<'static, str>, Value)> {
        self.0.into_iter()
    }

    /// The record's map.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.0
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v))
            .collect()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// The field `name`; panics when absent (for tests).
    fn index(&self, name: &str) -> &Value {
        self.get(name)
            .unwrap_or_else(|| panic!("no field {name:?} in {self:?}"))
    }
}

/// Inserts a field.
pub fn put(fields: &mut Fields, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
    fields.insert(name, value);
}

/// The level an HTTP status stands for, for request lines that name none: 5xx error, 4xx warn,
/// anything else info.
pub fn level_of_status(status: u64) -> Level {
    match status {
        500.. => Level::Error,
        400..500 => Level::Warn,
        _ => Level::Info,
    }
}
