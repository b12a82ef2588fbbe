//! JSON output for scripts: one array (`-o json`) or one object per line (`-o jsonl`), both
//! written one item at a time.

use std::io::{self, Write};

use serde::Serialize;

/// A pretty JSON array written as its items arrive: the same bytes as
/// `serde_json::to_writer_pretty` of the whole list, then a newline, without holding the list.
#[derive(Debug, Default)]
pub(super) struct PrettyArray {
    /// Items written so far.
    items: u64,
    /// One item's pretty text, reused between items.
    buf: Vec<u8>,
}

impl PrettyArray {
    pub fn item(&mut self, out: &mut impl Write, item: &impl Serialize) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer_pretty(&mut self.buf, item)?;
        out.write_all(if self.items == 0 { b"[\n  " } else { b",\n  " })?;
        // Strings escape their newlines, so every newline here is layout: indent one level.
        for (i, line) in self.buf.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.write_all(b"\n  ")?;
            }
            out.write_all(line)?;
        }
        self.items += 1;
        Ok(())
    }

    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(if self.items == 0 { b"[]\n" } else { b"\n]\n" })
    }
}

/// One compact JSON object and a newline.
pub(super) fn line(out: &mut impl Write, item: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, item)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;
    use logq_schemas::StoredRecord;

    use super::*;
    use crate::args::Format;
    use crate::output::tests::{print_records, record};

    #[test]
    fn jsonl_roundtrips() {
        let records = [record(7, "2026-11-22T13:11:35Z", None, "a \"quoted\" line")];
        let text = print_records(&records, Format::Jsonl, &TimeZone::UTC);
        assert_eq!(text.lines().count(), 1);
        let back: StoredRecord = serde_json::from_str(text.trim_end()).expect("parse");
        assert_eq!(back, records[0]);
    }

    #[test]
    fn the_streamed_array_is_serde_jsons_pretty_array() {
        let mut r = record(1, "2026-11-22T13:11:35Z", None, "multi\nline \"quoted\"");
        r.record
            .fields
            .insert("nested".into(), serde_json::json!({"a": [1, {"b": null}]}));
        for n in 0..4 {
            let records = vec![r.clone(); n];
            let mut out = Vec::new();
            let mut array = PrettyArray::default();
            for r in &records {
                array.item(&mut out, r).expect("item");
            }
            array.finish(&mut out).expect("finish");
            let want = serde_json::to_string_pretty(&records).expect("json") + "\n";
            assert_eq!(String::from_utf8(out).expect("utf8"), want, "{n} items");
        }
    }
}
