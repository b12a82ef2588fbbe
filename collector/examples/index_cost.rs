//! Measures what each stage of storing records costs, on a log file (for example one written by
//! `benches/corpus.py`): JSON encoding plus zstd of the segment frames, and a split's tantivy
//! index under schema variants, with the bytes of each index file kind.
//!
//! `cargo run --release -p logq-collector --example index_cost -- FILE`

use std::collections::BTreeMap;
use std::time::Instant;

use tantivy::schema::{
    FAST, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, TantivyDocument};

struct Variant {
    name: &'static str,
    positions: bool,
    id_time_indexed: bool,
    tokenizer: &'static str,
    /// app without field norms, and a doc store with big uncompressed blocks.
    lean: bool,
    /// Index only the message body: the text after the format's prefix (time, pid, level).
    body_only: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: index_cost FILE")?;
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().collect();
    let raw = text.len() as f64;
    let mib = raw / (1024.0 * 1024.0);
    println!("{} lines, {:.1} MiB", lines.len(), mib);

    let t = Instant::now();
    let mut compressed = 0usize;
    let mut buf = Vec::new();
    let now = jiff::Timestamp::now();
    for (i, line) in lines.iter().enumerate() {
        let r = logq_schemas::StoredRecord {
            id: i as u64,
            record: logq_schemas::Record {
                time: now,
                received: now,
                app: "app000".into(),
                host: "bench".into(),
                stream: "/var/log/app000.log".into(),
                level: None,
                format: "plain".into(),
                message: (*line).to_owned(),
                fields: BTreeMap::new(),
            },
        };
        serde_json::to_writer(&mut buf, &r)?;
        buf.push(b'\n');
        if buf.len() >= 1 << 20 {
            compressed += zstd::bulk::compress(&buf, 1)?.len();
            buf.clear();
        }
    }
    compressed += zstd::bulk::compress(&buf, 1)?.len();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "frames: json+zstd1 {:.0} MiB/s, {:.3}x raw",
        mib / secs,
        compressed as f64 / raw
    );

    let variants = [
        Variant {
            name: "current (positions, id+time indexed)",
            positions: true,
            id_time_indexed: true,
            tokenizer: "default",
            lean: false,
            body_only: false,
        },
        Variant {
            name: "id+time fast only",
            positions: true,
            id_time_indexed: false,
            tokenizer: "default",
            lean: false,
            body_only: false,
        },
        Variant {
            name: "no positions, id+time fast only",
            positions: false,
            id_time_indexed: false,
            tokenizer: "default",
            lean: false,
            body_only: false,
        },
        Variant {
            name: "no positions, whitespace tokenizer",
            positions: false,
            id_time_indexed: false,
            tokenizer: "whitespace",
            lean: false,
            body_only: false,
        },
        Variant {
            name: "positions, id+time fast only, lean",
            positions: true,
            id_time_indexed: false,
            tokenizer: "default",
            lean: true,
            body_only: false,
        },
        Variant {
            name: "no positions, id+time fast only, lean",
            positions: false,
            id_time_indexed: false,
            tokenizer: "default",
            lean: true,
            body_only: false,
        },
        Variant {
            name: "positions, lean, logq tokenizer",
            positions: true,
            id_time_indexed: false,
            tokenizer: "logq",
            lean: true,
            body_only: false,
        },
        Variant {
            name: "positions, lean, logq tokenizer, body only",
            positions: true,
            id_time_indexed: false,
            tokenizer: "logq",
            lean: true,
            body_only: true,
        },
    ];
    let cx = logq_collector::normalize::format::Context::utc(now);
    let mut stream = logq_collector::normalize::detect::StreamFormat::new(None);
    let bodies: Vec<usize> = lines
        .iter()
        .map(|l| match stream.read(l, &cx) {
            logq_collector::normalize::detect::Reading::Parsed(_, p) => p.body.min(l.len()),
            logq_collector::normalize::detect::Reading::Foreign => 0,
        })
        .collect();
    for v in &variants {
        let dir = tempfile::tempdir()?;
        let mut b = Schema::builder();
        let num = || -> tantivy::schema::NumericOptions {
            if v.id_time_indexed {
                (FAST | INDEXED).into()
            } else {
                FAST.into()
            }
        };
        let id = b.add_u64_field("id", num());
        let time = b.add_i64_field("time", num());
        let app = if v.lean {
            b.add_text_field(
                "app",
                TextOptions::default()
                    .set_indexing_options(
                        TextFieldIndexing::default()
                            .set_tokenizer("raw")
                            .set_fieldnorms(false)
                            .set_index_option(IndexRecordOption::Basic),
                    )
                    .set_fast("raw"),
            )
        } else {
            b.add_text_field("app", STRING | FAST)
        };
        let message = b.add_text_field(
            "message",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(v.tokenizer)
                    .set_fieldnorms(false)
                    .set_index_option(if v.positions {
                        IndexRecordOption::WithFreqsAndPositions
                    } else {
                        IndexRecordOption::Basic
                    }),
            ),
        );
        let mut settings = tantivy::IndexSettings::default();
        if v.lean {
            settings.docstore_compression = tantivy::store::Compressor::None;
            settings.docstore_blocksize = 1 << 20;
        }
        let index = Index::builder()
            .schema(b.build())
            .settings(settings)
            .create_in_dir(dir.path())?;
        logq_collector::index::register_tokenizer(&index);
        let t = Instant::now();
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 64 << 20)?;
        for (i, line) in lines.iter().enumerate() {
            let mut doc = TantivyDocument::new();
            doc.add_u64(id, i as u64);
            doc.add_i64(time, i as i64 * 1000);
            doc.add_text(app, "app000");
            let text = if v.body_only {
                line.get(bodies[i]..).unwrap_or(line)
            } else {
                line
            };
            doc.add_text(message, text);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let secs = t.elapsed().as_secs_f64();
        let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
        for e in std::fs::read_dir(dir.path())? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let ext = name.rsplit('.').next().unwrap_or("").to_owned();
            *kinds.entry(ext).or_default() += e.metadata()?.len();
        }
        let total: u64 = kinds.values().sum();
        println!(
            "{}: {:.1} MiB/s, {:.3}x raw [{}]",
            v.name,
            mib / secs,
            total as f64 / raw,
            kinds
                .iter()
                .filter(|(_, b)| **b > 4096)
                .map(|(k, b)| format!("{k} {:.3}", *b as f64 / raw))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
