//! Tailing through rotation with the real logrotate, globs that pick up new files, partial
//! lines, and the shipper's own size guard.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::util::{Collector, Shipper, numbered_writer, seq_of, stored_numbers, wait_until};

const LINES: u64 = 100_000;

/// How often each number appears in the files of `dir`.
fn numbers_on_disk(dir: &Path) -> HashMap<u64, u32> {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for entry in std::fs::read_dir(dir).expect("ls logs") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read log");
        for line in String::from_utf8_lossy(&bytes).lines() {
            if let Some(n) = seq_of(line.trim_start_matches('\0')) {
                *seen.entry(n).or_default() += 1;
            }
        }
    }
    seen
}

/// A writer appends 100,000 numbered lines at about 10,000 lines/s for 10 s while the real
/// logrotate rotates the file every second in `mode`; returns (written, numbers on disk in
/// every file, numbers stored by the collector) once the collector holds what is on disk.
fn rotate_under_load(mode: &str) -> (u64, HashMap<u64, u32>, HashMap<u64, u32>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("app.log");
    std::fs::write(&log, "").expect("create log");
    let conf = tmp.path().join("logrotate.conf");
    std::fs::write(
        &conf,
        format!(
            "{} {{\n  rotate 1000\n  {mode}\n  missingok\n  nocompress\n}}\n",
            log.display()
        ),
    )
    .expect("logrotate.conf");
    let app = format!("rotate-{mode}");
    let _shipper = Shipper::tail_with(
        &collector,
        &tmp.path().join("state"),
        &[log.to_str().expect("path")],
        &app,
        &[],
    );
    let written = Arc::new(AtomicU64::new(0));
    let writer = numbered_writer(
        log.clone(),
        LINES,
        100,
        Duration::from_millis(10),
        mode == "create",
        written.clone(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let rotator = {
        let done = done.clone();
        let state = tmp.path().join("logrotate.state");
        std::thread::spawn(move || {
            let mut rotations = 0;
            for _ in 0..30 {
                std::thread::sleep(Duration::from_secs(1));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let status = Command::new("logrotate")
                    .arg("-f")
                    .arg("-s")
                    .arg(&state)
                    .arg(&conf)
                    .status()
                    .expect("run logrotate (scripts/test installs it)");
                assert!(status.success(), "logrotate failed: {status}");
                rotations += 1;
            }
            rotations
        })
    };
    writer.join().expect("writer");
    done.store(true, Ordering::SeqCst);
    let rotations = rotator.join().expect("rotator");
    assert!(rotations >= 8, "logrotate ran {rotations} times");
    let on_disk = numbers_on_disk(&logs);
    let want = on_disk.values().map(|c| u64::from(*c)).sum::<u64>();
    wait_until(
        Duration::from_secs(120),
        "what is on disk to be stored",
        || collector.count(&app) >= want,
    );
    // Anything doubled would arrive late: give it the time a rotated file is kept open.
    std::thread::sleep(Duration::from_secs(1));
    let stored = stored_numbers(&collector, &app);
    (written.load(Ordering::SeqCst), on_disk, stored)
}

#[test]
fn logrotate_create_every_second_loses_and_doubles_nothing() {
    let (written, on_disk, stored) = rotate_under_load("create");
    assert_eq!(written, LINES);
    assert_eq!(
        on_disk.len() as u64,
        LINES,
        "create mode keeps every line on disk"
    );
    let missing = (0..LINES).filter(|n| !stored.contains_key(n)).count();
    let doubled = stored.values().filter(|c| **c > 1).count();
    assert_eq!((missing, doubled, stored.len() as u64), (0, 0, LINES));
}

#[test]
fn logrotate_copytruncate_every_second_ships_exactly_what_is_on_disk() {
    let (written, on_disk, stored) = rotate_under_load("copytruncate");
    // copytruncate loses, on disk, what the writer appends between logrotate's copy and its
    // truncation; no tailer can ship those lines. Everything that is on disk must arrive
    // exactly once.
    let window = written - on_disk.len() as u64;
    eprintln!("copytruncate window: {window} of {written} lines lost on disk by logrotate itself");
    assert!(
        on_disk.values().all(|c| *c == 1),
        "copies hold each line once"
    );
    let missing: Vec<u64> = on_disk
        .keys()
        .filter(|n| !stored.contains_key(n))
        .copied()
        .collect();
    let doubled = stored.values().filter(|c| **c > 1).count();
    let invented = stored.keys().filter(|n| **n >= written).count();
    // Lines the tailer read before the truncation although logrotate's copy missed them
    // arrive too: the window is smaller for logq than on disk.
    let caught = stored.keys().filter(|n| !on_disk.contains_key(n)).count();
    eprintln!("copytruncate window: logq still shipped {caught} of those {window} lines");
    assert_eq!(
        (missing.len(), doubled, invented),
        (0, 0, 0),
        "missing (first: {:?}), duplicated, never written",
        missing.iter().min()
    );
}

#[test]
fn globs_pick_up_new_files_and_partial_lines_are_flushed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(logs.join("deep/er")).expect("mkdir");
    let pattern = format!("{}/**/*.log", logs.display());
    let _shipper = Shipper::tail_with(
        &collector,
        &tmp.path().join("state"),
        &[&pattern],
        "globbed",
        &["--partial-flush-ms", "300"],
    );
    // Files that appear after the shipper started, at any depth; one not matching.
    std::fs::write(logs.join("top.log"), "seq=000001 top\n").expect("write");
    std::fs::write(logs.join("deep/er/inner.log"), "seq=000002 inner\n").expect("write");
    std::fs::write(logs.join("deep/skip.txt"), "seq=000003 not matched\n").expect("write");
    let mut partial = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("deep/partial.log"))
        .expect("open");
    partial
        .write_all(
            b"seq=000004 a first line long enough to be fingerprinted\nseq=000005 no newline",
        )
        .expect("write");
    wait_until(Duration::from_secs(20), "the four lines", || {
        collector.count("globbed") >= 4
    });
    let stored = stored_numbers(&collector, "globbed");
    let mut got: Vec<u64> = stored.keys().copied().collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2, 4, 5]);
    let (hits, _) = collector.search(&[("q", "newline"), ("app", "globbed")]);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].record.fields.get("split"),
        Some(&serde_json::json!(true))
    );
}

