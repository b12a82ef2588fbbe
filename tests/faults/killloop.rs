//! Kill loop: four writers append numbered lines to four files, each shipped by its own
//! `logq-shipper tail` under its own app, while the collector and the shippers are killed with
//! SIGKILL at seeded random moments and started again (the collector on the same ports and data
//! dir, a shipper with the same state dir). At the end every line must be found by a search
//! exactly once.
//!
//! Raw resends (lines the collector received more than once, which the WAL drops by position)
//! are measured from `/metrics`: the sum over the collector's lives of
//! `logq_received_lines_total`, each life scraped just before its kill and the last one at the
//! end, minus the lines written. It is a lower bound: lines received in the moment between a
//! scrape and its kill are not counted.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Profile;
use crate::report::{Row, num};
use crate::util::{Collector, bin, numbered_writer, stored_numbers};

const SCENARIO: &str = "killloop";
const WRITERS: usize = 4;

/// A seeded xorshift64* generator: the kill moments and targets are the same for one seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seed: `LOGQ_FAULTS_SEED` when set, else a fixed one.
pub fn seed() -> u64 {
    std::env::var("LOGQ_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1106)
}

/// A `logq-shipper tail` process, killed and reaped on drop.
struct TailShipper {
    child: Option<Child>,
}

impl TailShipper {
    fn start(collector: &Collector, state: &Path, log: &Path, app: &str, stderr: &Path) -> Self {
        let err = File::options()
            .create(true)
            .append(true)
            .open(stderr)
            .expect("shipper stderr file");
        let child = Command::new(bin("logq-shipper"))
            .args(["--to", &collector.tcp.to_string()])
            .arg("--state-dir")
            .arg(state)
            .args(["--host", "faults-host", "tail"])
            .arg(log)
            .args(["--app", app])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn logq-shipper tail");
        TailShipper { child: Some(child) }
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill shipper");
            child.wait().expect("reap shipper");
        }
    }
}

impl Drop for TailShipper {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `logq_received_lines_total` summed over apps and transports, or None when the scrape fails.
fn received_lines(collector: &Collector) -> Option<u64> {
    let mut resp = ureq::get(format!("{}/metrics", collector.url()))
        .call()
        .ok()?;
    let body = resp.body_mut().read_to_string().ok()?;
    let mut total = 0.0;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("logq_received_lines_total{") {
            let value = rest.rsplit(' ').next()?;
            total += value.parse::<f64>().ok()?;
        }
    }
    Some(total as u64)
}

/// What the kill loop does next.
#[derive(Debug, Clone, Copy)]
enum Kill {
    Collector,
    Shipper,
}

