//! Human-readable output: `<time> <app> <LEVEL> <message>`, and the apps table.

use std::io::{self, Write};

use jiff::tz::TimeZone;
use logq_schemas::StoredRecord;

use crate::client::AppSummary;

fn time(t: jiff::Timestamp, tz: &TimeZone) -> String {
    if *tz == TimeZone::UTC {
        t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S%.3f")
            .to_string()
    }
}

/// One line per record (a multi-line message keeps its newlines).
pub fn write_text(out: &mut impl Write, records: &[StoredRecord], tz: &TimeZone) -> io::Result<()> {
    for r in records {
        let r = &r.record;
        let level = r
            .level
            .map_or_else(|| "-".to_owned(), |l| l.as_str().to_ascii_uppercase());
        writeln!(
            out,
            "{} {} {level:<5} {}",
            time(r.time, tz),
            r.app,
            r.message
        )?;
    }
    Ok(())
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
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use logq_schemas::Level;

    use super::*;
    use crate::output::tests::record;

    #[test]
    fn text_lines_in_utc_and_in_a_zone() {
        let records = [
            record(1, "2026-11-22T13:11:35.123Z", Some(Level::Error), "boom"),
            record(2, "2026-11-22T13:11:36Z", None, "two\n  lines"),
        ];
        let mut out = Vec::new();
        write_text(&mut out, &records, &TimeZone::UTC).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "2026-11-22T13:11:35.123Z osm-app ERROR boom\n2026-11-22T13:11:36.000Z osm-app -     two\n  lines\n"
        );
        let paris = TimeZone::get("Europe/Paris").expect("tz");
        let mut out = Vec::new();
        write_text(&mut out, &records[..1], &paris).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
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
