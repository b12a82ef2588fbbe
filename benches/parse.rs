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

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logq_collector::normalize::detect::{Reading, StreamFormat};
use logq_collector::normalize::format::Context;
use logq_collector::normalize::formats::ALL;

fn parse(c: &mut Criterion) {
    let cx = Context::utc("2026-11-23T10:00:00Z".parse().expect("ts"));
    let fixtures: Vec<(&str, String)> = ALL
        .iter()
        .map(|f| (f.name(), common::fixture(f.name())))
        .collect();

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

criterion_group! {
    name = benches;
    config = common::config();
    targets = parse
}
criterion_main!(benches);
