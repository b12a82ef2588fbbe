//! Stall: the collector is stopped (SIGSTOP) while a tailing shipper and two `run` wrappers
//! keep producing; its TCP connections stay open with full windows, so the shippers see a
//! collector that neither answers nor goes away. During the stop the shippers' VmRSS and the
//! `run` spools are sampled; after SIGCONT everything must drain.
//!
//! Cases: `tail` and `run` under the spool cap must lose and double nothing; `run` at a small
//! `--spool-max` must stay under its cap, and what it drops (by design, oldest first) must be
//! counted in the `[logq-shipper] dropped N lines ...` markers stored in the stream itself, not
//! lost silently. The wrapped program's slowest write shows that `run` never blocks it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::Profile;
use crate::report::{Row, num};
use crate::util::{Collector, bin, numbered_writer, stored_numbers};

const SCENARIO: &str = "stall";

/// Writes `N` lines `seq=NNNNNN <pad>` to stdout, 30 every 10 ms, timing every write; at the
/// end writes the slowest write in ms to `OUT`.
const CHATTY: &str = r#"
import sys, time
n_lines, out, pad = int(sys.argv[1]), sys.argv[2], "p" * int(sys.argv[3])
slowest, n = 0.0, 0
while n < n_lines:
    chunk = "".join(f"seq={i:06} stalled {pad}\n" for i in range(n, min(n + 30, n_lines)))
    t = time.monotonic()
    sys.stdout.write(chunk)
    sys.stdout.flush()
    slowest = max(slowest, time.monotonic() - t)
    n += 30
    time.sleep(0.01)
open(out, "w").write(f"{slowest * 1000:.3f}")
"#;

/// A shipper process, killed and reaped on drop.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit code once it exited, polling until `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> Option<i32> {
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The collector stopped with SIGSTOP; continued on drop, so a failing case never leaves it
/// stopped (the collector's own drop kills it either way).
struct Stopped {
    pid: Pid,
}

impl Stopped {
    fn stop(collector: &Collector) -> Stopped {
        let pid = Pid::from_raw(i32::try_from(collector.pid()).expect("pid")).expect("pid");
        kill_process(pid, Signal::STOP).expect("SIGSTOP the collector");
        Stopped { pid }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill_process(self.pid, Signal::CONT);
    }
}

/// `VmRSS` of a process in bytes (0 once it is gone).
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Bytes of the files under `dir` (0 when it does not exist).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", num(bytes.div_ceil(1024)))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `logq-shipper run --app APP [--spool-max CAP] -- python3 -c CHATTY LINES OUT PAD`.
fn start_run(
    collector: &Collector,
    tmp: &Path,
    app: &str,
    spool_max: Option<&str>,
    lines: u64,
    pad: usize,
    drain_secs: u64,
) -> (Proc, PathBuf) {
    let slowest = tmp.join(format!("{app}.slowest"));
    let mut cmd = Command::new(bin("logq-shipper"));
    cmd.args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.join(format!("state-{app}")))
        .args(["--drain-timeout-secs", &drain_secs.to_string()])
        .args(["run", "--app", app]);
    if let Some(cap) = spool_max {
        cmd.args(["--spool-max", cap]);
    }
    let child = cmd
        .args(["--", "python3", "-c", CHATTY, &lines.to_string()])
        .arg(&slowest)
        .arg(pad.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join(format!("{app}.stderr"))).expect("stderr file"))
        .spawn()
        .expect("spawn logq-shipper run");
    (Proc { child }, slowest)
}

/// Peak figures of one shipper during the stop.
#[derive(Default)]
struct Peaks {
    rss_before: u64,
    rss: u64,
    spool: u64,
}

/// How often a shipper logged losing or not reaching the collector (its stderr in `tmp`).
fn reconnects(tmp: &Path, app: &str) -> usize {
    std::fs::read_to_string(tmp.join(format!("{app}.stderr")))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("lost the collector") || l.contains("collector unreachable"))
        .count()
}

/// Σ N over the stored `[logq-shipper] dropped N lines` markers of `app`, and how many.
fn markers(collector: &Collector, app: &str) -> (u64, u64) {
    let (hits, _) = collector.search(&[("q", "dropped"), ("app", app), ("limit", "10000")]);
    let mut lines = 0;
    let mut count = 0;
    for hit in hits {
        let msg = &hit.record.message;
        if let Some(rest) = msg.strip_prefix("[logq-shipper] dropped ")
            && let Some(n) = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok())
        {
            lines += n;
            count += 1;
        }
    }
    (lines, count)
}

