//! Parse and detect throughput per format, in MiB/s on one core: each format's fixture lines
//! (tests/data/formats/<format>/) replicated to at least `LOGQ_BENCH_MIB` MiB (default 100).
//!
//! `cargo bench -p logq-tests --bench parse`

use std::time::Instant;

use logq_collector::normalize::detect::{Reading, StreamFormat};
use logq_collector::normalize::format::Context;
use logq_collector::normalize::formats::ALL;

/// Goals from the normalization issue, MiB/s per core.
fn goal(format: &str) -> f64 {
    match format {
        "json" | "pm2" => 200.0,
        _ => 400.0,
    }
}

fn main() {
    let mib: usize = std::env::var("LOGQ_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats");
    let cx = Context::utc("2026-11-23T10:00:00Z".parse().expect("ts"));
    println!(
        "{:<12} {:>8} {:>8} {:>14} {:>16} {:>6}",
        "format", "lines", "parsed", "parse MiB/s", "detect+parse", "goal"
    );
    for format in ALL {
        let mut text = String::new();
        let dir = root.join(format.name());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        for f in files {
            text.push_str(&std::fs::read_to_string(&f).expect("fixture"));
        }
        let lines: Vec<&str> = text.lines().collect();
        let bytes_per_pass: usize = lines.iter().map(|l| l.len() + 1).sum();
        let passes = (mib << 20).div_ceil(bytes_per_pass.max(1));
        let total = (passes * bytes_per_pass) as f64 / (1024.0 * 1024.0);

        let start = Instant::now();
        let mut parsed = 0usize;
        for _ in 0..passes {
            for l in &lines {
                parsed += usize::from(format.parse(l, &cx).is_some());
            }
        }
        let parse = total / start.elapsed().as_secs_f64();

        let start = Instant::now();
        let mut detected = 0usize;
        for _ in 0..passes {
            let mut stream = StreamFormat::new(None);
            for l in &lines {
                detected += usize::from(matches!(stream.read(l, &cx), Reading::Parsed(..)));
            }
        }
        let detect = total / start.elapsed().as_secs_f64();
        std::hint::black_box((parsed, detected));
        println!(
            "{:<12} {:>8} {:>7.0}% {:>14.0} {:>16.0} {:>6.0}",
            format.name(),
            lines.len(),
            100.0 * (parsed / passes) as f64 / lines.len().max(1) as f64,
            parse,
            detect,
            goal(format.name())
        );
    }
}
