//! The shipper at its edges: a 100 MiB line without a newline is shipped in marked pieces with
//! the shipper's memory bounded by its line limit, not by the line; and a config file's
//! `[[tail]]` sources run in one process to a real collector.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Collector, Shipper, bin, seq_of, wait_until};

const HUGE_LINE_BYTES: usize = 100 << 20;
/// The line limit the memory test runs with (the default, 256 KiB).
const MAX_LINE_BYTES: usize = 256 << 10;
/// Numbered lines before and after the huge one.
const AROUND: u64 = 50;

/// A /proc/PID/status figure in bytes (`VmHWM`, `VmRSS`).
fn status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    kib * 1024
}

fn numbered(from: u64, to: u64, what: &str) -> String {
    (from..to)
        .map(|n| format!("seq={n:06} {what} line\n"))
        .collect()
}

/// The `seq` numbers of `app` stored at the collector.
fn stored_seqs(collector: &Collector, app: &str) -> Vec<u64> {
    let (hits, _) = collector.search(&[("q", "seq"), ("app", app), ("limit", "1000")]);
    let mut seqs: Vec<u64> = hits
        .iter()
        .filter_map(|h| seq_of(&h.record.message))
        .collect();
    seqs.sort_unstable();
    seqs
}

#[test]
fn a_100_mib_line_is_shipped_with_memory_bounded_by_the_line_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let log = tmp.path().join("huge.log");
    std::fs::write(&log, numbered(0, AROUND, "before")).expect("write log");
    let child = Command::new(bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["--max-line-bytes", &MAX_LINE_BYTES.to_string()])
        .arg("tail")
        .arg(&log)
        .args(["--app", "huge"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn logq-shipper");
    let pid = child.id();
    let _shipper = Shipper::from_child(child);
    wait_until(Duration::from_secs(60), "the lines before", || {
        stored_seqs(&collector, "huge").len() as u64 >= AROUND
    });
    let baseline = status_bytes(pid, "VmHWM");

    // The huge line, written in 1 MiB appends while the shipper reads, then the lines after
    // it (the first newline ends the huge line).
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..HUGE_LINE_BYTES / chunk.len() {
        file.write_all(&chunk).expect("append");
    }
    file.write_all(b"\n").expect("append");
    file.write_all(numbered(AROUND, 2 * AROUND, "after").as_bytes())
        .expect("append");
    drop(file);

    wait_until(
        Duration::from_secs(300),
        "the lines after the huge one",
        || stored_seqs(&collector, "huge").len() as u64 >= 2 * AROUND,
    );
    assert_eq!(
        stored_seqs(&collector, "huge"),
        (0..2 * AROUND).collect::<Vec<_>>()
    );
    let (pieces, _) = collector.search(&[("q", "*"), ("app", "huge"), ("limit", "1")]);
    assert!(!pieces.is_empty());
    let peak = status_bytes(pid, "VmHWM");
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "shipper VmHWM: {baseline} bytes before the {HUGE_LINE_BYTES}-byte line, {peak} after (+{growth}); line limit {MAX_LINE_BYTES}"
    );
    // What the shipper may hold of a line, whatever its length: in the tailer the piece being
    // cut and the piece waiting to be sent (2 line limits); in flight to the connection at
    // most its 1 MiB budget (a piece over it goes alone); and while a batch is framed, the
    // piece and its encoding (2 line limits); plus 2 MiB for the allocator's and the
    // runtime's own slack. At the default limit that is 4 MiB; before the in-flight budget
    // (sixteen queued pieces), the same run grew by 5.5 MiB.
    const IN_FLIGHT_BYTES: u64 = 1 << 20;
    let bound = 4 * MAX_LINE_BYTES as u64 + IN_FLIGHT_BYTES + (2 << 20);
    assert!(
        growth <= bound,
        "the shipper's peak RSS grew by {growth} bytes over a {baseline}-byte baseline, more than {bound}"
    );
}

#[test]
fn a_config_file_runs_its_tail_sources() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("web-1.log"), numbered(0, 10, "web")).expect("write");
    std::fs::write(logs.join("web-2.log"), numbered(10, 20, "web")).expect("write");
    std::fs::write(logs.join("worker.log"), numbered(0, 7, "worker")).expect("write");
    let token = tmp.path().join("token");
    std::fs::write(&token, "unused-token\n").expect("write token");
    let config = tmp.path().join("shipper.toml");
    let text = format!(
        r#"
to = "127.0.0.1:1"
token_file = {token:?}
host = "config-host"
state_dir = {state:?}

[[tail]]
paths = ["{logs}/web-*.log"]
app = "web"
fields = {{ env = "test" }}

[[tail]]
paths = ["{logs}/worker.log"]
app = "worker"
"#,
        token = token.display().to_string(),
        state = tmp.path().join("state").display().to_string(),
        logs = logs.display(),
    );
    std::fs::write(&config, text).expect("write config");
    let check = Command::new(bin("logq-shipper"))
        .arg("--check-config")
        .arg(&config)
        .output()
        .expect("run --check-config");
    assert!(check.status.success(), "{check:?}");
    assert_eq!(String::from_utf8_lossy(&check.stdout), "config ok\n");
    // `--to` on the command line wins over the file's (unreachable) address.
    let child = Command::new(bin("logq-shipper"))
        .arg("--config")
        .arg(&config)
        .args(["--to", &collector.tcp.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn logq-shipper");
    let _shipper = Shipper::from_child(child);
    wait_until(Duration::from_secs(60), "both apps' lines", || {
        stored_seqs(&collector, "web").len() == 20 && stored_seqs(&collector, "worker").len() == 7
    });
    assert_eq!(stored_seqs(&collector, "web"), (0..20).collect::<Vec<_>>());
    let (hits, _) = collector.search(&[("q", "*"), ("app", "worker"), ("limit", "1")]);
    assert_eq!(hits[0].record.host, "config-host");
}
