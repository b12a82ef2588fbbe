//! Corrupted files at start: a data dir with sealed segments, splits, active segments, a WAL
//! and a manifest is built once; each iteration copies it, damages one random file of one kind
//! in one random way (seeded), starts a collector on the copy and checks that it starts within
//! 5 s, loses at most the records the damaged file held (none of any other app), says in its
//! log what it lost, and keeps serving.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Profile;
use crate::report::{Row, num};
use crate::util::{Collector, bin, pipe_lines, wait_until};

const APPS: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
/// Lines per app and round; rounds 0 and 1 are sealed, round 2 is left unsealed.
const ROUND: [u64; 3] = [1_000, 1_000, 400];
const START_LIMIT: Duration = Duration::from_secs(5);
const CONFIG: &str = "[storage]\nsegment_max_age_secs = 1\nframe_bytes = 4096\n\
                      [retention]\nmin_free_bytes = 0\nmin_free_percent = 0\n";

/// A tiny seeded PRNG (xorshift64*), so every run damages the same bytes for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The seed: `LOGQ_FAULTS_SEED`, else a fixed one.
pub fn seed() -> u64 {
    std::env::var("LOGQ_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1106)
}

/// A collector started with its info-level log in a file, so what it says can be checked.
pub struct LoggedCollector {
    child: Child,
    pub http: SocketAddr,
    pub tcp: SocketAddr,
    pub log: PathBuf,
}

impl LoggedCollector {
    /// Starts `logq-collector` on `data` with `config`; returns it and how long it took to
    /// announce its listeners, or why it did not (exited, or silent for 30 s).
    pub fn start(
        data: &Path,
        config: &Path,
        log: &Path,
    ) -> Result<(LoggedCollector, Duration), String> {
        let started = Instant::now();
        let mut child = Command::new(bin("logq-collector"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--tcp-addr", "127.0.0.1:0"])
            .args(["--udp-addr", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("spawn logq-collector: {e}"))?;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let took = started.elapsed();
        let addr = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
        };
        match (addr("http="), addr("tcp=")) {
            (Some(http), Some(tcp)) => Ok((
                LoggedCollector {
                    child,
                    http,
                    tcp,
                    log: log.to_owned(),
                },
                took,
            )),
            _ => {
                let _ = child.kill();
                let status = child.wait().ok();
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(3).collect();
                Err(format!(
                    "the collector did not start ({status:?}; said {tail:?})"
                ))
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many records of `app` a search finds (0 when it fails).
    pub fn count(&self, app: &str) -> u64 {
        ureq::get(format!("http://{}/api/v1/search", self.http))
            .query("q", "*")
            .query("app", app)
            .query("limit", "1")
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|v| v["total"].as_u64())
            .unwrap_or(0)
    }

    /// `GET /api/v1/search?q=*&app=APP` of every record: how often each `seq=` number is
    /// stored.
    pub fn numbers(&self, app: &str) -> Result<HashMap<u64, u32>, String> {
        let get = |limit: u64| -> Result<serde_json::Value, String> {
            let mut resp = ureq::get(format!("http://{}/api/v1/search", self.http))
                .query("q", "*")
                .query("app", app)
                .query("limit", limit.to_string())
                .call()
                .map_err(|e| format!("search {app}: {e}"))?;
            let body = resp
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_string()
                .map_err(|e| e.to_string())?;
            serde_json::from_str(&body).map_err(|e| e.to_string())
        };
        let total = get(1)?["total"].as_u64().unwrap_or(0);
        let v = get(total + 10)?;
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for hit in v["hits"].as_array().into_iter().flatten() {
            if let Some(n) = hit["message"].as_str().and_then(crate::util::seq_of) {
                *seen.entry(n).or_default() += 1;
            }
        }
        Ok(seen)
    }
}

impl Drop for LoggedCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `key=` in `line`.
pub fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.trim_matches('"').parse().ok())
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Sealed segments of every app (path, app).
fn sealed_segments(data: &Path) -> Vec<(PathBuf, String)> {
    files_under(&data.join("segments"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .map(|p| {
            let app = p
                .parent()
                .and_then(Path::file_name)
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (p, app)
        })
        .collect()
}

/// Builds the pristine data dir: two sealed rounds per app, then a third left unsealed (in
/// active segments and the WAL) by a kill -9.
fn build(tmp: &Path) -> PathBuf {
    let data = tmp.join("pristine");
    let mut collector = Collector::start_with(&data, Some(CONFIG));
    let state = tmp.join("state");
    let mut first = 0;
    for (round, lines) in ROUND.iter().enumerate() {
        std::thread::scope(|s| {
            for app in APPS {
                let (tcp, state) = (collector.tcp, &state);
                s.spawn(move || pipe_lines(tcp, state, app, first, *lines));
            }
        });
        first += lines;
        if round + 1 < ROUND.len() {
            // Each sealed round is its own segment with its split.
            wait_until(
                Duration::from_secs(30),
                "every app's round sealed with its split",
                || {
                    let segs = sealed_segments(&data);
                    APPS.iter().all(|app| {
                        segs.iter()
                            .filter(|(p, a)| a == app && p.with_extension("split").is_dir())
                            .count()
                            > round
                    }) && APPS.iter().all(|app| collector.count(app) == first)
                },
            );
        }
    }
    // The last round is acked (in the WAL): stop hard before it is sealed.
    collector.kill9();
    let _ = std::fs::remove_file(data.with_extension("toml"));
    data
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Segment,
    Footer,
    Active,
    Wal,
    Manifest,
    Split,
}

const KINDS: [Kind; 6] = [
    Kind::Segment,
    Kind::Footer,
    Kind::Wal,
    Kind::Manifest,
    Kind::Split,
    Kind::Active,
];

#[derive(Debug, Clone, Copy)]
enum Op {
    Truncate,
    Flip,
    Zero,
    Delete,
    Append,
}

const OPS: [Op; 5] = [Op::Truncate, Op::Flip, Op::Zero, Op::Delete, Op::Append];

/// The short profile's round: every kind of file and every operation. A damaged active
/// segment keeps its intact records below the WAL's first id and the WAL replays the rest, and
/// the hot index counts what neither holds; a deleted WAL file is reported as missing; a split
/// lacking one of its files is rebuilt at start.
const SHORT_ROUND: [(Kind, Op); 11] = [
    (Kind::Segment, Op::Truncate),
    (Kind::Footer, Op::Flip),
    (Kind::Wal, Op::Zero),
    (Kind::Manifest, Op::Delete),
    (Kind::Split, Op::Append),
    (Kind::Segment, Op::Flip),
    (Kind::Active, Op::Flip),
    (Kind::Wal, Op::Truncate),
    (Kind::Segment, Op::Delete),
    (Kind::Wal, Op::Delete),
    (Kind::Split, Op::Delete),
];

/// Applies `op` to `path`; with `tail`, offsets fall in its last 256 bytes (a segment's
/// footer). Returns what was done.
fn damage(path: &Path, op: Op, tail: bool, rng: &mut Rng) -> String {
    let mut bytes = std::fs::read(path).expect("read the file to damage");
    let len = bytes.len() as u64;
    let lo = if tail { len.saturating_sub(256) } else { 0 };
    let at = (lo + rng.below(len - lo)) as usize;
    let what = match op {
        Op::Truncate => {
            bytes.truncate(at);
            format!("truncated at {at} of {len}")
        }
        Op::Flip => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = (lo + rng.below(len - lo)) as usize;
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            format!("{n} bits flipped from {lo}")
        }
        Op::Zero => {
            let n = 1 + rng.below(4096);
            let end = (at + n as usize).min(bytes.len());
            bytes[at..end].fill(0);
            format!("zeroed {}..{end} of {len}", at)
        }
        Op::Delete => {
            std::fs::remove_file(path).expect("delete");
            return "deleted".into();
        }
        Op::Append => {
            let n = 1 + rng.below(512);
            bytes.extend((0..n).map(|_| rng.next() as u8));
            format!("{n} garbage bytes appended")
        }
    };
    std::fs::write(path, bytes).expect("write the damaged file");
    what
}

/// Lines per app in a WAL file (its batches, as far as they read).
fn wal_lines(path: &Path) -> BTreeMap<String, u64> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut at = 16;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
            let b = &v["batch"];
            if let (Some(app), Some(lines)) = (b["meta"]["app"].as_str(), b["lines"].as_array()) {
                *out.entry(app.to_owned()).or_default() += lines.len() as u64;
            }
        }
        at += 8 + len;
    }
    out
}

/// Records of each sealed segment, by seq, from the manifest.
fn manifest_records(data: &Path) -> HashMap<u64, (String, u64)> {
    let text = std::fs::read(data.join("segments/manifest.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
    v["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["seq"].as_u64()?,
                (s["app"].as_str()?.to_owned(), s["records"].as_u64()?),
            ))
        })
        .collect()
}

fn seq_of_path(p: &Path) -> u64 {
    p.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

pub fn run(profile: Profile) -> Vec<Row> {
    let seed = seed();
    let iterations: u64 = profile.pick(SHORT_ROUND.len() as u64, 100);
    let tmp = tempfile::tempdir().expect("tempdir");
    let pristine = build(tmp.path());
    let config = tmp.path().join("collector.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let total_lines: u64 = ROUND.iter().sum();

    // What a start on the undamaged copy serves: every line of every app, once.
    let mut row = Row::new("corruption", format!("{iterations} randomized corruptions"));
    let base = tmp.path().join("base");
    copy(&pristine, &base);
    let baseline = {
        let (c, _) = LoggedCollector::start(&base, &config, &tmp.path().join("base.log"))
            .expect("the collector starts on the undamaged data dir");
        let settle = Instant::now() + Duration::from_secs(10);
        while APPS.iter().any(|a| c.count(a) < total_lines) && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(50));
        }
        APPS.iter()
            .map(|app| (*app, c.numbers(app).expect("search")))
            .collect::<HashMap<_, _>>()
    };
    for (app, seen) in &baseline {
        row.require(seen.len() as u64 == total_lines, || {
            format!("undamaged, {app} serves {} of {total_lines}", seen.len())
        });
    }
    let _ = std::fs::remove_dir_all(&base);
    let manifest = manifest_records(&pristine);
    let files = files_under(&pristine);
    let of_kind = |kind: Kind| -> Vec<&PathBuf> {
        files
            .iter()
            .filter(|p| {
                let rel = p.strip_prefix(&pristine).expect("under");
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                match kind {
                    Kind::Segment | Kind::Footer => name.ends_with(".seg"),
                    Kind::Active => name.ends_with(".active"),
                    Kind::Wal => rel.starts_with("wal") && name.ends_with(".wal"),
                    Kind::Manifest => name == "manifest.json",
                    Kind::Split => p
                        .parent()
                        .and_then(|d| d.extension())
                        .is_some_and(|e| e == "split"),
                }
            })
            .collect()
    };

    let mut rng = Rng::new(seed);
    let (mut slowest, mut lost_total, mut bound_total) = (Duration::ZERO, 0u64, 0u64);
    let (mut unreported, mut crashes) = (0u64, 0u64);
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut unreported_by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in 0..iterations {
        // The short profile takes a fixed round of kinds and operations; the full one draws
        // them at random.
        let (kind, op) = if profile.full {
            (
                KINDS[rng.below(KINDS.len() as u64) as usize],
                OPS[rng.below(OPS.len() as u64) as usize],
            )
        } else {
            SHORT_ROUND[i as usize % SHORT_ROUND.len()]
        };
        let candidates = of_kind(kind);
        if candidates.is_empty() {
            row.require(kind == Kind::Active || kind == Kind::Wal, || {
                format!("the data dir has no {kind:?} file")
            });
            continue;
        }
        let victim = candidates[rng.below(candidates.len() as u64) as usize];
        let rel = victim.strip_prefix(&pristine).expect("under").to_owned();
        // The records the damaged file held, and which apps they belong to.
        let (bound, apps): (u64, Vec<String>) = match kind {
            Kind::Segment | Kind::Footer => {
                let (app, n) = manifest
                    .get(&seq_of_path(victim))
                    .cloned()
                    .unwrap_or_default();
                (n, vec![app])
            }
            Kind::Active => {
                let app = rel.iter().nth(1).map(|s| s.to_string_lossy().into_owned());
                let app = app.unwrap_or_default();
                let sealed: u64 = manifest
                    .values()
                    .filter(|(a, _)| *a == app)
                    .map(|(_, n)| n)
                    .sum();
                (total_lines - sealed, vec![app])
            }
            Kind::Wal => {
                let per_app = wal_lines(victim);
                (per_app.values().sum(), per_app.into_keys().collect())
            }
            Kind::Manifest | Kind::Split => (0, Vec::new()),
        };
        let dir = tmp.path().join(format!("it{i}"));
        copy(&pristine, &dir);
        let what = damage(&dir.join(&rel), op, kind == Kind::Footer, &mut rng);
        *by_kind.entry(format!("{kind:?}")).or_default() += 1;
        bound_total += bound;
        let case = format!("#{i} {kind:?} {} {what}", rel.display());
        let log = tmp.path().join(format!("it{i}.log"));
        let (mut c, took) = match LoggedCollector::start(&dir, &config, &log) {
            Ok(started) => started,
            Err(why) => {
                crashes += 1;
                row.require(false, || format!("{case}: {why}"));
                continue;
            }
        };
        slowest = slowest.max(took);
        row.require(took <= START_LIMIT, || {
            format!("{case}: start took {:.1} s", took.as_secs_f64())
        });
        // The WAL's tail is indexed shortly after the start: wait for it (bounded; a damaged
        // data dir may never get there).
        let want: u64 = baseline.values().map(|s| s.len() as u64).sum();
        let settle = Instant::now() + Duration::from_secs(2);
        while APPS.iter().map(|a| c.count(a)).sum::<u64>() < want && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut lost = 0;
        for app in APPS {
            let seen = match c.numbers(app) {
                Ok(seen) => seen,
                Err(e) => {
                    row.require(false, || format!("{case}: {e}"));
                    continue;
                }
            };
            let missing = baseline[app]
                .keys()
                .filter(|n| !seen.contains_key(n))
                .count() as u64;
            let doubled = seen.values().filter(|c| **c > 1).count() as u64;
            row.missing += missing;
            row.duplicated += doubled;
            lost += missing;
            row.require(doubled == 0, || {
                format!("{case}: {app} has {doubled} doubled")
            });
            row.require(missing == 0 || apps.iter().any(|a| a == app), || {
                format!("{case}: {app}, not damaged, lost {missing}")
            });
        }
        row.require(lost <= bound, || {
            format!("{case}: lost {lost}, the file held {bound}")
        });
        // What the collector said it lost: at start (segments and WAL) or when a search met a
        // damaged frame.
        let said = |text: &str| -> (u64, bool) {
            let mut records = 0;
            let mut wal = false;
            for line in text.lines() {
                if line.contains("opened the segment store") {
                    records += field(line, "records_lost").unwrap_or(0);
                } else if line.contains("recovered write-ahead log") {
                    wal |= field(line, "corrupt_records").unwrap_or(0) > 0
                        || field(line, "dropped_bytes").unwrap_or(0) > 0
                        || field(line, "missing_files").unwrap_or(0) > 0;
                } else if line.contains("salvaged a damaged segment")
                    || line.contains("nothing left to salvage")
                    || line.contains("records only an active segment held are lost")
                {
                    records += field(line, "lost").unwrap_or(0);
                }
            }
            (records, wal)
        };
        let accounted = |(records, wal): (u64, bool)| {
            records + if wal && kind == Kind::Wal { bound } else { 0 } >= lost
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while !accounted(said(&c.log_text())) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let (records, wal) = said(&c.log_text());
        if !accounted((records, wal)) {
            unreported += lost - records;
            let e = unreported_by.entry(format!("{kind:?} {op:?}")).or_default();
            e.0 += 1;
            e.1 += lost - records;
            row.require(false, || {
                format!("{case}: lost {lost}, reported {records} (wal corrupt: {wal})")
            });
        }
        lost_total += lost;
        // Still serving: alive, and answering.
        row.require(c.alive() && api_get_ok(&c), || {
            format!("{case}: the collector stopped serving")
        });
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
        if profile.full || row.failure.is_some() {
            eprintln!("corruption: {case}: lost {lost} of {bound} at risk");
        }
    }
    row.sent = bound_total;
    row.notes = format!(
        "seed {seed:#x}; iterations {iterations} ({}); slowest start {:.2} s; records lost {} of {} in damaged files; unreported losses {unreported}{}; crashes {crashes}",
        by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        slowest.as_secs_f64(),
        num(lost_total),
        num(bound_total),
        if unreported_by.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                unreported_by
                    .iter()
                    .map(|(k, (cases, n))| format!("{k}: {n} in {cases} cases"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    vec![row]
}

fn api_get_ok(c: &LoggedCollector) -> bool {
    ureq::get(format!("http://{}/api/v1/apps", c.http))
        .call()
        .is_ok()
}

fn copy(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the data dir");
}
