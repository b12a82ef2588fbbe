//! The fuzz targets' seed corpora (and saved crashes), replayed as ordinary tests.
//!
//! `fuzz/` is a cargo-fuzz package outside the workspace; its target bodies are plain
//! functions in `fuzz/src/lib.rs`, compiled here as a module, so that every seed (and every
//! regression saved under `fuzz/artifacts/<target>/`) runs in CI without a fuzzer.

use std::panic;
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
mod targets;

use targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The `[[bin]]` names of `fuzz/Cargo.toml` (read by line: the file is ours and simple).
fn binaries() -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name = ") {
            names.push(value.trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn every_seed_and_saved_crash_runs_without_panic() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    let mut runs = 0;
    for target in TARGETS {
        let seeds = files(&fuzz.join("corpus").join(target.name));
        let crashes = files(&fuzz.join("artifacts").join(target.name));
        for file in seeds.iter().chain(&crashes) {
            let data = std::fs::read(file).expect("a seed file");
            runs += 1;
            if panic::catch_unwind(|| (target.run)(&data)).is_err() {
                failures.push(format!("{}: {}", target.name, file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} inputs panicked (messages above):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_binary_and_seeds() {
    let fuzz = fuzz_dir();
    let mut bins = binaries();
    bins.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    names.sort();
    assert_eq!(
        bins, names,
        "the binaries of fuzz/Cargo.toml (left) and the TARGETS of fuzz/src/lib.rs (right) differ"
    );
    for name in &names {
        assert!(
            fuzz.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz target {name} has no fuzz_targets/{name}.rs"
        );
        assert!(
            !files(&fuzz.join("corpus").join(name)).is_empty(),
            "fuzz target {name} has no seeds in fuzz/corpus/{name}/"
        );
    }
    let dirs: Vec<String> = std::fs::read_dir(fuzz.join("corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for dir in dirs {
        assert!(
            names.contains(&dir),
            "fuzz/corpus/{dir}/ is the corpus of no target"
        );
    }
}

#[test]
fn every_log_format_has_its_own_target() {
    for f in logq_collector::normalize::formats::ALL {
        let name = format!("format_{}", f.name());
        assert!(
            TARGETS.iter().any(|t| t.name == name),
            "format {} has no fuzz target {name} in fuzz/src/lib.rs",
            f.name()
        );
    }
}
