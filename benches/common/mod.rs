//! What the criterion benchmarks share: their run lengths and the format fixtures.

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;

/// The `*.log` fixture lines of `format` (tests/data/formats/<format>/), files in name order.
pub fn fixture(format: &str) -> String {
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

/// Short runs: the whole of parse, codec and segment takes a few minutes on two cores.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}
