//! Rotation matrix under load: one case per rotation style, all at once against one collector.
//! A writer appends numbered lines at a steady rate to `app.log` while the file is rotated
//! again and again: by the real logrotate (`create`, `copytruncate`, `compress` with
//! `delaycompress`) or by the scenario itself (delete + recreate, a symlink whose target is
//! swapped). The shipper is pointed at the live path only, as users do.
//!
//! At the end every file left in the directory (current, rotated, `.gz` through `zcat`) is read.
//! Missing: lines on disk that are not stored (for delete + recreate, where the deleted files
//! are gone, every line written); duplicated: lines stored more than once. logrotate's
//! `copytruncate` itself loses what the writer appends between its copy and its truncation:
//! those lines are not on disk and are counted apart, with how many logq still caught.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Profile;
use crate::report::{Row, num};
use crate::util::{Collector, Shipper, seq_of, stored_numbers};

const SCENARIO: &str = "rotation";

/// How a file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// logrotate `create`: rename to `app.log.1`, create a new `app.log`; the app reopens.
    Create,
    /// logrotate `copytruncate`: copy, then truncate in place; the app keeps its descriptor.
    CopyTruncate,
    /// logrotate `create` + `compress` + `delaycompress`: `app.log.1` is gzipped at the next
    /// rotation, so the shipper has one interval to finish it.
    CompressDelayed,
    /// The file is deleted; the app notices and creates it again.
    DeleteRecreate,
    /// `app.log` is a symlink swapped atomically to a new, empty target; the app reopens.
    SymlinkSwap,
}

const STYLES: [Style; 5] = [
    Style::Create,
    Style::CopyTruncate,
    Style::CompressDelayed,
    Style::DeleteRecreate,
    Style::SymlinkSwap,
];

impl Style {
    fn name(self) -> &'static str {
        match self {
            Style::Create => "logrotate create",
            Style::CopyTruncate => "logrotate copytruncate",
            Style::CompressDelayed => "logrotate compress + delaycompress",
            Style::DeleteRecreate => "delete + recreate",
            Style::SymlinkSwap => "symlink swap",
        }
    }

    fn app(self) -> &'static str {
        match self {
            Style::Create => "rot-create",
            Style::CopyTruncate => "rot-copytruncate",
            Style::CompressDelayed => "rot-compress",
            Style::DeleteRecreate => "rot-delete",
            Style::SymlinkSwap => "rot-symlink",
        }
    }

    /// The directives of the logrotate stanza, for the styles logrotate performs.
    fn logrotate(self) -> Option<&'static str> {
        match self {
            Style::Create => Some("create\n  nocompress"),
            Style::CopyTruncate => Some("copytruncate\n  nocompress"),
            Style::CompressDelayed => Some("create\n  compress\n  delaycompress"),
            Style::DeleteRecreate | Style::SymlinkSwap => None,
        }
    }
}

/// The writer's pace and the rotator's.
#[derive(Debug, Clone, Copy)]
struct Load {
    lines: u64,
    per_chunk: u64,
    /// Time from the first chunk to the last.
    duration: Duration,
    /// Time between rotations.
    every: Duration,
}

pub fn run(profile: Profile) -> Vec<Row> {
    let load = profile.pick(
        Load {
            lines: 3_000,
            per_chunk: 25,
            duration: Duration::from_secs(6),
            every: Duration::from_millis(1_400),
        },
        Load {
            lines: 100_000,
            per_chunk: 100,
            duration: Duration::from_secs(60),
            every: Duration::from_secs(1),
        },
    );
    let settle = profile.pick(Duration::from_secs(40), Duration::from_secs(240));
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    std::thread::scope(|s| {
        let handles: Vec<_> = STYLES
            .iter()
            .map(|style| {
                let (collector, root) = (&collector, tmp.path().join(style.app()));
                s.spawn(move || one_style(*style, load, settle, collector, &root))
            })
            .collect();
        handles
            .into_iter()
            .zip(STYLES)
            .map(|(h, style)| {
                h.join().unwrap_or_else(|panic| {
                    let mut row = Row::new(SCENARIO, style.name());
                    row.failure = Some(
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_else(|| "panicked".into()),
                    );
                    row
                })
            })
            .collect()
    })
}

