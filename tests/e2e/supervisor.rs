//! `logq-shipper supervisor` under a real supervisord: program output arrives line by line
//! (through chunk boundaries, UTF-8 and invalid bytes), attributed to its program and
//! channel, and a kill -9 of the listener loses and doubles nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use logq_schemas::StoredRecord;

use crate::util::{Collector, bin, stored_numbers, wait_until, wait_until_else};

/// Numbered lines each program writes, one every 10 ms, across the listener's kill.
const NUMBERED: u64 = 500;
/// Lines of the burst (80 bytes each: 200 KiB written at once).
const BURST: usize = 2560;

/// stdout: UTF-8, invalid bytes with neighbours, a character cut across two writes, a
/// 200 KiB burst; one line on stderr; then numbered lines.
const TALKER: &str = r#"
import os, sys, time
out = sys.stdout.buffer
def w(b):
    out.write(b); out.flush()
n, burst = int(sys.argv[1]), int(sys.argv[2])
w(b"talker pid=%d\n" % os.getpid())
w("héllo ✓ from talker\n".encode())
w(b"before invalid\ninvalid utf8 follows: \xff\xfe\xfd end\nafter invalid\n")
w(b"split char: h\xc3"); time.sleep(0.3); w(b"\xa9llo\n")
w(b"".join(b"burst %05d %s\n" % (i, b"x" * 68) for i in range(burst)))
sys.stderr.write("talker stderr line\n"); sys.stderr.flush()
for i in range(n):
    w(b"seq=%06d talker\n" % i); time.sleep(0.01)
w(b"talker done\n")
"#;

/// stderr: a line written in two pieces, then numbered lines; one line on stdout.
const WORKER: &str = r#"
import os, sys, time
err = sys.stderr.buffer
def w(b):
    err.write(b); err.flush()
n = int(sys.argv[1])
w(b"worker pid=%d\n" % os.getpid())
sys.stdout.write("worker stdout line\n"); sys.stdout.flush()
w(b"worker partial start... "); time.sleep(0.3); w(b"finished\n")
for i in range(n):
    w(b"seq=%06d worker\n" % i); time.sleep(0.01)
w(b"worker done\n")
"#;

/// A supervisord started by the test (nodaemon), stopped by its pid when dropped, even on
/// a panic; its logs are printed then, to tell what went wrong.
struct Supervisord {
    child: Option<Child>,
    conf: PathBuf,
    dir: PathBuf,
}

impl Supervisord {
    fn start(dir: &Path, conf: &str) -> Supervisord {
        let path = dir.join("supervisord.conf");
        std::fs::write(&path, conf).expect("write supervisord.conf");
        let child = Command::new(tool("supervisord"))
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("supervisord.out")).expect("out file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn supervisord");
        Supervisord {
            child: Some(child),
            conf: path,
            dir: dir.to_owned(),
        }
    }

    /// `supervisorctl -c CONF ARGS`: its stdout.
    fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(tool("supervisorctl"))
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .expect("run supervisorctl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The pid of a running program or listener.
    fn pid(&self, name: &str) -> Option<u32> {
        self.ctl(&["pid", name]).parse().ok().filter(|p| *p > 0)
    }

    /// SIGTERM, then waits (bounded) for supervisord to stop its processes and exit.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- supervisord.log\n{}", self.log("supervisord.log"));
            eprintln!(
                "--- logq.err.log (the listener)\n{}",
                self.log("logq.err.log")
            );
        }
    }
}

/// A tool on PATH (scripts/test installs supervisor with pip when it is absent).
fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: `python3 -m pip install supervisor` (scripts/test does)")
    })
}

fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed");
    String::from_utf8(out.stdout)
        .expect("path")
        .trim()
        .to_owned()
}

/// Every record of `app`.
fn records(collector: &Collector, app: &str) -> Vec<StoredRecord> {
    let total = collector.count(app);
    let limit = (total + 10).to_string();
    collector
        .search(&[("q", "*"), ("app", app), ("limit", &limit)])
        .0
}

/// How often each message of `app` is stored, with one of its records.
fn by_message(records: &[StoredRecord]) -> HashMap<&str, (usize, &StoredRecord)> {
    let mut seen: HashMap<&str, (usize, &StoredRecord)> = HashMap::new();
    for r in records {
        seen.entry(r.record.message.as_str()).or_insert((0, r)).0 += 1;
    }
    seen
}

