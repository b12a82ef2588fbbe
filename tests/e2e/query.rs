//! `logq search`, `tail` and their flags against a real collector holding fixture logs, with
//! known answers counted by grep on the same files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::util::{Collector, Shipper, bin, data, logq, numbered_writer, seq_of, wait_until};

const SHOP: &str = "formats/access/lnav_shop_access_log.log";
const GUNICORN: &str = "formats/gunicorn/g27_error.log";
/// Fixture times are years old: every search says so.
const SINCE: &str = "2000-01-01";

/// `grep ARGS FILE`'s count of lines (`-c` is added).
fn grep_count(args: &[&str], file: &str) -> u64 {
    let out = Command::new("grep")
        .arg("-c")
        .args(args)
        .arg(data(file))
        .output()
        .expect("run grep");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("grep count")
}

/// `grep ARGS FILE`'s output.
fn grep_out(args: &[&str], file: &str) -> String {
    let out = Command::new("grep")
        .args(args)
        .arg(data(file))
        .output()
        .expect("run grep");
    String::from_utf8(out.stdout).expect("utf-8 fixture")
}

/// A collector holding the shop access log (`shop`) and a gunicorn error log (`gunicorn`).
struct Fixture {
    _tmp: tempfile::TempDir,
    collector: Collector,
    _shippers: Vec<Shipper>,
}

impl Fixture {
    fn start() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let collector = Collector::start(&tmp.path().join("data"));
        let mut shippers = Vec::new();
        for (app, file, format, events) in [
            ("shop", SHOP, "access", 200),
            ("gunicorn", GUNICORN, "gunicorn", 25),
        ] {
            let path = tmp.path().join(format!("{app}.log"));
            std::fs::copy(data(file), &path).expect("copy fixture");
            shippers.push(Shipper::tail_with(
                &collector,
                &tmp.path().join(format!("state-{app}")),
                &[path.to_str().expect("utf-8")],
                app,
                &["--format", format],
            ));
            wait_until(Duration::from_secs(20), "fixture events stored", || {
                collector.count(app) == events
            });
        }
        Fixture {
            _tmp: tmp,
            collector,
            _shippers: shippers,
        }
    }

    /// `logq --server URL ARGS --since SINCE`, asserting it exits `code`; returns stdout.
    fn logq(&self, args: &[&str], code: i32) -> String {
        let server = self.collector.url();
        let mut all = vec!["--server", &server];
        all.extend_from_slice(args);
        if args.first() == Some(&"search") && !args.contains(&"--since") {
            all.extend_from_slice(&["--since", SINCE]);
        }
        let (got, stdout, stderr) = logq(&all);
        assert_eq!(got, code, "logq {args:?}: {stderr}");
        String::from_utf8(stdout).expect("utf-8 output")
    }

    fn count(&self, args: &[&str]) -> u64 {
        let mut all = vec!["search", "--count"];
        all.extend_from_slice(args);
        let out = self.logq(&all, 0);
        out.trim().parse().expect("a count")
    }
}