pub fn run(profile: Profile) -> Vec<Row> {
    let stop = profile.pick(Duration::from_secs(8), Duration::from_secs(120));
    let stop_ms = stop.as_millis() as u64;
    // Each producer writes for about 70% of the stop (from shortly before it), so it is done
    // by SIGCONT and the drain time is the collector's catching up alone.
    let tail_lines = 2_500 * stop_ms * 7 / 10_000;
    let run_lines = 3_000 * stop_ms * 7 / 10_000;
    // The capped wrapper writes about 1 MB/s, well past its cap and the socket buffers.
    let cap_pad = 300;
    let cap = profile.pick(("256KiB", 256 * 1024), ("1MiB", 1 << 20));
    let default_cap: u64 = 256 << 20;
    let drain_secs = stop.as_secs() + 300;

    let tmp = tempfile::tempdir().expect("tempdir");
    let config = "[limits]\nquery_timeout_ms = 300000\n";
    let collector = Collector::start_with(&tmp.path().join("data"), Some(config));

    // The tailing shipper, started first and shown to ship before the stop.
    let log = tmp.path().join("tail.log");
    std::fs::write(&log, "").expect("create log");
    let tail_state = tmp.path().join("state-tail");
    let tail = Proc {
        child: Command::new(bin("logq-shipper"))
            .args(["--to", &collector.tcp.to_string()])
            .arg("--state-dir")
            .arg(&tail_state)
            .arg("tail")
            .arg(&log)
            .args(["--app", "stall-tail"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stderr(
                std::fs::File::create(tmp.path().join("stall-tail.stderr")).expect("stderr file"),
            )
            .spawn()
            .expect("spawn logq-shipper tail"),
    };
    std::fs::write(&log, "seq=999999 before the stop\n").expect("first line");
    let deadline = Instant::now() + Duration::from_secs(20);
    while collector.count("stall-tail") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(collector.count("stall-tail") > 0, "the tail shipper ships");

    let (mut runner, run_slowest) = start_run(
        &collector,
        tmp.path(),
        "stall-run",
        None,
        run_lines,
        0,
        drain_secs,
    );
    let (mut capped, cap_slowest) = start_run(
        &collector,
        tmp.path(),
        "stall-cap",
        Some(cap.0),
        run_lines,
        cap_pad,
        drain_secs,
    );
    let written = Arc::new(AtomicU64::new(0));
    let writer = numbered_writer(
        log.clone(),
        tail_lines,
        50,
        Duration::from_millis(20),
        false,
        written.clone(),
    );
    // The wrappers' first lines stored: both connected and shipping when the stop comes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while (collector.count("stall-run") == 0 || collector.count("stall-cap") == 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }

    let procs = [
        ("tail", tail.pid()),
        ("run", runner.pid()),
        ("cap", capped.pid()),
    ];
    let spools = [
        None,
        Some(tmp.path().join("state-stall-run/run-stall-run/spool")),
        Some(tmp.path().join("state-stall-cap/run-stall-cap/spool")),
    ];
    let mut peaks: Vec<Peaks> = procs
        .iter()
        .map(|(_, pid)| Peaks {
            rss_before: rss(*pid),
            ..Peaks::default()
        })
        .collect();

    // The stop itself: sample every 100 ms (the sampling is the workload's clock).
    let stopped = Stopped::stop(&collector);
    let stopped_at = Instant::now();
    while stopped_at.elapsed() < stop {
        for (i, (_, pid)) in procs.iter().enumerate() {
            peaks[i].rss = peaks[i].rss.max(rss(*pid));
            if let Some(dir) = &spools[i] {
                peaks[i].spool = peaks[i].spool.max(dir_bytes(dir));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let written_during_stop = written.load(Ordering::SeqCst);
    drop(stopped);
    let continued = Instant::now();

    // Drain: the wrappers exit once their command ended and every line is acknowledged.
    let limit = continued + profile.pick(Duration::from_secs(30), Duration::from_secs(600));
    writer.join().expect("writer thread");
    let run_exit = runner.wait_until(limit);
    let run_drained = continued.elapsed();
    let cap_exit = capped.wait_until(limit);
    let cap_drained = continued.elapsed();
    while collector.count("stall-tail") < tail_lines + 1 && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let tail_drained = continued.elapsed();
    // Stored is searchable only after the index commits (every 500 ms by default).
    for app in ["stall-run", "stall-cap"] {
        let want = if app == "stall-run" { run_lines } else { 1 };
        while collector.count(app) < want && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let slowest = |path: &Path| -> Option<f64> { std::fs::read_to_string(path).ok()?.parse().ok() };

    let count = |app: &str, lines: u64| -> (u64, u64, u64) {
        let seen = stored_numbers(&collector, app);
        let missing = (0..lines).filter(|n| !seen.contains_key(n)).count() as u64;
        let doubled: u64 = seen
            .iter()
            .filter(|(n, _)| **n < lines)
            .map(|(_, c)| u64::from(c.saturating_sub(1)))
            .sum();
        let stored = seen.iter().filter(|(n, _)| **n < lines).count() as u64;
        (missing, doubled, stored)
    };
    let stop_s = stop.as_secs();
    let rss_note = |p: &Peaks| {
        format!(
            "peak RSS {} (before the stop {})",
            mib(p.rss),
            mib(p.rss_before)
        )
    };
    // Bounded: a shipper holds at most about 1 MiB per source in flight; 64 MiB of growth would
    // mean it buffers what it cannot send.
    let rss_bound = |p: &Peaks| p.rss < p.rss_before + (64 << 20);
    let mut rows = Vec::new();

    // tail
    let (missing, doubled, _) = count("stall-tail", tail_lines);
    let mut row = Row::new(SCENARIO, format!("tail, collector stopped {stop_s} s"));
    row.sent = tail_lines;
    row.missing = missing;
    row.duplicated = doubled;
    row.notes = format!(
        "{}; {} of the lines written before SIGCONT; reconnects {}; drained {:.1} s after SIGCONT",
        rss_note(&peaks[0]),
        num(written_during_stop),
        reconnects(tmp.path(), "stall-tail"),
        tail_drained.as_secs_f64()
    );
    row.require(missing == 0 && doubled == 0, || {
        format!("{missing} missing, {doubled} duplicated")
    });
    row.require(rss_bound(&peaks[0]), || {
        format!("shipper memory grew to {}", mib(peaks[0].rss))
    });
    rows.push(row);

    // run, under the cap
    let (missing, doubled, _) = count("stall-run", run_lines);
    let ms = slowest(&run_slowest);
    let mut row = Row::new(
        SCENARIO,
        format!("run, default --spool-max, stopped {stop_s} s"),
    );
    row.sent = run_lines;
    row.missing = missing;
    row.duplicated = doubled;
    row.notes = format!(
        "{}; peak spool {} of {}; slowest write {}; reconnects {}; exit {:?}, drained {:.1} s \
         after SIGCONT",
        rss_note(&peaks[1]),
        kib(peaks[1].spool),
        kib(default_cap),
        ms.map_or("unknown".into(), |ms| format!("{ms:.1} ms")),
        reconnects(tmp.path(), "stall-run"),
        run_exit,
        run_drained.as_secs_f64()
    );
    row.require(missing == 0 && doubled == 0, || {
        format!("{missing} missing, {doubled} duplicated")
    });
    row.require(run_exit == Some(0), || {
        format!("run did not exit 0 after draining: {run_exit:?}")
    });
    row.require(ms.is_some_and(|ms| ms < 1000.0), || {
        format!("the wrapped program's slowest write: {ms:?} ms")
    });
    row.require(peaks[1].spool <= default_cap, || {
        "spool over its cap".into()
    });
    row.require(rss_bound(&peaks[1]), || {
        format!("shipper memory grew to {}", mib(peaks[1].rss))
    });
    rows.push(row);

    // run at a small cap: drops are by design, but counted and marked
    let (missing, doubled, stored) = count("stall-cap", run_lines);
    let (marked, marker_count) = markers(&collector, "stall-cap");
    let ms = slowest(&cap_slowest);
    let cap_stderr =
        std::fs::read_to_string(tmp.path().join("stall-cap.stderr")).unwrap_or_default();
    let logged = cap_stderr.contains("dropped");
    let mut row = Row::new(
        SCENARIO,
        format!("run, --spool-max {}, stopped {stop_s} s", cap.0),
    );
    row.sent = run_lines;
    row.missing = missing;
    row.duplicated = doubled;
    row.notes = format!(
        "{}; peak spool {} of {}; stored {}, dropped at the cap {} in {} markers{} (a marker counts every unacknowledged \
         line of a dropped segment, also those already sent that still arrive); slowest \
         write {}; reconnects {}; exit {:?}, drained {:.1} s after SIGCONT",
        rss_note(&peaks[2]),
        kib(peaks[2].spool),
        kib(cap.1),
        num(stored),
        num(marked),
        marker_count,
        if logged { " (and logged)" } else { "" },
        ms.map_or("unknown".into(), |ms| format!("{ms:.1} ms")),
        reconnects(tmp.path(), "stall-cap"),
        cap_exit,
        cap_drained.as_secs_f64()
    );
    row.require(doubled == 0, || format!("{doubled} duplicated"));
    // A marker may count lines already in flight that still arrived, so ≥ rather than =.
    row.require(missing <= marked, || {
        format!(
            "{} lines missing but only {} counted in drop markers: a silent loss",
            num(missing),
            num(marked)
        )
    });
    row.require(missing == 0 || logged, || {
        "lines dropped without a word in the shipper's log".into()
    });
    row.require(cap_exit == Some(0), || {
        format!("run did not exit 0 after draining: {cap_exit:?}")
    });
    row.require(ms.is_some_and(|ms| ms < 1000.0), || {
        format!("the wrapped program's slowest write: {ms:?} ms")
    });
    // At most one pipe read (64 KiB) over the cap between an append and its cap check.
    row.require(peaks[2].spool <= cap.1 + (64 << 10), || {
        format!(
            "spool at {} over its cap of {}",
            num(peaks[2].spool),
            num(cap.1)
        )
    });
    if profile.full {
        row.require(marked > 0, || "the cap was never reached".into());
    }
    row.require(rss_bound(&peaks[2]), || {
        format!("shipper memory grew to {}", mib(peaks[2].rss))
    });
    rows.push(row);

    if rows.iter().any(|r| r.failure.is_some()) {
        let kept = tmp.keep();
        for row in &mut rows {
            row.notes
                .push_str(&format!("; files kept in {}", kept.display()));
        }
    }
    rows
}
