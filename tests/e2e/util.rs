//! Shared helpers for the end-to-end tests: the built binaries, a collector on free loopback
//! ports with a temp data dir, shippers, HTTP queries, and bounded waiting.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logq_schemas::StoredRecord;

/// Path of a workspace binary (`cargo build --workspace` puts them beside the test's deps dir).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// The directory of committed fixtures.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; panics with `what` on timeout.
pub fn wait_until(limit: Duration, what: &str, cond: impl FnMut() -> bool) {
    wait_until_else(limit, cond, || {
        format!("timed out after {limit:?} waiting for {what}")
    });
}

/// Like [`wait_until`], but on timeout panics with what `explain` says (what is missing).
pub fn wait_until_else(
    limit: Duration,
    mut cond: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            panic!("{}", explain());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A collector process on loopback ports with its own data dir.
pub struct Collector {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub tcp: SocketAddr,
    pub udp: SocketAddr,
    /// A config file passed with --config.
    pub config: Option<PathBuf>,
    child: Option<Child>,
}

impl Collector {
    /// Starts a collector on free ports in `data_dir`.
    pub fn start(data_dir: &Path) -> Collector {
        Collector::start_with(data_dir, None)
    }

    /// Starts a collector in `data_dir` with `config` (TOML) as its config file.
    pub fn start_with(data_dir: &Path, config: Option<&str>) -> Collector {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        // The default free-disk floor (10% or 2 GiB) would make every test depend on how
        // full this machine's disk is; tests of the floor set their own.
        let mut text = config.unwrap_or_default().to_owned();
        if !text.contains("[retention]") {
            text.push_str("\n[retention]\nmin_free_bytes = 0\nmin_free_percent = 0\n");
        }
        let path = data_dir.with_extension("toml");
        std::fs::write(&path, text).expect("write collector config");
        let config = Some(path);
        let mut c = Collector {
            data_dir: data_dir.to_owned(),
            http: any,
            tcp: any,
            udp: any,
            config,
            child: None,
        };
        c.spawn();
        c
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(bin("logq-collector"));
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        let mut child = cmd
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--http-addr", &self.http.to_string()])
            .args(["--tcp-addr", &self.tcp.to_string()])
            .args(["--udp-addr", &self.udp.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn logq-collector");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read collector stdout");
        let addr = |key: &str| -> SocketAddr {
            let field = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_else(|| panic!("collector did not announce {key} (said {line:?})"));
            field.parse().expect("announced address")
        };
        self.http = addr("http=");
        self.tcp = addr("tcp=");
        self.udp = addr("udp=");
        self.child = Some(child);
    }

    /// kill -9, then start again on the same ports and data dir.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Starts a stopped collector again on the same ports and data dir.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the collector is running");
        self.spawn();
    }

    /// kill -9 (SIGKILL) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill collector");
            child.wait().expect("reap collector");
        }
    }

    /// SIGTERM; returns how the collector exited and how long it took (None: still running
    /// after `limit`, then killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let mut child = self.child.take()?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(exit) = child.try_wait().expect("try_wait") {
                return Some((exit, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("kill collector");
        child.wait().expect("reap collector");
        None
    }

    /// The running collector's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the collector is running").id()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// `GET /api/v1/search` with these parameters; returns (hits newest first, total).
    pub fn search(&self, params: &[(&str, &str)]) -> (Vec<StoredRecord>, u64) {
        let mut req = ureq::get(format!("{}/api/v1/search", self.url()));
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        let mut resp = req.call().expect("search request");
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .expect("search body");
        let v: serde_json::Value = serde_json::from_str(&body).expect("search json");
        let hits = serde_json::from_value(v["hits"].clone()).expect("hits");
        (hits, v["total"].as_u64().expect("total"))
    }

    /// How many records of `app` are stored.
    pub fn count(&self, app: &str) -> u64 {
        self.search(&[("q", "*"), ("app", app), ("limit", "1")]).1
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A shipper process, killed on drop.
pub struct Shipper {
    child: Option<Child>,
}

impl Shipper {
    /// `logq-shipper --to TCP --state-dir STATE tail PATH --app APP`.
    pub fn tail(collector: &Collector, state: &Path, path: &Path, app: &str) -> Shipper {
        Shipper::tail_with(
            collector,
            state,
            &[path.to_str().expect("utf-8 path")],
            app,
            &[],
        )
    }

    /// `logq-shipper --to TCP --state-dir STATE tail PATTERNS... --app APP EXTRA...`.
    pub fn tail_with(
        collector: &Collector,
        state: &Path,
        patterns: &[&str],
        app: &str,
        extra: &[&str],
    ) -> Shipper {
        let child = Command::new(bin("logq-shipper"))
            .args(["--to", &collector.tcp.to_string()])
            .arg("--state-dir")
            .arg(state)
            .args(["--host", "e2e-host"])
            .arg("tail")
            .args(patterns)
            .args(["--app", app])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn logq-shipper");
        Shipper { child: Some(child) }
    }

    /// Takes charge of a shipper started otherwise (killed on drop, even when a test fails).
    pub fn from_child(child: Child) -> Shipper {
        Shipper { child: Some(child) }
    }

    /// kill -9 (SIGKILL) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill shipper");
            child.wait().expect("reap shipper");
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `GET` of an API path; returns (status, body).
pub fn api_get(collector: &Collector, path: &str) -> (u16, String) {
    let mut resp = ureq::get(format!("{}{path}", collector.url()))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .expect("api request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().expect("api body"))
}

/// How often each number of `seq=NNNNNN` lines of `app` is stored.
pub fn stored_numbers(collector: &Collector, app: &str) -> HashMap<u64, u32> {
    let (_, total) = collector.search(&[("q", "*"), ("app", app), ("limit", "1")]);
    let limit = (total + 10).to_string();
    let (hits, _) = collector.search(&[("q", "*"), ("app", app), ("limit", &limit)]);
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for hit in &hits {
        if let Some(n) = seq_of(&hit.record.message) {
            *seen.entry(n).or_default() += 1;
        }
    }
    seen
}

/// `count` lines of a runaway app (numbered from `*next` with `width` digits, an
/// incompressible-ish payload so that segments are not tiny), advancing `next` and the xorshift
/// `state`.
pub fn runaway_chunk(state: &mut u64, next: &mut u64, count: usize, width: usize) -> String {
    let mut chunk = String::new();
    for _ in 0..count {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let x = *state;
        chunk.push_str(&format!(
            "seq={:0width$} runaway job {x:016x} {:016x} {:016x} retrying\n",
            *next,
            x.rotate_left(17),
            x.wrapping_mul(31)
        ));
        *next += 1;
    }
    chunk
}

/// The number in a `seq=NNNNNN` line.
pub fn seq_of(line: &str) -> Option<u64> {
    let at = line.find("seq=")? + 4;
    line.get(at..at + 6)?.parse().ok()
}

/// Appends `lines` numbered lines (`seq=NNNNNN ...`) to `path`, `per_chunk` at a time with
/// `pause` between chunks. With `reopen`, it reopens `path` when the file there changes (as
/// a logger does after logrotate's `create`). Counts what it wrote in `written`.
pub fn numbered_writer(
    path: PathBuf,
    lines: u64,
    per_chunk: u64,
    pause: Duration,
    reopen: bool,
    written: Arc<AtomicU64>,
) -> JoinHandle<()> {
    use std::os::unix::fs::MetadataExt;
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open log for appending")
    };
    std::thread::spawn(move || {
        let mut file = open(&path);
        let mut n = 0;
        while n < lines {
            if reopen {
                // Reopen once logrotate has created the new file, as an app told to reopen
                // does. Creating it ourselves between logrotate's rename and its create made
                // logrotate move our new file aside to `*.backup`, a name no tailer follows.
                let ino = file.metadata().expect("fstat").ino();
                if std::fs::metadata(&path).is_ok_and(|m| m.ino() != ino) {
                    file = open(&path);
                }
            }
            let mut chunk = String::new();
            for _ in 0..per_chunk.min(lines - n) {
                chunk.push_str(&format!("seq={n:06} payload lorem ipsum dolor sit amet\n"));
                n += 1;
            }
            file.write_all(chunk.as_bytes()).expect("append");
            written.store(n, Ordering::SeqCst);
            std::thread::sleep(pause);
        }
    })
}

/// Runs `logq` with `args`; returns (exit code, stdout, stderr).
pub fn logq(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(bin("logq"))
        .args(args)
        .env_remove("LOGQ_SERVER")
        .env_remove("LOGQ_TOKEN")
        .env("NO_COLOR", "1")
        .output()
        .expect("run logq");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ships `lines` numbered lines (`seq=NNNNNN`, from `first`) for `app` through
/// `logq-shipper pipe` and waits for it to deliver them.
pub fn pipe_lines(tcp: SocketAddr, state: &Path, app: &str, first: u64, lines: u64) {
    let mut child = Command::new(bin("logq-shipper"))
        .args(["--to", &tcp.to_string()])
        .arg("--state-dir")
        .arg(state)
        .args(["pipe", "--app", app])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn shipper");
    let text: String = (first..first + lines)
        .map(|n| format!("seq={n:06} {app} payload lorem ipsum dolor sit amet\n"))
        .collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success(), "{app} shipped");
}

/// A tmpfs of `mib` MiB mounted at `path` (we are root on these machines), unmounted on drop,
/// also when the test fails.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(path: &Path, mib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .status()
            .map_err(|e| format!("run mount: {e}"))?;
        if !status.success() {
            return Err("mounting a tmpfs needs root".into());
        }
        Ok(Tmpfs(path.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes of every file under `dir`.
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