#[test]
fn search_flags_give_the_answers_grep_gives() {
    let f = Fixture::start();
    let shop = |q: &str| f.count(&[q, "--app", "shop"]);

    // Words, phrases, boolean operators, prefixes, regexes and fields, counted like grep.
    assert_eq!(shop("AhrefsBot"), grep_count(&["-iw", "ahrefsbot"], SHOP));
    assert_eq!(
        shop("AhrefsBot OR Googlebot"),
        grep_count(&["-iwE", "ahrefsbot|googlebot"], SHOP)
    );
    assert_eq!(
        shop("Mozilla -Android"),
        grep_count(&["-iw", "mozilla"], SHOP)
            - grep_count(&["-iwE", "mozilla.*android|android.*mozilla"], SHOP)
    );
    assert_eq!(
        shop("NOT Mozilla"),
        200 - grep_count(&["-iw", "mozilla"], SHOP)
    );
    assert_eq!(
        shop(r#""HTTP/1.1\" 404""#),
        grep_count(&["-F", "HTTP/1.1\" 404 "], SHOP)
    );
    assert_eq!(
        shop("zanbi*"),
        grep_count(&["-iE", "(^|[^[:alnum:]])zanbi"], SHOP)
    );
    assert_eq!(
        shop("/HuaweiALE-L\\d+/"),
        grep_count(&["-E", "HuaweiALE-L[0-9]+"], SHOP)
    );
    assert_eq!(shop("/huaweiale/i"), grep_count(&["-i", "huaweiale"], SHOP));
    assert_eq!(shop("status:404"), grep_count(&["-F", "\" 404 "], SHOP));
    assert_eq!(shop("status:30*"), grep_count(&["-E", "\" 30[0-9] "], SHOP));
    assert_eq!(
        shop("method:get status:200"),
        grep_count(&["-E", "\"GET [^\"]*\" 200 "], SHOP)
    );

    // Apps by glob, hosts, levels.
    assert_eq!(f.count(&["*", "--app", "sho*"]), 200);
    assert_eq!(f.count(&["*", "--proc", "shop", "--app", "gunicorn"]), 225);
    assert_eq!(f.count(&["*", "--host", "e2e-host"]), 225);
    f.logq(&["search", "*", "--host", "elsewhere"], 1);
    assert_eq!(
        f.count(&["*", "--app", "gunicorn", "--level", "error"]),
        grep_count(&["-E", r"\[(ERROR|CRITICAL)\]"], GUNICORN)
    );
    assert_eq!(
        f.count(&["*", "--app", "gunicorn", "--level", "error..error"]),
        grep_count(&["-F", "[ERROR]"], GUNICORN)
    );
    assert_eq!(
        f.count(&["level:fatal", "--app", "gunicorn"]),
        grep_count(&["-F", "[CRITICAL]"], GUNICORN)
    );

    // Time ranges, in the gunicorn log's own times (the shop log's, from 2019, are older
    // than the collector believes and were replaced by the time they were read).
    assert_eq!(
        f.count(&[
            "*",
            "--app",
            "gunicorn",
            "--since",
            "2026-11-22T13:11:36Z",
            "--until",
            "@1795353101",
        ]),
        grep_count(&["-E", r"^\[2026-11-22 13:11:(3[6-9]|4[01]) "], GUNICORN)
    );
    // -n: the newest N, newest last, exactly as written.
    let raw = f.logq(&["search", "*", "--app", "shop", "-n", "3", "-o", "raw"], 0);
    let file = std::fs::read_to_string(data(SHOP)).expect("fixture");
    let last3: Vec<&str> = file.lines().skip(197).collect();
    assert_eq!(raw.lines().collect::<Vec<_>>(), last3);

    // -C: the lines around each hit, grouped and separated like grep -C.
    let ctx = f.logq(
        &[
            "search",
            "status:404",
            "--app",
            "shop",
            "-C",
            "1",
            "-o",
            "raw",
        ],
        0,
    );
    assert_eq!(ctx, grep_out(&["-C", "1", "-F", "\" 404 "], SHOP));
    let before = f.logq(
        &[
            "search",
            "status:404",
            "--app",
            "shop",
            "-B",
            "2",
            "-o",
            "raw",
        ],
        0,
    );
    assert_eq!(before, grep_out(&["-B", "2", "-F", "\" 404 "], SHOP));

    // Output formats.
    let json = f.logq(&["search", "status:404", "--app", "shop", "-o", "json"], 0);
    let hits: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a JSON array");
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h["fields"]["status"] == 404), "{json}");
    let jsonl = f.logq(
        &[
            "search",
            "status:404",
            "--app",
            "shop",
            "-o",
            "jsonl",
            "-C",
            "1",
        ],
        0,
    );
    assert_eq!(jsonl.lines().count(), 5);
    for line in jsonl.lines() {
        let hit: serde_json::Value = serde_json::from_str(line).expect("one object per line");
        assert_eq!(
            hit["context"]["before"].as_array().map(Vec::len),
            Some(1),
            "{line}"
        );
    }
    let text = f.logq(&["search", "*", "--app", "gunicorn", "--utc", "-n", "1"], 0);
    assert!(
        text.starts_with("2026-11-22T13:11:44.000Z gunicorn "),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour off a terminal");
    let coloured = f.logq(
        &["search", "status:404", "--app", "shop", "--color", "always"],
        0,
    );
    assert!(coloured.contains("\x1b["), "{coloured:?}");

    // The histogram: one bar per second over the gunicorn log's ten seconds.
    let histogram = f.logq(
        &[
            "search",
            "--app",
            "gunicorn",
            "--histogram",
            "--since",
            "2026-11-22T13:11:35Z",
            "--until",
            "2026-11-22T13:11:44Z",
            "--utc",
        ],
        0,
    );
    let bars: Vec<(&str, u64)> = histogram
        .lines()
        .filter(|l| l.starts_with("2026"))
        .map(|l| {
            let count = l.rsplit(' ').next().and_then(|c| c.parse().ok());
            (&l[..19], count.expect("a count ends each bar"))
        })
        .collect();
    assert_eq!(bars.len(), 10, "{histogram}");
    assert_eq!(bars[0], ("2026-11-22T13:11:35", 6), "{histogram}");
    assert_eq!(bars[6], ("2026-11-22T13:11:41", 5), "{histogram}");
    assert!(
        histogram.trim_end().ends_with("total 25, one bar per 1s"),
        "{histogram}"
    );

    // Nothing found: exit 1, nothing printed.
    assert_eq!(f.logq(&["search", "nosuchwordanywhere"], 1), "");
}

