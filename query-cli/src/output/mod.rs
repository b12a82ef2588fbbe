//! Printing results: text for people, raw for grep parity, JSON for scripts, histograms as
//! bars. Everything here writes to a `Write` it is given and decides nothing about the
//! terminal itself: whether to colour is decided once by [`color::enabled`] and passed in.

pub mod color;
mod histogram;
mod json;
mod printer;
mod text;

pub use color::ColorChoice;
pub use histogram::write_histogram;
pub use printer::Printer;
pub use text::write_apps;

/// A duration in its largest whole unit (`7d`, `12h`, `90m`, `45s`, `250ms`).
fn duration_words(ms: u64) -> String {
    match ms {
        0 => "0s".to_owned(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use jiff::tz::TimeZone;
    use logq_schemas::{Level, Record, StoredRecord};

    use super::Printer;
    use crate::args::Format;

    pub fn record(id: u64, time: &str, level: Option<Level>, message: &str) -> StoredRecord {
        let time = time.parse().expect("timestamp");
        StoredRecord {
            id,
            record: Record {
                time,
                received: time,
                app: "osm-app".into(),
                host: "web1".into(),
                stream: "stderr".into(),
                level,
                format: "plain".into(),
                message: message.into(),
                fields: Default::default(),
            },
        }
    }

    /// `records` through a [`Printer`] without colour.
    pub fn print_records(records: &[StoredRecord], format: Format, tz: &TimeZone) -> String {
        let mut printer = Printer::new(Vec::new(), format, tz.clone(), false);
        for r in records {
            printer.record(r).expect("record");
        }
        String::from_utf8(printer.finish().expect("finish")).expect("utf8")
    }

    #[test]
    fn raw_is_exact() {
        let records = [
            record(1, "2026-11-22T13:11:35Z", None, "tab\there\r"),
            record(2, "2026-11-22T13:11:36Z", None, "héllo ✓"),
        ];
        let out = print_records(&records, Format::Raw, &TimeZone::UTC);
        assert_eq!(out, "tab\there\r\nhéllo ✓\n");
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(super::duration_words(300_000), "5m");
        assert_eq!(super::duration_words(3_600_000), "1h");
        assert_eq!(super::duration_words(86_400_000), "1d");
        assert_eq!(super::duration_words(5_400_000), "90m");
        assert_eq!(super::duration_words(1500), "1500ms");
        assert_eq!(super::duration_words(0), "0s");
    }
}
