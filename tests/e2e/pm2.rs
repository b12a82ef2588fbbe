//! `logq-shipper pm2` with a real pm2 (from npm): every process's output arrives under its
//! pm2 name, exactly as the app wrote it, through app restarts, a new app and a shipper
//! killed and restarted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use logq_schemas::StoredRecord;

use crate::util::{Collector, Shipper, bin, wait_until, wait_until_else};

/// Writes `COUNT` events, one every `PAUSE` ms: numbered lines with non-ASCII text to
/// stdout, and every tenth a stack trace (one write) to stderr. Each event is also appended
/// to `TRUTH/<pid>.jsonl` as what the app wrote, then the app idles.
const APP: &str = r#"
const fs = require('fs');
const [tag, truth, count, pause] = process.argv.slice(2);
const file = `${truth}/${process.pid}.jsonl`;
const inst = process.env.NODE_APP_INSTANCE || '0';
process.on('SIGINT', () => process.exit(0));
let n = 0;
function emit(stream, text) {
  (stream === 'stderr' ? process.stderr : process.stdout).write(text + '\n');
  fs.appendFileSync(file, JSON.stringify({stream, text}) + '\n');
}
function tick() {
  if (n >= +count) return;
  const seq = String(n).padStart(6, '0');
  if (n % 10 === 9) {
    emit('stderr', new Error(`boom seq=${seq} run=${process.pid} ${tag}`).stack);
  } else {
    emit('stdout', `seq=${seq} run=${process.pid} ${tag} inst=${inst} héllo ✓ ünïcode`);
  }
  n++;
  setTimeout(tick, +pause);
}
tick();
setInterval(() => {}, 1 << 30);
"#;

const EVENTS: u32 = 300;
const PAUSE_MS: u32 = 25;

/// A pm2 daemon with its own `PM2_HOME`, killed (`pm2 kill`, then its pid) on drop.
struct Pm2 {
    home: PathBuf,
}

