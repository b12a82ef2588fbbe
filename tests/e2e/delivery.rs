//! Nothing lost, nothing twice: kill -9 either side while lines stream.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::{Collector, Shipper, numbered_writer, stored_numbers, wait_until};

const LINES: u64 = 100_000;
const APP: &str = "numbers";

/// Every number 0..lines is stored exactly once.
fn assert_exactly_once(collector: &Collector, lines: u64) {
    wait_until(Duration::from_secs(180), "every line stored", || {
        collector.count(APP) >= lines
    });
    let seen = stored_numbers(collector, APP);
    let missing = (0..lines).filter(|n| !seen.contains_key(n)).count();
    let doubled = seen.values().filter(|c| **c > 1).count();
    let total: u64 = seen.values().map(|c| u64::from(*c)).sum();
    assert_eq!(
        (missing, doubled, total),
        (0, 0, lines),
        "missing, duplicated, total"
    );
}

/// Waits until the collector stored at least `at_least` lines, so a kill lands mid-stream.
fn wait_stored(collector: &Collector, written: &AtomicU64, at_least: u64) {
    wait_until(Duration::from_secs(60), "the stream to progress", || {
        written.load(Ordering::SeqCst) >= at_least && collector.count(APP) >= at_least / 2
    });
}

/// A log with a writer appending `lines` numbered lines at about 10,000 lines/s.
fn setup(tmp: &Path, lines: u64) -> (PathBuf, Arc<AtomicU64>, JoinHandle<()>) {
    let log = tmp.join("numbers.log");
    std::fs::write(&log, "").expect("create log");
    let written = Arc::new(AtomicU64::new(0));
    let pause = Duration::from_millis(10);
    let handle = numbered_writer(log.clone(), lines, 100, pause, false, written.clone());
    (log, written, handle)
}

#[test]
fn kill9_collector_three_times_loses_and_doubles_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&tmp.path().join("data"));
    let (log, written, handle) = setup(tmp.path(), LINES);
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, APP);
    for round in 1..=3 {
        wait_stored(&collector, &written, LINES * round / 4);
        collector.kill9_and_restart();
    }
    assert!(
        written.load(Ordering::SeqCst) < LINES,
        "the kills landed mid-stream"
    );
    handle.join().expect("writer");
    assert_exactly_once(&collector, LINES);
}

#[test]
fn kill9_shipper_five_times_during_200000_lines_loses_and_doubles_nothing() {
    const SHIPPER_LINES: u64 = 200_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let (log, written, handle) = setup(tmp.path(), SHIPPER_LINES);
    let state = tmp.path().join("state");
    let mut shipper = Shipper::tail(&collector, &state, &log, APP);
    for round in 1..=5 {
        wait_stored(&collector, &written, SHIPPER_LINES * round / 6);
        shipper.kill9();
        shipper = Shipper::tail(&collector, &state, &log, APP);
    }
    assert!(
        written.load(Ordering::SeqCst) < SHIPPER_LINES,
        "the kills landed mid-stream"
    );
    handle.join().expect("writer");
    assert_exactly_once(&collector, SHIPPER_LINES);
    drop(shipper);
}

#[test]
fn pipe_ships_stdin_and_exits_0_once_everything_is_acked() {
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let input: String = (0..5_000)
        .map(|i| format!("piped {i:05} héllo ✓\n"))
        .collect::<String>()
        + "last line without newline";
    let mut child = Command::new(crate::util::bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["pipe", "--app", "piped"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn shipper");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let status = child.wait().expect("wait shipper");
    assert!(
        status.success(),
        "pipe exits 0 after its last ack: {status}"
    );
    // Acked means durable; searchable follows within the index commit interval.
    wait_until(Duration::from_secs(20), "piped lines searchable", || {
        collector.count("piped") == 5_001
    });
    let (hits, _) = collector.search(&[("q", "*"), ("app", "piped"), ("limit", "10000")]);
    let got: Vec<&str> = hits
        .iter()
        .rev()
        .map(|h| h.record.message.as_str())
        .collect();
    let want: Vec<&str> = input.lines().collect();
    assert_eq!(got, want, "every line, in order, exactly once");
}

/// Regression: the indexer held a WAL handle, so the WAL writer never ended and SIGTERM left
/// the collector running forever.
#[test]
fn sigterm_stops_the_collector_within_10s_keeping_what_it_acked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&tmp.path().join("data"));
    let (log, written, handle) = setup(tmp.path(), 20_000);
    let shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, APP);
    wait_stored(&collector, &written, 5_000);
    let (status, took) = collector
        .terminate(Duration::from_secs(12))
        .expect("the collector exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    collector.restart();
    handle.join().expect("writer");
    assert_exactly_once(&collector, 20_000);
    drop(shipper);
}
