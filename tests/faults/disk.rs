//! Disk pressure: a collector on a small tmpfs with a free-disk floor (and, in one case, a
//! global cap), a runaway app writing as fast as it can beside two calm apps writing numbered
//! lines. The cap and the floor hold, the calm apps lose nothing, the runaway's newest lines
//! are searchable. Then a ballast file fills the filesystem from outside the collector until
//! ingest is refused; the collector stays up, what is written meanwhile waits at the shippers,
//! and once the ballast goes it all arrives with no restart.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Profile;
use crate::corruption::LoggedCollector;
use crate::report::{Row, num};
use crate::util::{Shipper, Tmpfs, bin, runaway_chunk, tree_bytes};

const MIB: u64 = 1024 * 1024;
/// `segment_max_bytes`: room the collector keeps for a segment being sealed.
const SEGMENT: u64 = MIB;
/// The calm apps: each has its own `max_bytes` share far above what it writes, so when space
/// runs short the runaway (the app most over its share) gives way, never a calm app.
const CALM: [&str; 2] = ["calm-a", "calm-b"];
/// How far the data dir may pass the cap, and free space dip under the floor: retention runs
/// every 100 ms while the runaway writes several MiB/s, and the hot index and the WAL are
/// only freed once what they hold is sealed (the e2e tests allow two 8 MiB segments).
const OVERSHOOT: u64 = 16 * MIB;

fn free_bytes(path: &Path) -> u64 {
    rustix::fs::statvfs(path).map_or(u64::MAX, |s| s.f_bavail * s.f_frsize)
}

