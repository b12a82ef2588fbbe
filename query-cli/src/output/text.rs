//! Human-readable output: `<time> <app> <LEVEL> <message>` lines, and the apps table.

use std::fmt;
use std::io::{self, Write};

use jiff::tz::TimeZone;
use logq_schemas::{Level, Record};

use super::color::{self, Style};
use crate::client::AppSummary;

/// A time as `logq` prints it: `2026-11-22T13:11:35.123Z` in UTC, `2026-11-22 14:11:35.123` in
/// any other zone.
#[derive(Debug, Clone, Copy)]
struct Time<'a> {
    t: jiff::Timestamp,
    tz: &'a TimeZone,
}

impl fmt::Display for Time<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self.tz == TimeZone::UTC {
            write!(f, "{}", self.t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        } else {
            let local = self.tz.to_datetime(self.t);
            write!(f, "{}", local.strftime("%Y-%m-%d %H:%M:%S%.3f"))
        }
    }
}

fn time(t: jiff::Timestamp, tz: &TimeZone) -> String {
    Time { t, tz }.to_string()
}

/// What a printed record is to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    /// A record that matched.
    Hit,
    /// A record printed only because it is near a hit.
    Context,
}

/// Width of the level column (`ERROR`).
const LEVEL_WIDTH: usize = 5;

fn level_label(level: Option<Level>) -> &'static str {
    match level {
        None => "-",
        Some(Level::Trace) => "TRACE",
        Some(Level::Debug) => "DEBUG",
        Some(Level::Info) => "INFO",
        Some(Level::Warn) => "WARN",
        Some(Level::Error) => "ERROR",
        Some(Level::Fatal) => "FATAL",
    }
}

/// Writes one record as `<time> <app> <LEVEL> <message>` and a newline; a multi-line message
/// keeps its newlines exactly.
///
/// Hits and context lines have the same text, so that scripts reading uncoloured output see
/// one format (grep marks context with `-` instead of `:`, which would shift every column).
/// With colour a hit has a dim time, its app's colour and its level's colour, while a context
/// line is dim from end to end: the difference is visible only in colour.
pub(super) fn write_line(
    out: &mut impl Write,
    r: &Record,
    kind: LineKind,
    tz: &TimeZone,
    color: bool,
) -> io::Result<()> {
    let label = level_label(r.level);
    let (time_style, app_style, level_style, message_style) = match kind {
        LineKind::Hit => (
            Style::DIM,
            color::app(&r.app),
            r.level.map_or(Style::PLAIN, color::level),
            Style::PLAIN,
        ),
        LineKind::Context => (Style::DIM, Style::DIM, Style::DIM, Style::DIM),
    };
    writeln!(
        out,
        "{} {} {}{:pad$} {}",
        time_style.paint(color, Time { t: r.time, tz }),
        app_style.paint(color, &r.app),
        level_style.paint(color, label),
        "",
        message_style.paint(color, &r.message),
        pad = LEVEL_WIDTH.saturating_sub(label.len()),
    )
}

/// An aligned table of apps.
pub fn write_apps(out: &mut impl Write, apps: &[AppSummary], tz: &TimeZone) -> io::Result<()> {
    let width = apps.iter().map(|a| a.app.len()).max().unwrap_or(3).max(3);
    writeln!(
        out,
        "{:<width$}  {:>10}  {:>9}  {:>9}  {:<23}  {:<23}  RETENTION",
        "APP", "RECORDS", "RAW", "ON DISK", "OLDEST", "NEWEST"
    )?;
    for a in apps {
        let t = |t: Option<jiff::Timestamp>| t.map_or_else(|| "-".to_owned(), |t| time(t, tz));
        let size = a.retention.max_bytes.map_or_else(
            || "no size limit".to_owned(),
            |b| format!("max {}", bytes(b)),
        );
        let age = a
            .retention
            .max_age_secs
            .map_or_else(|| "no age limit".to_owned(), |s| format!("max {}", age(s)));
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>9}  {:>9}  {:<23}  {:<23}  {size}, {age}",
            a.app,
            a.records,
            bytes(a.raw_bytes),
            bytes(a.disk_bytes),
            t(a.first),
            t(a.last)
        )?;
    }
    Ok(())
}

/// A byte count in the largest binary unit that keeps it at or above 1 (`12.3 MiB`).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// An age in its largest whole unit (`7d`, `12h`, `30m`, `45s`).
fn age(secs: u64) -> String {
    super::duration_words(secs.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use logq_schemas::Level;

    use super::*;
    use crate::args::Format;
    use crate::output::tests::{print_records, record};

    #[test]
    fn text_lines_in_utc_and_in_a_zone() {
        let records = [
            record(1, "2026-11-22T13:11:35.123Z", Some(Level::Error), "boom"),
            record(2, "2026-11-22T13:11:36Z", None, "two\n  lines"),
        ];
        assert_eq!(
            print_records(&records, Format::Text, &TimeZone::UTC),
            "2026-11-22T13:11:35.123Z osm-app ERROR boom\n2026-11-22T13:11:36.000Z osm-app -     two\n  lines\n"
        );
        let paris = TimeZone::get("Europe/Paris").expect("tz");
        assert_eq!(
            print_records(&records[..1], Format::Text, &paris),
            "2026-11-22 14:11:35.123 osm-app ERROR boom\n"
        );
    }

    #[test]
    fn sizes_and_ages_read_naturally() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(200 * 1024 * 1024), "200.0 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(age(7 * 86_400), "7d");
        assert_eq!(age(5400), "90m");
        assert_eq!(age(61), "61s");
    }
}