pub fn run(profile: Profile) -> Vec<Row> {
    let lines: u64 = profile.pick(5_000, 250_000);
    let (collector_kills, shipper_kills) = profile.pick((3, 3), (20, 20));
    // Lines per chunk and the pause after each: about 1,000 lines/s per writer in the short
    // profile (5 s), about 2,500 in the full one (100 s).
    let (per_chunk, pause) = profile.pick((50, 50), (100, 40));
    let seed = seed();
    let mut rng = Rng::new(seed);

    let tmp = tempfile::tempdir().expect("tempdir");
    let config = "[limits]\nquery_timeout_ms = 300000\n";
    let mut collector = Collector::start_with(&tmp.path().join("data"), Some(config));
    let stderr_log = tmp.path().join("shippers.stderr");

    let apps: Vec<String> = (0..WRITERS).map(|i| format!("killloop-{i}")).collect();
    let logs: Vec<PathBuf> = (0..WRITERS)
        .map(|i| tmp.path().join(format!("app{i}.log")))
        .collect();
    let states: Vec<PathBuf> = (0..WRITERS)
        .map(|i| tmp.path().join(format!("state{i}")))
        .collect();
    for log in &logs {
        std::fs::write(log, "").expect("create log");
    }
    let mut shippers: Vec<TailShipper> = (0..WRITERS)
        .map(|i| TailShipper::start(&collector, &states[i], &logs[i], &apps[i], &stderr_log))
        .collect();
    let written: Vec<Arc<AtomicU64>> = (0..WRITERS).map(|_| Arc::default()).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let pause = Duration::from_millis(pause);
            numbered_writer(
                logs[i].clone(),
                lines,
                per_chunk,
                pause,
                false,
                written[i].clone(),
            )
        })
        .collect();

    // The kills in a seeded random order, at seeded random moments spread over the writing.
    let mut plan: Vec<Kill> = std::iter::repeat_n(Kill::Collector, collector_kills)
        .chain(std::iter::repeat_n(Kill::Shipper, shipper_kills))
        .collect();
    for i in (1..plan.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        plan.swap(i, j);
    }
    let writing_ms = lines / per_chunk * pause;
    let mean_gap_ms = writing_ms / (plan.len() as u64 + 1);
    let started = Instant::now();
    let mut received_before_kills = 0u64;
    let mut failed_scrapes = 0u32;
    let mut kills_while_writing = 0u32;
    let mut slowest_restart = Duration::ZERO;
    for kill in &plan {
        // Between half and one and a half of the mean gap: a workload pause, not a wait.
        let gap = mean_gap_ms / 2 + rng.below(mean_gap_ms.max(1));
        std::thread::sleep(Duration::from_millis(gap));
        if written.iter().any(|w| w.load(Ordering::SeqCst) < lines) {
            kills_while_writing += 1;
        }
        match kill {
            Kill::Collector => {
                match received_lines(&collector) {
                    Some(n) => received_before_kills += n,
                    None => failed_scrapes += 1,
                }
                let t = Instant::now();
                collector.kill9_and_restart();
                slowest_restart = slowest_restart.max(t.elapsed());
            }
            Kill::Shipper => {
                let i = rng.below(WRITERS as u64) as usize;
                shippers[i].kill9();
                shippers[i] =
                    TailShipper::start(&collector, &states[i], &logs[i], &apps[i], &stderr_log);
            }
        }
    }
    let kills_done = started.elapsed();
    for w in writers {
        w.join().expect("writer thread");
    }

    // Everything stored, or the deadline: then the search below says what is missing.
    let deadline = Instant::now() + profile.pick(Duration::from_secs(15), Duration::from_secs(900));
    let drain_started = Instant::now();
    while Instant::now() < deadline && apps.iter().any(|app| collector.count(app) < lines) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let drained_in = drain_started.elapsed();

    let sent = lines * WRITERS as u64;
    let mut missing = 0u64;
    let mut duplicated = 0u64;
    let mut per_app = Vec::new();
    for app in &apps {
        let seen = stored_numbers(&collector, app);
        let m = (0..lines).filter(|n| !seen.contains_key(n)).count() as u64;
        let d: u64 = seen.values().map(|c| u64::from(c.saturating_sub(1))).sum();
        let foreign = seen.keys().filter(|n| **n >= lines).count();
        per_app.push(format!("{app} {m}/{d}"));
        missing += m;
        duplicated += d + foreign as u64;
    }
    let received_total = received_before_kills + received_lines(&collector).unwrap_or(0);
    let resends = received_total as i64 - sent as i64;

    let mut row = Row::new(
        SCENARIO,
        format!("{WRITERS} tail shippers × {} lines", num(lines)),
    );
    row.sent = sent;
    row.missing = missing;
    row.duplicated = duplicated;
    row.notes = format!(
        "seed {seed}; collector kills {collector_kills}, shipper kills {shipper_kills} \
         ({kills_while_writing} while writing, over {:.1} s); raw resends seen {} \
         (Σ logq_received_lines_total over the collector's lives, {} lines, each life scraped \
         just before its kill, − {} written{}; shippers resume at the collector's durable \
         position, so only lines a dying collector received after its last scrape are sent \
         again, and those it cannot see); slowest collector restart {:.2} s; drained {:.1} s \
         after the writers; missing/duplicated per app: {}",
        kills_done.as_secs_f64(),
        resends,
        num(received_total),
        num(sent),
        if failed_scrapes > 0 {
            format!("; {failed_scrapes} scrapes failed")
        } else {
            String::new()
        },
        slowest_restart.as_secs_f64(),
        drained_in.as_secs_f64(),
        per_app.join(", "),
    );
    row.require(missing == 0 && duplicated == 0, || {
        format!(
            "{} missing, {} duplicated after the kill loop",
            num(missing),
            num(duplicated)
        )
    });
    if row.failure.is_some() {
        let kept = tmp.keep();
        row.notes
            .push_str(&format!("; files kept in {}", kept.display()));
    }
    drop(shippers);
    vec![row]
}