fn one_style(
    style: Style,
    load: Load,
    settle: Duration,
    collector: &Collector,
    root: &Path,
) -> Row {
    let mut row = Row::new(SCENARIO, style.name());
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir logs");
    let log = logs.join("app.log");
    let mut targets = 0u32;
    if style == Style::SymlinkSwap {
        File::create(logs.join("app.log.0")).expect("first target");
        std::os::unix::fs::symlink("app.log.0", &log).expect("symlink");
    } else {
        File::create(&log).expect("create log");
    }
    let conf = root.join("logrotate.conf");
    if let Some(directives) = style.logrotate() {
        std::fs::write(
            &conf,
            format!(
                "{} {{\n  rotate 100000\n  {directives}\n  missingok\n}}\n",
                log.display()
            ),
        )
        .expect("logrotate.conf");
    }
    let app = style.app();
    let _shipper = Shipper::tail_with(
        collector,
        &root.join("state"),
        &[log.to_str().expect("utf-8 path")],
        app,
        &[],
    );
    let written = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let (rotations, rotate_error) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            write_numbered(&log, load, style, &written);
            done.store(true, Ordering::SeqCst);
        });
        // Rotate on a steady beat until the writer is done (the sleep is the workload).
        let mut rotations = 0u32;
        let mut error = None;
        let started = Instant::now();
        'beat: loop {
            let next = started + load.every * (rotations + 1);
            while Instant::now() < next {
                if done.load(Ordering::SeqCst) {
                    break 'beat;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            match rotate(
                style,
                &log,
                &conf,
                &root.join("logrotate.state"),
                &mut targets,
            ) {
                Ok(()) => rotations += 1,
                Err(why) => {
                    error = Some(why);
                    break;
                }
            }
        }
        let writer = writer.join();
        if writer.is_err() {
            error.get_or_insert_with(|| "the writer panicked".into());
        }
        (rotations, error)
    });
    let written = written.load(Ordering::SeqCst);
    row.sent = written;
    if let Some(why) = rotate_error {
        row.failure = Some(why);
        return row;
    }
    let (on_disk, files, gz) = numbers_on_disk(&logs);
    // What must be stored: what is on disk, and for delete + recreate every line written (the
    // deleted files are gone, but each was on disk while the shipper had it open).
    let want: Vec<u64> = if style == Style::DeleteRecreate {
        (0..written).collect()
    } else {
        on_disk.keys().copied().collect()
    };
    let wanted = want.len() as u64;
    // Poll until the collector holds as many records as wanted, then until the count stays
    // still for a second (anything doubled would arrive late).
    let deadline = Instant::now() + settle;
    let (mut last, mut since) = (u64::MAX, Instant::now());
    while Instant::now() < deadline {
        let count = collector.count(app);
        if count != last {
            (last, since) = (count, Instant::now());
        } else if count >= wanted && since.elapsed() >= Duration::from_secs(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stored = stored_numbers(collector, app);
    let missing: Vec<u64> = want
        .iter()
        .filter(|n| !stored.contains_key(n))
        .copied()
        .collect();
    row.missing = missing.len() as u64;
    row.duplicated = stored.values().filter(|c| **c > 1).count() as u64;
    let invented = stored.keys().filter(|n| **n >= written).count();
    let doubled_on_disk = on_disk.values().filter(|c| **c > 1).count();
    row.notes = format!(
        "rotations {rotations}; on disk {} lines in {files} files ({gz} .gz)",
        num(on_disk.len() as u64)
    );
    if style == Style::CopyTruncate {
        let window = written - on_disk.len() as u64;
        let caught = stored.keys().filter(|n| !on_disk.contains_key(n)).count();
        row.notes.push_str(&format!(
            "; logrotate lost {} on disk between copy and truncate, logq still shipped {}",
            num(window),
            num(caught as u64)
        ));
    } else if style == Style::DeleteRecreate {
        row.notes
            .push_str(" (the others deleted: every line written must be stored)");
        if !missing.is_empty() {
            let gone = missing.iter().filter(|n| !on_disk.contains_key(n)).count();
            row.notes
                .push_str(&format!("; {gone} of the missing were in deleted files"));
        }
    } else {
        row.require(on_disk.len() as u64 == written, || {
            format!(
                "{} of {written} lines are not on disk after {}",
                written - on_disk.len() as u64,
                style.name()
            )
        });
    }
    row.require(written == load.lines, || {
        format!("the writer wrote {written} of {} lines", load.lines)
    });
    row.require(rotations >= 3, || format!("only {rotations} rotations"));
    row.require(doubled_on_disk == 0, || {
        format!("{doubled_on_disk} lines are twice on disk (the rotation tool copied them twice)")
    });
    row.require(missing.is_empty(), || {
        format!(
            "{} lines not stored (first {:?})",
            num(missing.len() as u64),
            missing.iter().min()
        )
    });
    let duplicated = row.duplicated;
    row.require(duplicated == 0, || {
        format!("{} lines stored more than once", num(duplicated))
    });
    row.require(invented == 0, || {
        format!("{invented} stored lines were never written")
    });
    row
}

/// Appends `load.lines` numbered lines to `path` on a steady beat, reopening `path` as an app
/// told to reopen its log does: when the file there is another one (logrotate's `create`, a
/// swapped symlink), or, for delete + recreate, creating it when it is gone. `copytruncate`
/// needs no reopen (the descriptor is `O_APPEND`, so writes follow the truncation).
fn write_numbered(path: &Path, load: Load, style: Style, written: &AtomicU64) {
    let open = |create: bool| {
        OpenOptions::new()
            .create(create)
            .append(true)
            .open(path)
            .expect("open log for appending")
    };
    let mut file = open(false);
    let chunks = load.lines.div_ceil(load.per_chunk);
    let started = Instant::now();
    let mut n = 0;
    for chunk_no in 0..chunks {
        let at = started + load.duration.mul_f64(chunk_no as f64 / chunks as f64);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if style != Style::CopyTruncate {
            let ino = file.metadata().expect("fstat").ino();
            match std::fs::metadata(path) {
                Ok(m) if m.ino() != ino => file = open(false),
                // Wait for logrotate to create the file: creating it ourselves between its
                // rename and its create would make it move our file aside (`*.backup`).
                Err(_) if style == Style::DeleteRecreate => file = open(true),
                _ => {}
            }
        }
        let mut text = String::new();
        for _ in 0..load.per_chunk.min(load.lines - n) {
            text.push_str(&format!("seq={n:06} payload lorem ipsum dolor sit amet\n"));
            n += 1;
        }
        file.write_all(text.as_bytes()).expect("append");
        written.store(n, Ordering::SeqCst);
    }
}

/// One rotation of `log` in `style`.
fn rotate(
    style: Style,
    log: &Path,
    conf: &Path,
    state: &Path,
    targets: &mut u32,
) -> Result<(), String> {
    match style {
        Style::Create | Style::CopyTruncate | Style::CompressDelayed => {
            let out = Command::new("/usr/sbin/logrotate")
                .arg("-f")
                .arg("-s")
                .arg(state)
                .arg(conf)
                .output()
                .map_err(|e| format!("cannot run /usr/sbin/logrotate: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "logrotate failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Style::DeleteRecreate => {
            std::fs::remove_file(log).map_err(|e| format!("cannot delete the log: {e}"))?;
        }
        Style::SymlinkSwap => {
            // A new empty target, then the link replaced atomically, as deploy tools do.
            *targets += 1;
            let dir = log.parent().expect("log dir");
            let target = format!("app.log.{targets}");
            File::create(dir.join(&target)).map_err(|e| format!("new target: {e}"))?;
            let tmp_link = dir.join("app.log.swap");
            std::os::unix::fs::symlink(&target, &tmp_link).map_err(|e| format!("symlink: {e}"))?;
            std::fs::rename(&tmp_link, log).map_err(|e| format!("swap the link: {e}"))?;
        }
    }
    Ok(())
}

/// How often each number appears in the files of `dir` (`.gz` ones through `zcat`; links are
/// not followed, their targets are read as files); with the number of files and of `.gz`.
fn numbers_on_disk(dir: &Path) -> (HashMap<u64, u32>, usize, usize) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    let (mut files, mut gz) = (0, 0);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("ls logs")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    for path in paths {
        if std::fs::symlink_metadata(&path)
            .expect("lstat")
            .is_symlink()
        {
            continue;
        }
        files += 1;
        let bytes = if path.extension().is_some_and(|e| e == "gz") {
            gz += 1;
            let out = Command::new("zcat").arg(&path).output().expect("run zcat");
            assert!(out.status.success(), "zcat {} failed", path.display());
            out.stdout
        } else {
            std::fs::read(&path).expect("read log")
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            if let Some(n) = seq_of(line.trim_start_matches('\0')) {
                *seen.entry(n).or_default() += 1;
            }
        }
    }
    (seen, files, gz)
}
