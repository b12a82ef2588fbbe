//! Storage under pressure: a runaway app beside two calm ones, on a small filesystem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::util::{
    Collector, Shipper, Tmpfs, bin, numbered_writer, pipe_lines, runaway_chunk, stored_numbers,
    tree_bytes, wait_until, wait_until_else,
};

const MIB: u64 = 1024 * 1024;
const SEGMENT: u64 = 8 * MIB;
const CALM_LINES: u64 = 15_000;

/// What a runaway scenario measured.
struct Outcome {
    /// Most bytes the data dir held at once.
    peak: u64,
    /// Least free space on the filesystem.
    least_free: u64,
    /// The runaway's bytes in sealed segments at the end.
    runaway_disk: u64,
    runaway_lines: u64,
}

/// A runaway app writes `runaway_bytes` as fast as it can through `logq-shipper pipe` while
/// two calm apps write numbered lines at about 1,000 lines/s each, into a collector with
/// `retention` (a TOML `[retention]` section) on a tmpfs of `fs_mib` MiB. Checks what every
/// pressure scenario must hold: the calm apps lose and double nothing, the runaway's newest
/// line is searchable and its oldest went; returns the figures the caller bounds.
fn runaway_beside_calm_apps(fs_mib: u64, retention: &str, runaway_bytes: u64) -> Outcome {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("mnt");
    let _fs = Tmpfs::mount(&mnt, fs_mib).expect("tmpfs (CI and these machines run as root)");
    let data = mnt.join("data");
    let config = format!(
        "[wal]\nmax_file_bytes = {}\n[storage]\nsegment_max_bytes = {SEGMENT}\n{retention}",
        2 * MIB
    );
    let collector = Collector::start_with(&data, Some(&config));

    let calm: Vec<_> = ["calm-a", "calm-b"]
        .iter()
        .map(|app| {
            let log = tmp.path().join(format!("{app}.log"));
            std::fs::write(&log, "").expect("create");
            let shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, app);
            let written = Arc::new(AtomicU64::new(0));
            let writer = numbered_writer(
                log,
                CALM_LINES,
                100,
                Duration::from_millis(100),
                false,
                written,
            );
            (app, shipper, writer)
        })
        .collect();

    // Watch the data dir and the filesystem from the start.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let least_free = Arc::new(AtomicU64::new(u64::MAX));
    let monitor = {
        let (stop, peak, least_free, data) =
            (stop.clone(), peak.clone(), least_free.clone(), data.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                peak.fetch_max(tree_bytes(&data), Ordering::SeqCst);
                if let Ok(s) = rustix::fs::statvfs(&data) {
                    least_free.fetch_min(s.f_bavail * s.f_frsize, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let mut runaway = Command::new(bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["pipe", "--app", "runaway", "--spool-max", "1GiB"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn runaway shipper");
    let mut stdin = runaway.stdin.take().expect("stdin");
    let runaway_lines = {
        let mut n: u64 = 0;
        let mut written: u64 = 0;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        while written < runaway_bytes {
            let chunk = runaway_chunk(&mut state, &mut n, 500, 6);
            stdin.write_all(chunk.as_bytes()).expect("feed runaway");
            written += chunk.len() as u64;
        }
        n
    };
    drop(stdin);
    let status = runaway.wait().expect("runaway shipper");
    assert!(
        status.success(),
        "the runaway's shipper delivered everything: {status}"
    );
    let mut shippers = Vec::new();
    for (app, shipper, writer) in calm {
        writer.join().expect("calm writer");
        wait_until_else(
            Duration::from_secs(60),
            || collector.count(app) >= CALM_LINES,
            || {
                let stored = stored_numbers(&collector, app);
                let missing: Vec<u64> = (0..CALM_LINES)
                    .filter(|n| !stored.contains_key(n))
                    .collect();
                let (_, apps) = crate::util::api_get(&collector, "/api/v1/apps");
                format!(
                    "{app}: {} of {CALM_LINES} lines after 60 s; missing {} (first {:?}, last {:?}); apps: {apps}",
                    stored.len(),
                    missing.len(),
                    missing.first(),
                    missing.last()
                )
            },
        );
        shippers.push(shipper);
        let stored = stored_numbers(&collector, app);
        let missing = (0..CALM_LINES).filter(|n| !stored.contains_key(n)).count();
        let doubled = stored.values().filter(|c| **c > 1).count();
        assert_eq!((missing, doubled), (0, 0), "{app}: missing, duplicated");
    }
    // The runaway's newest lines are searchable; its oldest went.
    let newest = format!("seq={:06}", runaway_lines - 1);
    wait_until(Duration::from_secs(30), "the runaway's newest line", || {
        let (hits, _) = collector.search(&[("q", &newest), ("app", "runaway")]);
        hits.len() == 1
    });
    stop.store(true, Ordering::SeqCst);
    monitor.join().expect("monitor");
    let (hits, _) = collector.search(&[("q", "seq=000000"), ("app", "runaway")]);
    assert!(hits.is_empty(), "the runaway's oldest line was evicted");

    let (_, body) = crate::util::api_get(&collector, "/api/v1/apps");
    let apps: serde_json::Value = serde_json::from_str(&body).expect("apps json");
    let runaway_disk = apps["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["app"] == "runaway")
        .and_then(|a| a["disk_bytes"].as_u64())
        .expect("runaway listed");
    let outcome = Outcome {
        peak: peak.load(Ordering::SeqCst),
        least_free: least_free.load(Ordering::SeqCst),
        runaway_disk,
        runaway_lines,
    };
    eprintln!(
        "runaway wrote {} lines; data dir peaked at {:.1} MiB, least free {:.1} MiB, runaway keeps {:.1} MiB (filesystem {fs_mib} MiB, segment {} MiB)",
        outcome.runaway_lines,
        outcome.peak as f64 / MIB as f64,
        outcome.least_free as f64 / MIB as f64,
        outcome.runaway_disk as f64 / MIB as f64,
        SEGMENT / MIB
    );
    drop(shippers);
    outcome
}

#[test]
fn a_runaway_app_loses_its_own_oldest_data_and_nobody_elses_under_the_global_cap() {
    // The global cap binds before the runaway's own 200 MiB quota: the runaway is the app most
    // over its share, so it loses its own oldest segments.
    const GLOBAL_CAP: u64 = 96 * MIB;
    const RUNAWAY_QUOTA: u64 = 200 * MIB;
    let out = runaway_beside_calm_apps(
        400,
        &format!(
            "[retention]\nmax_bytes = {GLOBAL_CAP}\nmin_free_bytes = \"64MiB\"\nmin_free_percent = 0\n\
             [retention.apps.runaway]\nmax_bytes = {RUNAWAY_QUOTA}\n"
        ),
        // Half as much again as the cap.
        144 * MIB,
    );
    assert!(
        out.runaway_disk <= RUNAWAY_QUOTA + SEGMENT,
        "runaway keeps {} bytes of segments",
        out.runaway_disk
    );
    assert!(
        out.peak <= GLOBAL_CAP + SEGMENT,
        "the data dir peaked at {} bytes, over the cap {GLOBAL_CAP} plus a segment {SEGMENT}",
        out.peak
    );
}

#[test]
fn the_free_disk_floor_holds_on_a_small_filesystem_with_no_cap() {
    // No global cap: only the floor stands between the runaway and a full disk. The runaway
    // writes more than the whole filesystem.
    const FS_MIB: u64 = 160;
    const FLOOR: u64 = 64 * MIB;
    let out = runaway_beside_calm_apps(
        FS_MIB,
        &format!("[retention]\nmin_free_bytes = {FLOOR}\nmin_free_percent = 0\n"),
        192 * MIB,
    );
    // The floor is checked every 100 ms and room goes to the segment being sealed: free space
    // may dip below the floor by that much, never to a full disk.
    assert!(
        out.least_free + 2 * SEGMENT >= FLOOR,
        "free space fell to {} bytes with a floor of {FLOOR}",
        out.least_free
    );
}

/// The segment files of `app`, oldest first.
fn segments_of(data: &Path, app: &str) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(data.join("segments").join(app))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "seg"))
                .collect()
        })
        .unwrap_or_default();
    segs.sort();
    segs
}

#[test]
fn damaged_segments_footers_and_splits_are_repaired_or_counted_and_the_rest_served() {
    const LINES: u64 = 3_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    // Seal every second so each app's lines land in segments.
    let config = "[storage]\nsegment_max_age_secs = 1\nframe_bytes = 4096\n";
    let mut collector = Collector::start_with(&data, Some(config));
    let apps = ["cut", "footer", "split", "gone"];
    for app in apps {
        pipe_lines(collector.tcp, &tmp.path().join("state"), app, 0, LINES);
    }
    // A segment is listed before its split is built: wait for the split too.
    wait_until(
        Duration::from_secs(60),
        "every app sealed with its split",
        || {
            apps.iter().all(|app| {
                let (_, body) = crate::util::api_get(&collector, "/api/v1/apps");
                let v: serde_json::Value = serde_json::from_str(&body).expect("json");
                v["apps"].as_array().expect("apps").iter().any(|a| {
                    a["app"] == *app && a["segments"].as_u64() >= Some(1) && a["records"] == LINES
                }) && matches!(segments_of(&data, app).as_slice(),
                    [seg] if seg.with_extension("split").is_dir())
            })
        },
    );
    // Stop hard. (Sealed records still in the hot index are dropped at the next start.)
    collector.kill9();

    // A segment cut in the middle of a frame, a flipped byte in a footer, a split deleted,
    // a segment deleted.
    let cut = &segments_of(&data, "cut")[0];
    let len = std::fs::metadata(cut).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(cut)
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");
    let footer = &segments_of(&data, "footer")[0];
    let mut bytes = std::fs::read(footer).expect("read");
    let at = bytes.len() - 40;
    bytes[at] ^= 0x20;
    std::fs::write(footer, &bytes).expect("write");
    std::fs::remove_dir_all(segments_of(&data, "split")[0].with_extension("split")).expect("rm");
    std::fs::remove_file(&segments_of(&data, "gone")[0]).expect("rm");

    collector.restart();
    let count = |app: &str| collector.count(app);
    let cut_left = count("cut");
    assert!(
        cut_left > 0 && cut_left < LINES,
        "the frames before the cut survive: {cut_left}"
    );
    assert_eq!(count("footer"), LINES, "a damaged footer loses nothing");
    assert_eq!(count("split"), LINES, "a lost split is rebuilt");
    assert_eq!(count("gone"), 0, "a deleted segment is gone, and said so");
    // What survives is searchable by content.
    let (hits, _) = collector.search(&[("q", "seq=000000"), ("app", "split")]);
    assert_eq!(hits.len(), 1);
    let (hits, _) = collector.search(&[("q", "seq=000000"), ("app", "cut")]);
    assert_eq!(hits.len(), 1, "the first frame of the cut segment survives");
}
