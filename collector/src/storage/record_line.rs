//! A record as a line of a segment frame holds it: the JSON of a [`StoredRecord`] written out
//! field by field (serde's `flatten`, which `StoredRecord` uses, buffers every value of a line
//! before it deserializes it), and, from segment format v2, each field whose value the message
//! already holds written as where it is in the message rather than again:
//! `"refs":{"path":[12,31]}` for a string, `"vrefs":{"bytes":[40,45]}` for a number written
//! as JSON writes it (byte offsets into the message, end excluded; values of 4 bytes or more).
//!
//! Formats take most fields out of the message (an access log line's path, status and size),
//! so a line held most of its values twice: the references make frames a sixth smaller after
//! zstd over a mix of the sample formats. A v1 line (no references) reads as before.

use std::collections::BTreeMap;

use jiff::Timestamp;
use logq_schemas::{Level, Record, StoredRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Values shorter than this are written as they are: a reference would take as much room.
const MIN_REF_BYTES: usize = 4;

/// Why a line is not a record.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("bad record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("bad record {id}: field {name} refers to bytes {start}..{end} of a {len}-byte message")]
    Ref {
        id: u64,
        name: String,
        start: u32,
        end: u32,
        len: usize,
    },
    #[error("bad record {id}: field {name} refers to text that is not a number")]
    NotNumber { id: u64, name: String },
}

#[derive(Serialize)]
struct LineOut<'a> {
    id: u64,
    time: &'a Timestamp,
    received: &'a Timestamp,
    app: &'a str,
    host: &'a str,
    stream: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<Level>,
    format: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    fields: Entries<'a, &'a Value>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    refs: Entries<'a, [u32; 2]>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    vrefs: Entries<'a, [u32; 2]>,
}

/// Map entries in a vector (written as a JSON object): a line's fields come in name order
/// already, and a map per record cost the writer more than the rest of the line.
struct Entries<'a, V>(Vec<(&'a str, V)>);

impl<V> Entries<'_, V> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V: Serialize> Serialize for Entries<'_, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Deserialize)]
struct LineIn {
    id: u64,
    time: Timestamp,
    received: Timestamp,
    app: String,
    host: String,
    stream: String,
    #[serde(default)]
    level: Option<Level>,
    format: String,
    message: String,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
    #[serde(default)]
    refs: BTreeMap<String, [u32; 2]>,
    #[serde(default)]
    vrefs: BTreeMap<String, [u32; 2]>,
}

/// Where `text` is in `message`, when it is worth a reference. Messages are short: each place
/// holding `text`'s first byte is compared (a searcher set up per field cost more).
fn find(message: &str, text: &str) -> Option<[u32; 2]> {
    let (hay, needle) = (message.as_bytes(), text.as_bytes());
    if needle.len() < MIN_REF_BYTES || needle.len() > hay.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let start = memchr::memchr_iter(needle[0], &hay[..=last_start])
        .find(|&i| hay[i..].starts_with(needle))?;
    Some([
        u32::try_from(start).ok()?,
        u32::try_from(start + needle.len()).ok()?,
    ])
}

/// Whether a number's JSON text may be long enough for a reference (an integer below 1000 and
/// above -100 is not).
fn may_refer(n: &serde_json::Number) -> bool {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u >= 1000,
        (None, Some(i)) => i <= -100,
        (None, None) => true,
    }
}

/// Appends the line of `stored` (without its newline) to `out`.
pub fn write(out: &mut Vec<u8>, stored: &StoredRecord) {
    let r = &stored.record;
    let mut line = LineOut {
        id: stored.id,
        time: &r.time,
        received: &r.received,
        app: &r.app,
        host: &r.host,
        stream: &r.stream,
        level: r.level,
        format: &r.format,
        message: &r.message,
        fields: Entries(Vec::new()),
        refs: Entries(Vec::new()),
        vrefs: Entries(Vec::new()),
    };
    let mut number = String::new();
    for (name, value) in &r.fields {
        let name = name.as_str();
        let found = match value {
            Value::String(s) => find(&r.message, s).map(|at| (&mut line.refs, at)),
            // A number reads back from the text JSON writes for it (floats too: serde_json's
            // `float_roundtrip`; the round-trip property test holds it to that).
            Value::Number(n) if may_refer(n) => {
                use std::fmt::Write;
                number.clear();
                write!(number, "{n}").expect("writing to a string");
                find(&r.message, &number).map(|at| (&mut line.vrefs, at))
            }
            // Booleans are too short to gain (`true`, `false`).
            Value::Number(_)
            | Value::Bool(_)
            | Value::Null
            | Value::Array(_)
            | Value::Object(_) => None,
        };
        match found {
            Some((refs, at)) => refs.0.push((name, at)),
            None => line.fields.0.push((name, value)),
        }
    }
    serde_json::to_writer(out, &line).expect("records serialize");
}

