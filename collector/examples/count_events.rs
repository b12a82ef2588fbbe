//! Counts the records the collector makes of log files (one stream per file, lines arriving
//! together): what `scripts/bench-query` waits for.
//!
//! `cargo run --release -p logq-collector --example count_events -- FILE...`

use std::sync::Arc;

use logq_collector::normalize::Normalizer;
use logq_collector::wal::{StreamMeta, WalBatch, WalLocation};
use logq_schemas::Line;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut records = 0usize;
    let now = jiff::Timestamp::now();
    for (n, path) in std::env::args().skip(1).enumerate() {
        let text = std::fs::read_to_string(&path)?;
        let meta = Arc::new(StreamMeta {
            fields: Default::default(),
            key: path.clone(),
            app: format!("app{n}"),
            host: "bench".into(),
            stream: path.clone(),
            format: None,
            tz: "UTC".into(),
        });
        let mut normalizer = Normalizer::new();
        let lines: Vec<&str> = text.lines().collect();
        for (i, chunk) in lines.chunks(1000).enumerate() {
            let batch = WalBatch {
                first_id: (i * 1000) as u64,
                meta: (*meta).clone(),
                read_at: now,
                received: now,
                lines: chunk
                    .iter()
                    .map(|t| Line {
                        time: None,
                        end: 0,
                        text: (*t).to_owned(),
                        split: false,
                    })
                    .collect(),
            };
            let at = WalLocation {
                file: 1,
                offset: i as u64,
            };
            records += normalizer.push(&batch, at).len();
        }
        records += normalizer.flush_all().len();
    }
    println!("{records}");
    Ok(())
}
