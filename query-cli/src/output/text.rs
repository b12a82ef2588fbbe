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
        "{:<width$}  {:>10}  {:<23}  {:<23}",
        "APP", "RECORDS", "FIRST", "LAST"
    )?;
    for a in apps {
        let t = |t: Option<jiff::Timestamp>| t.map_or_else(|| "-".to_owned(), |t| time(t, tz));
        writeln!(
            out,
            "{:<width$}  {:>10}  {:<23}  {:<23}",
            a.app,
            a.records,
            t(a.first),
            t(a.last)
        )?;
    }
    Ok(())
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
}
