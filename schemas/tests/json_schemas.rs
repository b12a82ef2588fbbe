//! The JSON Schema files in `schemas/json/` are generated from the Rust types; this test keeps
//! them equal. After changing a type, regenerate with `LOGQ_BLESS=1 cargo test -p logq-schemas`.

use std::path::PathBuf;

use logq_schemas::udp::UdpBatch;
use logq_schemas::{Frame, StoredRecord};
use schemars::schema_for;

fn check(name: &str, schema: schemars::Schema) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("json")
        .join(name);
    let generated = serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n";
    if std::env::var_os("LOGQ_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e} (run with LOGQ_BLESS=1)", path.display()));
    assert!(
        committed == generated,
        "{} differs from the Rust types; regenerate with LOGQ_BLESS=1 cargo test -p logq-schemas",
        path.display()
    );
}

#[test]
fn frame_schema_matches_types() {
    check("frame.schema.json", schema_for!(Frame));
}

#[test]
fn record_schema_matches_types() {
    check("record.schema.json", schema_for!(StoredRecord));
}

#[test]
fn udp_batch_schema_matches_types() {
    check("udp-batch.schema.json", schema_for!(UdpBatch));
}

/// The schema files must also describe real frames: sample frames validate structurally
/// (every required key of the variant is present in the encoded JSON).
#[test]
fn encoded_frames_carry_the_required_keys() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json/frame.schema.json"),
        )
        .expect("frame schema"),
    )
    .expect("schema is JSON");
    let hello = Frame::Hello(logq_schemas::Hello {
        protocol: 1,
        token: None,
        shipper_id: "s1".into(),
        host: "web1".into(),
        tz: "UTC".into(),
        streams: vec![],
    });
    let encoded = serde_json::to_value(&hello).expect("encode");
    let variants = schema["oneOf"].as_array().expect("oneOf");
    let matching = variants
        .iter()
        .filter(|v| {
            v["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|k| k == "hello"))
        })
        .count();
    assert_eq!(matching, 1);
    assert!(encoded.get("hello").is_some());
}