/// The record of a line (v1 or v2).
pub fn read(bytes: &[u8]) -> Result<StoredRecord, LineError> {
    let mut line: LineIn = serde_json::from_slice(bytes)?;
    let message = &line.message;
    let text = |name: &String, [start, end]: [u32; 2]| -> Result<&str, LineError> {
        message
            .get(start as usize..end as usize)
            .ok_or_else(|| LineError::Ref {
                id: line.id,
                name: name.clone(),
                start,
                end,
                len: message.len(),
            })
    };
    for (name, at) in std::mem::take(&mut line.refs) {
        let value = Value::String(text(&name, at)?.to_owned());
        line.fields.insert(name, value);
    }
    for (name, at) in std::mem::take(&mut line.vrefs) {
        let value = serde_json::from_str::<Value>(text(&name, at)?)?;
        if !value.is_number() {
            return Err(LineError::NotNumber { id: line.id, name });
        }
        line.fields.insert(name, value);
    }
    Ok(StoredRecord {
        id: line.id,
        record: Record {
            time: line.time,
            received: line.received,
            app: line.app,
            host: line.host,
            stream: line.stream,
            level: line.level,
            format: line.format,
            message: line.message,
            fields: line.fields,
        },
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn stored(message: &str, fields: Value) -> StoredRecord {
        StoredRecord {
            id: 42,
            record: Record {
                time: "2026-11-23T10:00:00Z".parse().expect("ts"),
                received: "2026-11-23T10:00:01.5Z".parse().expect("ts"),
                app: "web".into(),
                host: "vm1".into(),
                stream: "stdout".into(),
                level: Some(Level::Info),
                format: "access".into(),
                message: message.into(),
                fields: serde_json::from_value(fields).expect("fields"),
            },
        }
    }

    fn line(r: &StoredRecord) -> String {
        let mut out = Vec::new();
        write(&mut out, r);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn values_the_message_holds_are_written_as_references_and_read_back() {
        let r = stored(
            "10.0.0.1 - - \"GET /api/v1/items/899780 HTTP/1.1\" 304 29986 0.25 \"Mozilla/5.0\"",
            json!({"remote_addr": "10.0.0.1", "method": "GET", "path": "/api/v1/items/899780",
                   "status": 304, "bytes": 29986, "duration": 0.25, "cached": true,
                   "user_agent": "Mozilla/5.0", "upstream": "pool-b", "tags": ["a"]}),
        );
        let text = line(&r);
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["refs"],
            json!({"remote_addr": [0, 8], "path": [18, 38], "user_agent": [65, 76]})
        );
        assert_eq!(v["vrefs"], json!({"bytes": [53, 58], "duration": [59, 63]}));
        // Too short to gain (`GET`, `304`), absent from the message, or not a scalar.
        assert_eq!(
            v["fields"],
            json!({"method": "GET", "status": 304, "cached": true, "upstream": "pool-b",
                   "tags": ["a"]})
        );
        assert_eq!(read(text.as_bytes()).expect("reads"), r);
    }

    #[test]
    fn a_v1_line_reads_as_the_record_it_was_written_from() {
        let r = stored(
            "GET /items/1 200",
            json!({"path": "/items/1", "status": 200}),
        );
        let v1 = serde_json::to_vec(&r).expect("json");
        assert_eq!(read(&v1).expect("reads"), r);
    }

    #[test]
    fn a_reference_out_of_the_message_is_a_clear_error() {
        let mut v: Value = serde_json::from_str(&line(&stored(
            "héllo /items/1",
            json!({"path": "/items/1"}),
        )))
        .expect("json");
        for (bad, want) in [
            (json!({"path": [7, 99]}), "bytes 7..99 of a 15-byte message"),
            // Inside the two bytes of `é`.
            (json!({"path": [2, 5]}), "bytes 2..5"),
        ] {
            v["refs"] = bad;
            let err = read(v.to_string().as_bytes()).expect_err("refused");
            assert!(err.to_string().contains(want), "{err}");
        }
        v["refs"] = json!({});
        v["vrefs"] = json!({"path": [0, 5]});
        let err = read(v.to_string().as_bytes()).expect_err("refused");
        assert!(err.to_string().contains("bad record"), "{err}");
        let mut v: Value =
            serde_json::from_str(&line(&stored("say \"hi\" /items/1", json!({})))).expect("json");
        v["vrefs"] = json!({"greeting": [4, 8]});
        let err = read(v.to_string().as_bytes()).expect_err("refused");
        assert!(err.to_string().contains("not a number"), "{err}");
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[ -~]{0,12}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ]
    }

    proptest! {
        /// Whatever the message and the fields, the line reads back as the record; the
        /// fields' values are often in the message (they are taken from it).
        #[test]
        fn every_record_reads_back_as_written(
            words in proptest::collection::vec("[ -~]{0,12}|é\u{1F600}", 0..6),
            values in proptest::collection::btree_map("[a-z_]{1,8}", scalar(), 0..6),
        ) {
            let mut message = words.join(" ");
            for (i, v) in values.values().enumerate() {
                if i % 2 == 0 {
                    message.push(' ');
                    message.push_str(&v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                }
            }
            let r = stored(&message, serde_json::to_value(&values).expect("fields"));
            prop_assert_eq!(read(line(&r).as_bytes()).expect("reads"), r);
        }
    }
}
