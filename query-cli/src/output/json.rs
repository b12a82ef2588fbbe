//! JSON output for scripts: one array (`-o json`) or one object per line (`-o jsonl`).

use std::io::{self, Write};

use logq_schemas::StoredRecord;

pub fn write_json(out: &mut impl Write, records: &[StoredRecord]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, records)?;
    out.write_all(b"\n")
}

pub fn write_jsonl(out: &mut impl Write, records: &[StoredRecord]) -> io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::record;

    #[test]
    fn jsonl_roundtrips() {
        let records = [record(7, "2026-11-22T13:11:35Z", None, "a \"quoted\" line")];
        let mut out = Vec::new();
        write_jsonl(&mut out, &records).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 1);
        let back: StoredRecord = serde_json::from_str(text.trim_end()).expect("parse");
        assert_eq!(back, records[0]);
    }
}
