//! `logq-shipper run`: the wrapped command is never blocked by an absent collector, its output
//! passes through, and everything spooled arrives once the collector is back.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Collector, bin, stored_numbers, wait_until};

/// Writes `N` numbered lines to stdout, 30 every 10 ms, timing every write; at the end writes
/// the slowest write in ms to `OUT` and a line to stderr, and exits 3.
const CHATTY: &str = r#"
import sys, time
n_lines, out = int(sys.argv[1]), sys.argv[2]
slowest, n = 0.0, 0
while n < n_lines:
    chunk = "".join(f"seq={i:06} chatty payload\n" for i in range(n, min(n + 30, n_lines)))
    t = time.monotonic()
    sys.stdout.write(chunk)
    sys.stdout.flush()
    slowest = max(slowest, time.monotonic() - t)
    n += 30
    time.sleep(0.01)
sys.stderr.write(f"chatty done slowest_write_ms={slowest * 1000:.1f}\n")
open(out, "w").write(f"{slowest * 1000:.3f}")
sys.exit(3)
"#;

#[test]
fn run_never_blocks_the_command_while_the_collector_is_down_for_30s() {
    const LINES: u64 = 100_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&tmp.path().join("data"));
    let slowest_file = tmp.path().join("slowest");
    let passed_through = tmp.path().join("stdout");
    let mut shipper = Command::new(bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["run", "--app", "chatty", "--", "python3", "-c", CHATTY])
        .arg(LINES.to_string())
        .arg(&slowest_file)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&passed_through).expect("stdout file"))
        .spawn()
        .expect("spawn logq-shipper run");
    wait_until(Duration::from_secs(20), "the first lines", || {
        collector.count("chatty") > 0
    });
    collector.kill9();
    std::thread::sleep(Duration::from_secs(30));
    collector.restart();
    let status = shipper.wait().expect("wait shipper");
    assert_eq!(
        status.code(),
        Some(3),
        "run exits with the command's status"
    );

    let slowest: f64 = std::fs::read_to_string(&slowest_file)
        .expect("the command finished")
        .parse()
        .expect("ms");
    // Blocked on a full pipe, a write would wait for the collector: about 30 s.
    assert!(slowest < 1000.0, "slowest write took {slowest} ms");
    let out = std::fs::read_to_string(&passed_through).expect("stdout");
    assert_eq!(out.lines().count() as u64, LINES, "stdout passes through");

    wait_until(Duration::from_secs(60), "every line stored", || {
        collector.count("chatty") > LINES
    });
    let stored = stored_numbers(&collector, "chatty");
    let missing = (0..LINES).filter(|n| !stored.contains_key(n)).count();
    let doubled = stored.values().filter(|c| **c > 1).count();
    assert_eq!((missing, doubled), (0, 0), "missing, duplicated");
    let (hits, _) = collector.search(&[("q", "slowest_write_ms"), ("app", "chatty")]);
    assert_eq!(hits.len(), 1, "stderr is shipped too");
    assert_eq!(hits[0].record.stream, "stderr");
}

#[test]
fn run_of_a_missing_command_says_so_and_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin("logq-shipper"))
        .args(["--to", "127.0.0.1:9", "--state-dir"])
        .arg(tmp.path())
        .args(["run", "--app", "x", "--", "/nonexistent/program", "arg"])
        .output()
        .expect("run shipper");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot run \"/nonexistent/program\""),
        "{stderr}"
    );
}

/// Regressions: the log carried ANSI colour codes into the files supervisord and pm2 write a
/// shipper's stderr to; and `pipe` never ended while the collector was unreachable (its spool
/// said the input was over only once placed), so `--drain-timeout-secs` never ran out.
#[test]
fn pipe_with_no_collector_exits_2_after_the_drain_time_with_a_log_without_colour_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(bin("logq-shipper"))
        .args([
            "--to",
            "127.0.0.1:9",
            "--drain-timeout-secs",
            "1",
            "--state-dir",
        ])
        .arg(tmp.path())
        .args(["pipe", "--app", "x"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shipper");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"kept for later\n")
        .expect("write");
    let started = std::time::Instant::now();
    let out = child.wait_with_output().expect("shipper output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "{stderr}");
    assert!(stderr.contains("collector unreachable"), "{stderr}");
    assert!(stderr.contains("stay in the spool"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr}");
}

#[test]
fn a_bad_size_or_app_name_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shipper = |args: &[&str]| {
        Command::new(bin("logq-shipper"))
            .arg("--state-dir")
            .arg(tmp.path())
            .args(args)
            .output()
            .expect("run shipper")
    };
    let out = shipper(&["tail", "x.log", "--app", "a", "--max-source-bytes", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size such as"));
    let out = shipper(&["pipe", "--app", "../etc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --app \"../etc\""));
}