/// The stream fields of a record, as `(group, pid, channel)`.
fn fields(r: &StoredRecord) -> (String, String, String) {
    let get = |k: &str| {
        r.record
            .fields
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (get("group"), get("pid"), get("channel"))
}

fn program(name: &str, python: &str, script: &Path, args: &str) -> String {
    format!(
        "[program:{name}]\ncommand={python} -u {script} {args}\nautorestart=false\nstartsecs=0\n\
         stdout_logfile=NONE\nstderr_logfile=NONE\n\
         stdout_events_enabled=true\nstderr_events_enabled=true\n\n",
        script = script.display()
    )
}

#[test]
fn supervisor_listener_ships_every_program_line_once_through_a_kill_9() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let collector = Collector::start(&dir.join("data"));
    let python = python();
    let talker = dir.join("talker.py");
    let worker = dir.join("worker.py");
    std::fs::write(&talker, TALKER).expect("write talker.py");
    std::fs::write(&worker, WORKER).expect("write worker.py");
    let d = dir.display();
    let mut conf = format!(
        "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
         [supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
         childlogdir={d}\nidentifier=e2e\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n\
         [eventlistener:logq]\n\
         command={shipper} --to {to} --state-dir {d}/state --host e2e-host supervisor\n\
         events=PROCESS_LOG\nbuffer_size=10000\nautorestart=true\n\
         stderr_logfile={d}/logq.err.log\nenvironment=RUST_LOG=\"info\",NO_COLOR=\"1\"\n\n",
        shipper = bin("logq-shipper").display(),
        to = collector.tcp,
    );
    conf.push_str(&program(
        "talker",
        &python,
        &talker,
        &format!("{NUMBERED} {BURST}"),
    ));
    conf.push_str(&program("worker", &python, &worker, &NUMBERED.to_string()));
    let mut supervisord = Supervisord::start(dir, &conf);

    // Everything before the numbered lines, and some of them, arrived.
    let before_numbered = BURST as u64 + 7;
    wait_until(
        Duration::from_secs(30),
        "the talker's first numbered lines",
        || collector.count("talker") >= before_numbered + 60,
    );
    let listener = supervisord.pid("logq").expect("the listener runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(listener as i32).expect("pid"),
        rustix::process::Signal::KILL,
    )
    .expect("kill -9 the listener");
    wait_until(
        Duration::from_secs(20),
        "supervisord to start the listener again",
        || supervisord.pid("logq").is_some_and(|p| p != listener),
    );
    for app in ["talker", "worker"] {
        wait_until_else(
            Duration::from_secs(40),
            || stored_numbers(&collector, app).len() as u64 == NUMBERED,
            || {
                let stored = stored_numbers(&collector, app);
                let missing: Vec<u64> = (0..NUMBERED).filter(|n| !stored.contains_key(n)).collect();
                format!(
                    "{app}: {} numbered lines missing, e.g. {:?}",
                    missing.len(),
                    &missing[..missing.len().min(10)]
                )
            },
        );
    }
    // The programs' last lines are in too: nothing more is coming.
    wait_until(Duration::from_secs(20), "the programs' last lines", || {
        [("talker", "talker done"), ("worker", "worker done")]
            .iter()
            .all(|(app, done)| {
                records(&collector, app)
                    .iter()
                    .any(|r| r.record.message == *done)
            })
    });

    for app in ["talker", "worker"] {
        let stored = stored_numbers(&collector, app);
        let doubled: Vec<_> = stored.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            doubled.is_empty(),
            "{app}: numbered lines stored twice: {doubled:?}"
        );
    }

    let talker_records = records(&collector, "talker");
    let talker_msgs = by_message(&talker_records);
    let once = |msgs: &HashMap<&str, (usize, &StoredRecord)>, text: &str| -> StoredRecord {
        match msgs.get(text) {
            Some((1, r)) => (*r).clone(),
            Some((n, _)) => panic!("{text:?} stored {n} times"),
            None => panic!("{text:?} not stored"),
        }
    };
    let pid_line = talker_records
        .iter()
        .find_map(|r| r.record.message.strip_prefix("talker pid="))
        .expect("the talker's pid line")
        .to_owned();
    let hello = once(&talker_msgs, "héllo ✓ from talker");
    assert_eq!(
        (hello.record.app.as_str(), hello.record.stream.as_str()),
        ("talker", "stdout")
    );
    assert_eq!(hello.record.host, "e2e-host");
    assert_eq!(
        fields(&hello),
        ("talker".into(), pid_line.clone(), "stdout".into())
    );
    // Invalid bytes become U+FFFD; the rest of the line and its neighbours are intact.
    once(&talker_msgs, "before invalid");
    once(
        &talker_msgs,
        "invalid utf8 follows: \u{fffd}\u{fffd}\u{fffd} end",
    );
    once(&talker_msgs, "after invalid");
    // A character cut between two writes (each sent as `Undecodable: b'...'`) is whole.
    once(&talker_msgs, "split char: héllo");
    for i in 0..BURST {
        let line = format!("burst {i:05} {}", "x".repeat(68));
        let r = once(&talker_msgs, &line);
        assert_eq!(r.record.stream, "stdout");
    }
    let err = once(&talker_msgs, "talker stderr line");
    assert_eq!(err.record.stream, "stderr");
    assert_eq!(
        fields(&err),
        ("talker".into(), pid_line.clone(), "stderr".into())
    );
    for r in &talker_records {
        assert_eq!(
            fields(r).1,
            pid_line,
            "one talker process: {:?}",
            r.record.message
        );
    }
    let by_pid = format!("pid:{pid_line}");
    let (_, found) = collector.search(&[("q", &by_pid), ("app", "talker"), ("limit", "1")]);
    assert_eq!(
        found,
        talker_records.len() as u64,
        "the pid field is searchable"
    );

    let worker_records = records(&collector, "worker");
    let worker_msgs = by_message(&worker_records);
    let worker_pid = worker_records
        .iter()
        .find_map(|r| r.record.message.strip_prefix("worker pid="))
        .expect("the worker's pid line")
        .to_owned();
    assert_ne!(worker_pid, pid_line);
    let partial = once(&worker_msgs, "worker partial start... finished");
    assert_eq!(
        partial.record.stream, "stderr",
        "a line spanning two events"
    );
    assert_eq!(
        fields(&partial),
        ("worker".into(), worker_pid.clone(), "stderr".into())
    );
    let out = once(&worker_msgs, "worker stdout line");
    assert_eq!(out.record.stream, "stdout");
    assert_eq!(fields(&out), ("worker".into(), worker_pid, "stdout".into()));
    for r in &worker_records {
        if let Some(n) = crate::util::seq_of(&r.record.message) {
            assert_eq!(r.record.stream, "stderr", "worker line {n}");
        }
    }

    // supervisord stops the listener last (SIGTERM): it drains and exits 0.
    let status = supervisord.stop().expect("supervisord stops");
    assert!(status.success(), "supervisord exited with {status}");
    let log = supervisord.log("supervisord.log");
    assert!(log.contains("stopped: logq (exit status 0)"), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
