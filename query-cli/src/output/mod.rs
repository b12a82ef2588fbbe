//! Printing results: text for people, raw for grep parity, JSON for scripts.

mod json;
mod text;

use std::io::{self, Write};

use jiff::tz::TimeZone;
use logq_schemas::StoredRecord;

use crate::args::Format;

pub use json::{write_json, write_jsonl};
pub use text::{write_apps, write_text};

/// Writes records (oldest first) in `format`.
pub fn write_records(
    out: &mut impl Write,
    records: &[StoredRecord],
    format: Format,
    tz: &TimeZone,
) -> io::Result<()> {
    match format {
        Format::Text => write_text(out, records, tz),
        Format::Raw => write_raw(out, records),
        Format::Json => write_json(out, records),
        Format::Jsonl => write_jsonl(out, records),
    }
}

/// Each record's original text followed by a newline, nothing else.
pub fn write_raw(out: &mut impl Write, records: &[StoredRecord]) -> io::Result<()> {
    for r in records {
        out.write_all(r.record.message.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use logq_schemas::{Level, Record, StoredRecord};

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

    #[test]
    fn raw_is_exact() {
        let records = [
            record(1, "2026-11-22T13:11:35Z", None, "tab\there\r"),
            record(2, "2026-11-22T13:11:36Z", None, "héllo ✓"),
        ];
        let mut out = Vec::new();
        super::write_raw(&mut out, &records).expect("write");
        assert_eq!(out, "tab\there\r\nhéllo ✓\n".as_bytes());
    }
}