#[test]
fn max_source_bytes_truncates_a_runaway_file_once_everything_is_shipped() {
    const BURSTS: u64 = 30;
    const PER_BURST: u64 = 1_500;
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let log: PathBuf = tmp.path().join("runaway.log");
    std::fs::write(&log, "").expect("create");
    let _shipper = Shipper::tail_with(
        &collector,
        &tmp.path().join("state"),
        &[log.to_str().expect("path")],
        "runaway",
        &["--max-source-bytes", "256KiB"],
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    let mut largest = 0;
    let mut n = 0;
    for _ in 0..BURSTS {
        // A burst of work, then a quiet moment, as a job runner logs.
        for _ in 0..PER_BURST / 100 {
            let chunk: String = (n..n + 100)
                .map(|i| format!("seq={i:06} payload lorem ipsum dolor sit amet\n"))
                .collect();
            n += 100;
            file.write_all(chunk.as_bytes()).expect("append");
            std::thread::sleep(Duration::from_millis(2));
        }
        largest = largest.max(std::fs::metadata(&log).expect("stat").len());
        std::thread::sleep(Duration::from_millis(400));
    }
    let written = BURSTS * PER_BURST;
    let bytes_written = written * 46;
    wait_until(Duration::from_secs(60), "every line stored", || {
        collector.count("runaway") >= written
    });
    let stored = stored_numbers(&collector, "runaway");
    let missing = (0..written).filter(|n| !stored.contains_key(n)).count();
    let doubled = stored.values().filter(|c| **c > 1).count();
    assert_eq!((missing, doubled), (0, 0), "missing, duplicated");
    assert!(
        largest < 1024 * 1024 && largest < bytes_written / 2,
        "the file peaked at {largest} bytes of {bytes_written} written"
    );
}

#[test]
fn a_symlink_whose_target_is_swapped_is_followed_to_the_new_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (old, new, link) = (logs.join("a.log"), logs.join("b.log"), logs.join("current"));
    std::fs::write(&old, "seq=000001 in the first target\n").expect("write");
    std::os::unix::fs::symlink(&old, &link).expect("symlink");
    let _shipper = Shipper::tail_with(
        &collector,
        &tmp.path().join("state"),
        &[link.to_str().expect("path")],
        "linked",
        &["--rotate-wait-ms", "500"],
    );
    wait_until(Duration::from_secs(20), "the first line", || {
        collector.count("linked") >= 1
    });
    // Swap the link atomically (as deploy tools do), then both targets get more lines: the
    // old one until the shipper lets it go, the new one from its start.
    std::fs::write(&new, "seq=000002 in the second target\n").expect("write");
    let tmp_link = logs.join("current.tmp");
    std::os::unix::fs::symlink(&new, &tmp_link).expect("symlink");
    std::fs::rename(&tmp_link, &link).expect("swap");
    let append = |path: &Path, text: &str| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open")
            .write_all(text.as_bytes())
            .expect("append");
    };
    append(&old, "seq=000003 late line in the first target\n");
    append(&new, "seq=000004 more in the second target\n");
    wait_until(Duration::from_secs(20), "all four lines", || {
        collector.count("linked") >= 4
    });
    std::thread::sleep(Duration::from_secs(1));
    let stored = stored_numbers(&collector, "linked");
    let mut got: Vec<(u64, u32)> = stored.into_iter().collect();
    got.sort_unstable();
    assert_eq!(got, [(1, 1), (2, 1), (3, 1), (4, 1)]);
}