impl Pm2 {
    fn run(&self, args: &[&str]) {
        let out = Command::new("pm2")
            .args(args)
            .env("PM2_HOME", &self.home)
            .stdin(Stdio::null())
            .output()
            .expect("run pm2 (installed by scripts/test)");
        assert!(
            out.status.success(),
            "pm2 {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pm2 start APP --name NAME EXTRA -- NAME TRUTH COUNT PAUSE`.
    fn start(&self, script: &Path, name: &str, extra: &[&str], truth: &Path) {
        std::fs::create_dir_all(truth.join(name)).expect("truth dir");
        let truth = truth.join(name).display().to_string();
        let (count, pause) = (EVENTS.to_string(), PAUSE_MS.to_string());
        let script = script.display().to_string();
        let mut args = vec!["start", &script, "--name", name];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", name, &truth, &count, &pause]);
        self.run(&args);
    }
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        let _ = Command::new("pm2")
            .arg("kill")
            .env("PM2_HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(pid) = std::fs::read_to_string(self.home.join("pm2.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

fn pm2_shipper(collector: &Collector, state: &Path, home: &Path) -> Shipper {
    let child = Command::new(bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(state)
        .args(["--host", "e2e-host"])
        .arg("pm2")
        .arg("--pm2-home")
        .arg(home)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn logq-shipper pm2");
    Shipper::from_child(child)
}

/// What the processes of `app` wrote: (pid, stream) → events in order.
fn truth(dir: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("truth dir").flatten() {
        let path = entry.path();
        let pid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("pid")
            .to_owned();
        let text = std::fs::read_to_string(&path).expect("truth");
        // An app may be writing its last line right now: only whole lines count.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let v: serde_json::Value = serde_json::from_str(line).expect("truth line");
            let stream = v["stream"].as_str().expect("stream").to_owned();
            let event = v["text"].as_str().expect("text").to_owned();
            out.entry((pid.clone(), stream)).or_default().push(event);
        }
    }
    out
}

/// Every record of `app`, oldest first.
fn records(collector: &Collector, app: &str) -> Vec<StoredRecord> {
    let (_, total) = collector.search(&[("q", "*"), ("app", app), ("limit", "1")]);
    let limit = (total + 10).to_string();
    let (mut hits, _) = collector.search(&[("q", "*"), ("app", app), ("limit", &limit)]);
    hits.sort_by_key(|h| h.id);
    hits
}

/// The stored text per (pid, stream): records in id order, grouped by the `run=PID` their
/// text carries, joined by newlines. Records group lines as the app and pm2 wrote them (a
/// stack trace is one record), so texts are compared joined, line for line.
fn stored(records: &[StoredRecord]) -> BTreeMap<(String, String), String> {
    let mut out: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for r in records {
        let msg = &r.record.message;
        let pid = msg
            .split_once("run=")
            .and_then(|(_, rest)| rest.split(' ').next())
            .unwrap_or("?")
            .to_owned();
        out.entry((pid, r.record.stream.clone()))
            .or_default()
            .push(msg);
    }
    out.into_iter().map(|(k, v)| (k, v.join("\n"))).collect()
}

fn expected(truth: &BTreeMap<(String, String), Vec<String>>) -> BTreeMap<(String, String), String> {
    truth
        .iter()
        .map(|(k, v)| (k.clone(), v.join("\n")))
        .collect()
}

/// Where the two differ, shortly.
fn difference(
    want: &BTreeMap<(String, String), String>,
    got: &BTreeMap<(String, String), String>,
) -> String {
    let mut out = Vec::new();
    for key in want.keys().chain(got.keys()) {
        let (w, g) = (want.get(key), got.get(key));
        if w != g {
            let (w, g) = (w.map_or("", String::as_str), g.map_or("", String::as_str));
            let at = w
                .bytes()
                .zip(g.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(w.len().min(g.len()));
            let from = at.saturating_sub(80);
            out.push(format!(
                "{key:?}: want {} bytes, got {}; from byte {from}: want {:?} got {:?}",
                w.len(),
                g.len(),
                w.get(from..(at + 120).min(w.len()))
                    .unwrap_or("(utf-8 boundary)"),
                g.get(from..(at + 120).min(g.len()))
                    .unwrap_or("(utf-8 boundary)"),
            ));
        }
    }
    out.dedup();
    out.join("\n")
}

#[test]
fn every_pm2_app_arrives_as_written_through_restarts_of_apps_and_shipper() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let script = tmp.path().join("app.js");
    std::fs::write(&script, APP).expect("app script");
    let truth_dir = tmp.path().join("truth");
    let pm2 = Pm2 {
        home: tmp.path().join("pm2home"),
    };
    pm2.start(&script, "osm-cluster", &["-i", "2"], &truth_dir);
    pm2.start(&script, "osm-time", &["--time"], &truth_dir);
    pm2.start(&script, "osm-json", &["--log-type", "json"], &truth_dir);

    let state = tmp.path().join("state");
    let mut shipper = pm2_shipper(&collector, &state, &pm2.home);
    wait_until(
        Duration::from_secs(30),
        "the first lines of every app",
        || {
            ["osm-cluster", "osm-time", "osm-json"]
                .iter()
                .all(|app| collector.count(app) > 0)
        },
    );
    // While the apps write: restart one, start a fourth.
    pm2.run(&["restart", "osm-time"]);
    pm2.start(&script, "osm-fourth", &[], &truth_dir);
    wait_until(
        Duration::from_secs(30),
        "the fourth app's first lines",
        || collector.count("osm-fourth") > 0,
    );
    // Kill the shipper while they still write; start it again once they wrote more.
    let written = || {
        truth(&truth_dir.join("osm-fourth"))
            .values()
            .map(Vec::len)
            .sum::<usize>()
    };
    shipper.kill9();
    let at_kill = written();
    wait_until(
        Duration::from_secs(10),
        "lines written while the shipper is down",
        || written() >= (at_kill + 30).min(EVENTS as usize),
    );
    eprintln!(
        "osm-fourth wrote {} events while the shipper was down",
        written() - at_kill
    );
    let mut shipper = pm2_shipper(&collector, &state, &pm2.home);

    let apps = ["osm-cluster", "osm-time", "osm-json", "osm-fourth"];
    let runs = |app: &str| match app {
        "osm-cluster" => 2,
        "osm-time" => 2,
        _ => 1,
    };
    for app in apps {
        let dir = truth_dir.join(app);
        // Every run wrote all its events (the first osm-time run was cut by the restart).
        wait_until(
            Duration::from_secs(60),
            &format!("{app} to finish writing"),
            || {
                let t = truth(&dir);
                let pids: HashMap<&String, usize> =
                    t.iter().fold(HashMap::new(), |mut m, ((pid, _), v)| {
                        *m.entry(pid).or_default() += v.len();
                        m
                    });
                pids.len() == runs(app)
                    && pids.values().filter(|n| **n == EVENTS as usize).count() >= 1
                    && (app != "osm-cluster" || pids.values().all(|n| *n == EVENTS as usize))
            },
        );
        let want = expected(&truth(&dir));
        wait_until_else(
            Duration::from_secs(60),
            || stored(&records(&collector, app)) == want,
            || {
                format!(
                    "{app}: stored text differs from what it wrote:\n{}",
                    difference(&want, &stored(&records(&collector, app)))
                )
            },
        );
    }

    // Named and described as pm2 has them.
    let cluster = records(&collector, "osm-cluster");
    let mut instances: Vec<(String, String)> = cluster
        .iter()
        .map(|r| {
            let f = &r.record.fields;
            (
                f.get("pm_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_owned(),
                f.get("instance")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_owned(),
            )
        })
        .collect();
    instances.sort();
    instances.dedup();
    assert_eq!(
        instances.len(),
        2,
        "two instances with pm_id and instance: {instances:?}"
    );
    assert!(instances.iter().any(|(_, i)| i == "0") && instances.iter().any(|(_, i)| i == "1"));
    for app in apps {
        let recs = records(&collector, app);
        assert!(recs.iter().all(|r| r.record.host == "e2e-host"));
        let stack = recs
            .iter()
            .find(|r| r.record.message.starts_with("Error: boom"))
            .unwrap_or_else(|| panic!("{app}: a stack trace"));
        assert_eq!(stack.record.stream, "stderr");
        assert!(
            stack.record.message.contains("\n    at "),
            "{app}: the stack is whole"
        );
    }
    // pm2's stamps and JSON chunks are gone from the text and their times kept.
    let now = jiff::Timestamp::now();
    for app in ["osm-time", "osm-json"] {
        for r in records(&collector, app) {
            assert!(
                !r.record.message.starts_with("{\"message\""),
                "{app}: {:?}",
                r.record.message
            );
            let age = now.duration_since(r.record.time);
            assert!(
                age.as_secs() >= 0 && age.as_secs() < 600,
                "{app}: time {}",
                r.record.time
            );
        }
    }
    // pm2's own log is there too.
    assert!(collector.count("pm2") > 0, "pm2's daemon log as app pm2");
    shipper.kill9();
}