/// Appends numbered lines to `path` (20 every 50 ms) until `stop`; counts them in `written`.
fn calm_writer(path: PathBuf, stop: Arc<AtomicBool>, written: Arc<AtomicU64>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open calm log");
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let mut chunk = String::new();
            for _ in 0..20 {
                chunk.push_str(&format!(
                    "seq={n:06} calm payload lorem ipsum dolor sit amet\n"
                ));
                n += 1;
            }
            file.write_all(chunk.as_bytes()).expect("append");
            written.store(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

/// `logq-shipper pipe --app runaway` with its stdin to write to.
fn runaway_pipe(tcp: std::net::SocketAddr, state: &Path) -> Child {
    Command::new(bin("logq-shipper"))
        .args(["--to", &tcp.to_string()])
        .arg("--state-dir")
        .arg(state)
        .args(["pipe", "--app", "runaway", "--spool-max", "1GiB"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn runaway shipper")
}

/// Hits and total of a search.
fn search(c: &LoggedCollector, q: &str, app: &str, limit: u64) -> (Vec<String>, u64) {
    let Ok(mut resp) = ureq::get(format!("http://{}/api/v1/search", c.http))
        .query("q", q)
        .query("app", app)
        .query("limit", limit.to_string())
        .call()
    else {
        return (Vec::new(), 0);
    };
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let hits = v["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["message"].as_str().map(str::to_owned))
        .collect();
    (hits, v["total"].as_u64().unwrap_or(0))
}

/// How often each `seq=` number of the lines matching `q` of `app` is stored.
fn numbers(c: &LoggedCollector, q: &str, app: &str) -> HashMap<u64, u32> {
    let (_, total) = search(c, q, app, 1);
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for line in search(c, q, app, total + 10).0 {
        if let Some(n) = crate::util::seq_of(&line) {
            *seen.entry(n).or_default() += 1;
        }
    }
    seen
}

/// Missing and doubled of `0..sent` in `seen`.
fn tally(seen: &HashMap<u64, u32>, sent: u64) -> (u64, u64) {
    let missing = (0..sent).filter(|n| !seen.contains_key(n)).count() as u64;
    let doubled = seen.values().filter(|c| **c > 1).count() as u64;
    (missing, doubled)
}

/// `logq_evictions_total` by reason, as "reason n" pairs.
fn evictions(c: &LoggedCollector) -> String {
    let text = ureq::get(format!("http://{}/metrics", c.http))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let found: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("logq_evictions_total{"))
        .filter_map(|l| {
            let reason = l.split('"').nth(1)?;
            let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
            (n > 0.0).then(|| format!("{reason} {n}"))
        })
        .collect();
    if found.is_empty() {
        "none".into()
    } else {
        found.join(", ")
    }
}

/// One case: the runaway beside the calm apps under `retention`, then (with `squeeze`) the
/// ballast.
fn case(
    name: &str,
    fs_mib: u64,
    floor: u64,
    cap: Option<u64>,
    runaway_bytes: u64,
    squeeze: bool,
    frame_bytes: u64,
) -> Row {
    let mut row = Row::new("disk", name.to_owned());
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("mnt");
    let _fs = match Tmpfs::mount(&mnt, fs_mib) {
        Ok(fs) => fs,
        Err(e) => {
            row.failure = Some(e);
            return row;
        }
    };
    let data = mnt.join("data");
    let cap_line = cap
        .map(|c| format!("max_bytes = {c}\n"))
        .unwrap_or_default();
    let config = tmp.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "[wal]\nmax_file_bytes = {MIB}\n\
             [storage]\nsegment_max_bytes = {SEGMENT}\nframe_bytes = {frame_bytes}\n\
             [retention]\n{cap_line}min_free_bytes = {floor}\nmin_free_percent = 0\n\
             [retention.apps.calm-a]\nmax_bytes = \"1GiB\"\n\
             [retention.apps.calm-b]\nmax_bytes = \"1GiB\"\n"
        ),
    )
    .expect("config");
    let (mut collector, _) =
        LoggedCollector::start(&data, &config, &tmp.path().join("collector.log"))
            .expect("the collector starts");
    let state = tmp.path().join("state");

    // Calm apps from the start to the end.
    let stop_calm = Arc::new(AtomicBool::new(false));
    let calm: Vec<_> = CALM
        .iter()
        .map(|app| {
            let log = tmp.path().join(format!("{app}.log"));
            std::fs::write(&log, "").expect("create");
            let shipper = Shipper::from_child(
                Command::new(bin("logq-shipper"))
                    .args(["--to", &collector.tcp.to_string()])
                    .arg("--state-dir")
                    .arg(&state)
                    .arg("tail")
                    .arg(&log)
                    .args(["--app", app])
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("spawn calm shipper"),
            );
            let written = Arc::new(AtomicU64::new(0));
            let writer = calm_writer(log, stop_calm.clone(), written.clone());
            (*app, shipper, writer, written)
        })
        .collect();

    // Watch the data dir and the filesystem throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let least_free = Arc::new(AtomicU64::new(u64::MAX));
    let watching = Arc::new(AtomicBool::new(true));
    let monitor = {
        let (stop, peak, least_free, data, watching) = (
            stop.clone(),
            peak.clone(),
            least_free.clone(),
            data.clone(),
            watching.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                // The ballast pushes free space under the floor on purpose: not counted.
                if watching.load(Ordering::SeqCst) {
                    peak.fetch_max(tree_bytes(&data), Ordering::SeqCst);
                    least_free.fetch_min(free_bytes(&data), Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // The runaway: as fast as it can.
    let started = Instant::now();
    let mut runaway = runaway_pipe(collector.tcp, &state);
    let mut stdin = runaway.stdin.take().expect("stdin");
    let mut runaway_lines: u64 = 0;
    let mut written: u64 = 0;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while written < runaway_bytes {
        let chunk = runaway_chunk(&mut x, &mut runaway_lines, 500, 7);
        stdin.write_all(chunk.as_bytes()).expect("feed runaway");
        written += chunk.len() as u64;
    }
    drop(stdin);
    let status = runaway.wait().expect("runaway shipper");
    row.require(status.success(), || {
        format!("the runaway's shipper did not deliver everything: {status}")
    });
    let runaway_secs = started.elapsed().as_secs_f64();
    let newest = format!("seq={:07}", runaway_lines - 1);
    let deadline = Instant::now() + Duration::from_secs(15);
    while search(&collector, &newest, "runaway", 5).0.len() != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    row.require(
        search(&collector, &newest, "runaway", 5).0.len() == 1,
        || "the runaway's newest line is not searchable".into(),
    );
    let (_, runaway_kept) = search(&collector, "*", "runaway", 1);
    watching.store(false, Ordering::SeqCst);
    let (peak_bytes, least) = (
        peak.load(Ordering::SeqCst),
        least_free.load(Ordering::SeqCst),
    );
    // The floor is checked every 100 ms and room goes to the segment being sealed (and a merge
    // of the hot index): free space may dip below the floor by that much.
    row.require(least + OVERSHOOT >= floor, || {
        format!("free space fell to {least} bytes with a floor of {floor}")
    });
    if let Some(cap) = cap {
        row.require(peak_bytes <= cap + OVERSHOOT, || {
            format!("the data dir peaked at {peak_bytes} bytes, over the cap {cap} + {OVERSHOOT}")
        });
    }
    let mut notes = vec![
        format!(
            "fs {fs_mib} MiB, floor {} MiB{}, frames {frame_bytes} B; runaway {} MiB ({} lines) in {runaway_secs:.1} s, keeps {}",
            floor / MIB,
            cap.map(|c| format!(", cap {} MiB", c / MIB))
                .unwrap_or_default(),
            runaway_bytes / MIB,
            num(runaway_lines),
            num(runaway_kept)
        ),
        format!(
            "least free {:.1} MiB (floor {} MiB); data dir peak {:.1} MiB{}",
            least as f64 / MIB as f64,
            floor / MIB,
            peak_bytes as f64 / MIB as f64,
            cap.map(|c| format!(" (cap {} MiB)", c / MIB))
                .unwrap_or_default()
        ),
    ];

    // Under the runaway alone, the calm apps lose nothing: every line so far, once.
    let mut phase1 = Vec::new();
    for (app, _, _, written) in &calm {
        let sent = written.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(15);
        while search(&collector, "*", app, 1).1 < sent && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let (missing, doubled) = tally(&numbers(&collector, "*", app), sent);
        row.require(missing == 0 && doubled == 0, || {
            format!("{app} beside the runaway: {missing} of {sent} missing, {doubled} doubled")
        });
        phase1.push(sent);
    }
    if squeeze {
        squeeze_phase(
            &mut row,
            &mut notes,
            &mut collector,
            &mnt,
            &data,
            floor,
            &state,
        );
    }
    row.require(collector.alive(), || "the collector exited".into());

    // The calm apps: every line, once.
    stop_calm.store(true, Ordering::SeqCst);
    let mut shippers = Vec::new();
    for ((app, shipper, writer, written), before) in calm.into_iter().zip(phase1) {
        writer.join().expect("calm writer");
        let sent = written.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(15);
        let stored = || numbers(&collector, "*", app);
        while stored().keys().filter(|n| **n >= before).count() < (sent - before) as usize
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let seen = stored();
        // The ballast fills the disk from outside: the floor then takes sealed segments even
        // of apps under their share (counted in the evictions). What was written from the
        // squeeze on must all be there, once.
        let missing = (before..sent).filter(|n| !seen.contains_key(n)).count() as u64;
        let floor_took = (0..before).filter(|n| !seen.contains_key(n)).count() as u64;
        let doubled = seen.values().filter(|c| **c > 1).count() as u64;
        row.sent += sent;
        row.missing += missing + floor_took;
        row.duplicated += doubled;
        row.require(missing == 0 && doubled == 0, || {
            format!(
                "{app}: {missing} of {} missing, {doubled} doubled",
                sent - before
            )
        });
        row.require(floor_took == 0, || {
            format!("{app}: {floor_took} of its first {before} lines gone")
        });
        notes.push(if squeeze {
            format!(
                "{app}: {} lines beside the runaway, all stored then; {} lines from the squeeze on, {missing} missing, {doubled} doubled; {} earlier lines evicted by the floor under the ballast",
                num(before),
                num(sent - before),
                num(floor_took)
            )
        } else {
            format!(
                "{app}: {} lines, {} missing, {doubled} doubled",
                num(sent),
                missing + floor_took
            )
        });
        shippers.push(shipper);
    }
    stop.store(true, Ordering::SeqCst);
    monitor.join().expect("monitor");
    notes.push(format!("evictions: {}", evictions(&collector)));
    let mut by_app: std::collections::BTreeMap<String, u64> = Default::default();
    let log = collector.log_text();
    for line in log.lines().filter(|l| l.contains("evicted a segment")) {
        let app = line.split("app=").nth(1).and_then(|a| a.split(' ').next());
        *by_app.entry(app.unwrap_or("?").to_owned()).or_default() += 1;
    }
    notes.push(format!("evicted segments by app: {by_app:?}"));
    if row.failure.is_some() {
        for line in log
            .lines()
            .filter(|l| !l.contains("evicted a segment"))
            .take(60)
        {
            eprintln!("collector: {line}");
        }
    }
    row.notes = notes.join("; ");
    drop(shippers);
    drop(collector);
    row
}

/// The ballast: fills the filesystem until free space is under the floor and ingest is
/// refused, keeps the runaway (and the calm apps) writing, removes the ballast and checks that
/// everything written meanwhile arrives once, with no restart.
fn squeeze_phase(
    row: &mut Row,
    notes: &mut Vec<String>,
    collector: &mut LoggedCollector,
    mnt: &Path,
    data: &Path,
    floor: u64,
    state: &Path,
) {
    // The runaway keeps writing numbered lines through a new `pipe` run.
    let mut shipper = runaway_pipe(collector.tcp, state);
    let mut stdin = shipper.stdin.take().expect("stdin");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let mut chunk = String::new();
                for _ in 0..20 {
                    chunk.push_str(&format!("squeeze seq={n:06} runaway still writing\n"));
                    n += 1;
                }
                stdin.write_all(chunk.as_bytes()).expect("feed runaway");
                sent.store(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // The runaway writes again before the ballast comes: the floor must refuse it (what the
    // floor evicted from it still counts in its use), never take the calm apps' segments.
    let deadline = Instant::now() + Duration::from_secs(10);
    while search(collector, "squeeze", "runaway", 1).1 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ballast until free space is under the floor (half of it, leaving the WAL room) and the
    // collector says it refuses someone.
    let ballast = mnt.join("ballast");
    let mut file = std::fs::File::create(&ballast).expect("ballast");
    let block = vec![0xA5u8; MIB as usize];
    let refusing = |c: &LoggedCollector| {
        c.log_text()
            .lines()
            .rev()
            .find(|l| l.contains("refusing these apps") || l.contains("disk floor holds again"))
            .filter(|l| l.contains("refusing"))
            .map(|l| {
                l.split("apps=")
                    .nth(1)
                    .unwrap_or("")
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut ballast_bytes = 0u64;
    let mut refused = None;
    while Instant::now() < deadline {
        if free_bytes(data) > floor / 2 {
            if file.write_all(&block).is_ok() {
                ballast_bytes += MIB;
            }
        } else {
            refused = refusing(collector);
            if refused.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = file.sync_all();
    row.require(refused.is_some(), || {
        format!(
            "no ingest refused with {:.1} MiB free under a floor of {} MiB",
            free_bytes(data) as f64 / MIB as f64,
            floor / MIB
        )
    });
    // Squeezed for a while: the collector stays up, the refused app's lines wait.
    let squeezed_at = sent.load(Ordering::SeqCst);
    let hold = Instant::now() + Duration::from_secs(2);
    while Instant::now() < hold {
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive = collector.alive();
    row.require(alive, || "the collector exited under the squeeze".into());
    let stored_before = search(collector, "squeeze", "runaway", 1).1;
    let waiting = sent.load(Ordering::SeqCst).saturating_sub(stored_before);
    let free_in_squeeze = free_bytes(data);

    // Space returns.
    drop(file);
    std::fs::remove_file(&ballast).expect("remove the ballast");
    let removed = Instant::now();
    let deadline = removed + Duration::from_secs(15);
    let mut resumed = None;
    while Instant::now() < deadline {
        if search(collector, "squeeze", "runaway", 1).1 > stored_before {
            resumed = Some(removed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    row.require(resumed.is_some(), || {
        "the runaway's ingest did not resume within 15 s of the ballast going".into()
    });
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("squeeze writer");
    let total = sent.load(Ordering::SeqCst);
    let status = shipper.wait().expect("squeeze shipper");
    row.require(status.success(), || {
        format!("the runaway's shipper did not deliver the squeeze: {status}")
    });
    let all_in = Instant::now() + Duration::from_secs(15);
    while search(collector, "squeeze", "runaway", 1).1 < total && Instant::now() < all_in {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (missing, doubled) = tally(&numbers(collector, "squeeze", "runaway"), total);
    row.sent += total;
    row.missing += missing;
    row.duplicated += doubled;
    row.require(missing == 0 && doubled == 0, || {
        format!("runaway during the squeeze: {missing} of {total} missing, {doubled} doubled")
    });
    notes.push(format!(
        "runaway's squeeze lines: {missing} missing, {doubled} doubled"
    ));
    notes.push(format!(
        "squeeze: ballast {} MiB, free {:.1} MiB, refused {}, collector up {alive}; runaway lines {} (from {} at refusal), {} waiting at the shipper; ingest resumed {} after the ballast went",
        ballast_bytes / MIB,
        free_in_squeeze as f64 / MIB as f64,
        refused.unwrap_or_else(|| "nobody".into()),
        num(total),
        num(squeezed_at),
        num(waiting),
        resumed.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64()))
    ));
}

pub fn run(profile: Profile) -> Vec<Row> {
    let mut rows = Vec::new();
    // Small frames: unsealed data reaches the disk within a few KiB, so the floor and the cap
    // see it early. The full profile also runs the default 1 MiB frames.
    const FRAME: u64 = 4096;
    // The short profile has time for one case: the floor, then the ballast.
    if profile.full {
        rows.push(case(
            "runaway under a global cap",
            512,
            64 * MIB,
            Some(160 * MIB),
            320 * MIB,
            false,
            FRAME,
        ));
    }
    let fs = profile.pick(56, 512);
    rows.push(case(
        "runaway under the floor only, then a ballast",
        fs,
        profile.pick(16, 128) * MIB,
        None,
        profile.pick(32, 512) * MIB,
        true,
        FRAME,
    ));
    if profile.full {
        // The default 1 MiB frames: a slow writer's unsealed data is not on disk yet, so the
        // runaway's use under the ballast is what the floor evicted from it (this case once
        // saw a calm app refused instead).
        rows.push(case(
            "the ballast with 1 MiB frames",
            fs,
            128 * MIB,
            None,
            512 * MIB,
            true,
            MIB,
        ));
    }
    rows
}
