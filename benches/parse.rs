//! Parse and detect+parse throughput per format: one pass over each format's fixture lines
//! (tests/data/formats/<format>/*.log) per iteration, throughput in bytes of those lines
//! (newlines included).
//!
//! - `parse/<format>`: the format's own parser on every line.
//! - `detect/<format>`: a fresh stream with no hint (format detection), then every line.
//!
//! Goals from the normalization issue, per core: 200 MiB/s for `json` and `pm2`, 400 MiB/s for
//! the other formats.
//!
//! `cargo bench -p logq-tests --bench parse` (add `-- --quick` for a rough number fast).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logq_collector::normalize::detect::{Reading, StreamFormat};
use logq_collector::normalize::format::Context;
use logq_collector::normalize::formats::ALL;

/// The fixture lines of `format`, files in name order.
fn fixture(format: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(format);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("fixture"))
        .collect()
}

fn parse(c: &mut Criterion) {
    let cx = Context::utc("2026-11-23T10:00:00Z".parse().expect("ts"));
    let fixtures: Vec<(&str, String)> = ALL.iter().map(|f| (f.name(), fixture(f.name()))).collect();

    let mut group = c.benchmark_group("parse");
    for (format, (_, text)) in ALL.iter().zip(&fixtures) {
        let lines: Vec<&str> = text.lines().collect();
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        // What the old table showed beside the speed: how much of its fixture a format takes.
        let parsed = lines
            .iter()
            .filter(|l| format.parse(l, &cx).is_some())
            .count();
        eprintln!(
            "{}: {} lines, {} bytes, {:.0}% parsed",
            format.name(),
            lines.len(),
            bytes,
            100.0 * parsed as f64 / lines.len().max(1) as f64
        );
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                let mut parsed = 0usize;
                for l in &lines {
                    parsed += usize::from(format.parse(black_box(l), &cx).is_some());
                }
                parsed
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("detect");
    for (name, text) in &fixtures {
        let lines: Vec<&str> = text.lines().collect();
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut stream = StreamFormat::new(None);
                let mut parsed = 0usize;
                for l in &lines {
                    parsed += usize::from(matches!(
                        stream.read(black_box(l), &cx),
                        Reading::Parsed(..)
                    ));
                }
                parsed
            })
        });
    }
    group.finish();
}

/// Short runs: the whole of parse, codec and segment takes a few minutes on two cores.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse
}
criterion_main!(benches);