#[test]
fn malformed_queries_levels_and_times_exit_2_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let server = collector.url();
    for (args, says) in [
        (vec!["search", "a OR"], "query"),
        (vec!["search", "/(unclosed/"], "regular expression"),
        (vec!["search", "level:loud"], "level"),
        (
            vec!["search", "x", "--level", "loud"],
            "--level: unknown level",
        ),
        (
            vec!["search", "x", "--since", "1h", "--until", "2h"],
            "after until",
        ),
        (vec!["search", "x", "--until", "tomorrowish"], "--until"),
        (vec!["search", "*fix"], "regex"),
        (vec!["tail", "(a"], "query"),
    ] {
        let mut all = vec!["--server", &server];
        all.extend_from_slice(&args);
        let (code, stdout, stderr) = logq(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
        assert!(stderr.contains(says), "{args:?} says {says:?}: {stderr}");
    }
}

/// Numbered lines shipped while `logq tail` follows; the collector is killed (-9) and
/// restarted twice meanwhile. The tail prints every line once, in order.
#[test]
fn tail_survives_collector_restarts_with_no_gap_and_no_repeat() {
    const LINES: u64 = 3000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&tmp.path().join("data"));
    let log = tmp.path().join("app.log");
    std::fs::write(&log, "").expect("create log");
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "numbers");

    let mut tail = Command::new(bin("logq"))
        .args([
            "--server",
            &collector.url(),
            "tail",
            "--app",
            "numbers",
            "-o",
            "raw",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn logq tail");
    let stdout = tail.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let written = Arc::new(AtomicU64::new(0));
    let writer = numbered_writer(
        log.clone(),
        LINES,
        50,
        Duration::from_millis(20),
        false,
        written.clone(),
    );
    let mut seen: Vec<u64> = Vec::new();
    let mut restarts = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while seen.len() < LINES as usize && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(seq_of(&line).unwrap_or_else(|| panic!("not a numbered line: {line:?}")));
        }
        if restarts < 2 && seen.len() as u64 > (restarts + 1) * LINES / 3 {
            collector.kill9_and_restart();
            restarts += 1;
        }
    }
    writer.join().expect("writer");
    let _ = tail.kill();
    let _ = tail.wait();
    let _ = reader.join();
    assert_eq!(restarts, 2, "the collector was restarted mid-tail");
    let expected: Vec<u64> = (0..LINES).collect();
    assert_eq!(seen.len(), expected.len(), "every line once");
    assert_eq!(seen, expected, "in order, no gap, no repeat");
}

/// With segments sealed every second, context around a hit reaches into the neighbouring
/// segments.
#[test]
fn context_crosses_segment_boundaries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[storage]\nsegment_max_age_secs = 1\n"),
    );
    let log = tmp.path().join("app.log");
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "numbers");
    let written = Arc::new(AtomicU64::new(0));
    numbered_writer(log, 600, 100, Duration::from_millis(700), false, written)
        .join()
        .expect("writer");
    wait_until(Duration::from_secs(30), "all lines stored", || {
        collector.count("numbers") == 600
    });
    let segments = || -> u64 {
        let (_, body) = crate::util::api_get(&collector, "/api/v1/apps");
        let v: serde_json::Value = serde_json::from_str(&body).expect("apps json");
        v["apps"][0]["segments"].as_u64().unwrap_or(0)
    };
    wait_until(Duration::from_secs(30), "several sealed segments", || {
        segments() >= 4
    });
    let server = collector.url();
    // Lines 99/100, 199/200, ...: each chunk of 100 went out in its own batch, so segment
    // boundaries fall between chunks. Every hit's context is the 3 lines either side.
    for n in [99u64, 100, 299, 300, 500] {
        let (code, stdout, stderr) = logq(&[
            "--server",
            &server,
            "search",
            &format!("seq={n:06}"),
            "--app",
            "numbers",
            "-C",
            "3",
            "-o",
            "raw",
            "--since",
            "1h",
        ]);
        assert_eq!(code, 0, "{stderr}");
        let got: Vec<u64> = String::from_utf8_lossy(&stdout)
            .lines()
            .filter_map(seq_of)
            .collect();
        let want: Vec<u64> = (n.saturating_sub(3)..=n + 3).filter(|i| *i < 600).collect();
        assert_eq!(got, want, "context of line {n}");
    }
}
