//! `pm2`: every pm2 process's stdout and stderr, under the name pm2 gives it.
//!
//! The lines come from the files pm2 writes, followed by the tailer like any file (through
//! restarts of the shipper, pm2-logrotate's copytruncate and deletion), because a file is a
//! buffer that survives the shipper being down; pm2's bus (`log:out` events) is not, and
//! carries no position to resume from. Which files, and how pm2 wrapped their lines
//! (`--time`, `--log-type json`), come from pm2's own process metadata: `pm2 jlist`, read
//! again whenever `$PM2_HOME/pids` changes (a process started, restarted, stopped, renamed or
//! deleted) and every [`RELIST`]. Only the fields named in [`Env`] are read from it: the
//! environment pm2 dumps beside them is never kept, logged or shipped.
//!
//! pm2's daemon log (`$PM2_HOME/pm2.log`: restarts, crashes, exits) is shipped as app `pm2`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use logq_schemas::app_name_from;
use serde::Deserialize;

use crate::source::shape::Shape;
use crate::source::target::{Target, Targets};

/// How often the processes are listed again without a change under `pids/`.
pub const RELIST: Duration = Duration::from_secs(30);
/// Changes under `pids/` come in bursts (a restart removes and writes pid files): list once
/// they settle.
const SETTLE: Duration = Duration::from_millis(300);
/// `pm2 jlist` that takes longer than this is given up on until the next try.
const JLIST_TIMEOUT: Duration = Duration::from_secs(30);
/// pm2's `--time` stamp format, the only one whose stamp the shipper takes off the lines.
const TIME_FORMAT: &str = "YYYY-MM-DDTHH:mm:ss";

/// Where pm2 is.
#[derive(Debug, Clone)]
pub struct Pm2 {
    /// The `pm2` command.
    pub bin: PathBuf,
    /// `PM2_HOME`.
    pub home: PathBuf,
    /// Targets followed beside pm2's (a config file's `[[tail]]` entries): the one tailer of
    /// the process follows both, so they are set together.
    pub also: Vec<Target>,
}

/// A process as `pm2 jlist` describes it (only what is used).
#[derive(Debug, Deserialize)]
pub struct Process {
    pub name: String,
    pub pm_id: u64,
    #[serde(default)]
    pub pm2_env: Env,
}

/// The fields of `pm2_env` read; the rest of it (the process environment) is skipped unread.
#[derive(Debug, Default, Deserialize)]
pub struct Env {
    #[serde(default)]
    pub pm_out_log_path: Option<String>,
    #[serde(default)]
    pub pm_err_log_path: Option<String>,
    #[serde(default)]
    pub log_date_format: Option<String>,
    #[serde(default)]
    pub log_type: Option<String>,
    #[serde(default)]
    pub exec_mode: Option<String>,
    #[serde(default, rename = "NODE_APP_INSTANCE")]
    pub instance: Option<serde_json::Value>,
}

/// Why there is no process list.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// No pm2 daemon runs for this `PM2_HOME` (listing would start one).
    #[error("no pm2 daemon is running for PM2_HOME={0}")]
    NotRunning(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Pm2 {
    /// The processes pm2 manages now.
    pub fn list(&self) -> Result<Vec<Process>, ListError> {
        if !self.daemon_alive() {
            return Err(ListError::NotRunning(self.home.display().to_string()));
        }
        let mut child = Command::new(&self.bin)
            .arg("jlist")
            .env("PM2_HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run `{} jlist` (is pm2 installed? see --pm2-bin)",
                    self.bin.display()
                )
            })?;
        let stdout = child.stdout.take().context("no stdout from pm2 jlist")?;
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            let read = std::io::Read::read_to_string(&mut { stdout }, &mut out);
            let _ = tx.send(read.map(|_| out));
        });
        let out = match rx.recv_timeout(JLIST_TIMEOUT) {
            Ok(read) => read.context("cannot read pm2 jlist's output")?,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(
                    anyhow::anyhow!("pm2 jlist gave no answer within {JLIST_TIMEOUT:?}").into(),
                );
            }
        };
        let status = child.wait().context("pm2 jlist")?;
        if !status.success() {
            return Err(anyhow::anyhow!("pm2 jlist failed: {status}").into());
        }
        Ok(parse_jlist(&out)?)
    }

    /// Whether the daemon of `PM2_HOME` runs (from its pid file).
    fn daemon_alive(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.home.join("pm2.pid")) else {
            return false;
        };
        let Some(pid) = text
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        rustix::process::test_kill_process(pid).is_ok()
    }

    /// The targets for `processes`, with pm2's daemon log and the targets `also` followed.
    pub fn targets(&self, processes: &[Process]) -> Vec<Target> {
        let mut targets = self.also.clone();
        targets.extend(targets_of(processes));
        targets.push(Target {
            pattern: self.home.join("pm2.log").display().to_string(),
            app: "pm2".to_owned(),
            stream: None,
            format: Some("pm2".to_owned()),
            fields: BTreeMap::new(),
            shape: Shape::Lines,
        });
        targets
    }

    /// Keeps `targets` up to date with pm2's processes, for as long as the shipper runs.
    pub fn follow(self, targets: Targets) {
        let (wake_tx, wake_rx) = std_mpsc::channel();
        let _watcher = watch_pids(&self.home, wake_tx);
        let mut last_error = String::new();
        loop {
            match self.list() {
                Ok(processes) => {
                    last_error.clear();
                    targets.set(self.targets(&processes));
                }
                Err(e) => {
                    let e = e.to_string();
                    if e != last_error {
                        tracing::warn!(error = %e, "cannot list pm2's processes; keeping the files already followed");
                        last_error = e;
                    }
                }
            }
            if wake_rx.recv_timeout(RELIST).is_ok() {
                // Let the burst settle, then take it in one listing.
                while wake_rx.recv_timeout(SETTLE).is_ok() {}
            }
        }
    }
}

/// Parses `pm2 jlist`'s output: a JSON array, perhaps after lines pm2 printed first.
pub fn parse_jlist(out: &str) -> anyhow::Result<Vec<Process>> {
    // pm2 may print `[PM2] ...` lines first: the list is the first line that reads as one.
    let mut error = None;
    let starts = out
        .match_indices('[')
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || out.as_bytes()[i - 1] == b'\n');
    for start in starts {
        let mut values =
            serde_json::Deserializer::from_str(&out[start..]).into_iter::<Vec<Process>>();
        match values.next() {
            Some(Ok(processes)) => return Ok(processes),
            Some(Err(e)) if out[start + 1..].trim_start().starts_with(['{', ']']) => {
                error.get_or_insert(e);
            }
            _ => {}
        }
    }
    match error {
        Some(e) => bail!("pm2 jlist printed a process list logq cannot read: {e}"),
        None => bail!("pm2 jlist printed no process list"),
    }
}

/// One target per log file of the processes. A file that several processes share (cluster
/// mode with `--merge-logs`) carries no `pm_id`, since its lines may be any of theirs.
pub fn targets_of(processes: &[Process]) -> Vec<Target> {
    let mut by_path: BTreeMap<&str, Vec<(&Process, &str)>> = BTreeMap::new();
    for p in processes {
        let files = [
            (p.pm2_env.pm_out_log_path.as_deref(), "stdout"),
            (p.pm2_env.pm_err_log_path.as_deref(), "stderr"),
        ];
        for (path, stream) in files {
            if let Some(path) = path.filter(|p| is_log_file(p)) {
                by_path.entry(path).or_default().push((p, stream));
            }
        }
    }
    by_path
        .into_iter()
        .map(|(path, users)| {
            let (p, stream) = users[0];
            let env = &p.pm2_env;
            let shape = if env.log_type.as_deref() == Some("json") {
                Shape::Pm2Json
            } else if env.log_date_format.as_deref() == Some(TIME_FORMAT) {
                Shape::Pm2Time
            } else {
                Shape::Lines
            };
            let mut fields = BTreeMap::new();
            if users.len() == 1 {
                fields.insert("pm_id".to_owned(), p.pm_id.to_string());
                if env.exec_mode.as_deref() == Some("cluster_mode")
                    && let Some(instance) = &env.instance
                {
                    let instance = match instance {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    fields.insert("instance".to_owned(), instance);
                }
            }
            Target {
                pattern: path.to_owned(),
                app: app_name_from(&p.name),
                stream: Some(stream.to_owned()),
                format: None,
                fields,
                shape,
            }
        })
        .collect()
}

/// pm2 may be told to write to `/dev/null` (no log) or a device: nothing to follow there.
fn is_log_file(path: &str) -> bool {
    !path.is_empty() && !path.starts_with("/dev/")
}

/// Watches `$PM2_HOME/pids` (or `$PM2_HOME` until it exists) for processes coming and going.
fn watch_pids(home: &Path, tx: std_mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "file notifications unavailable; listing pm2's processes every {RELIST:?} only"))
    .ok()?;
    let pids = home.join("pids");
    let dir = if pids.is_dir() { pids } else { home.to_owned() };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch; listing pm2's processes every {RELIST:?} only");
    }
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JLIST: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/formats/pm2/pm2_jlist.redacted.json"
    );

    fn sample() -> Vec<Process> {
        let text = std::fs::read_to_string(JLIST).expect("jlist sample");
        parse_jlist(&text).expect("parses")
    }

    fn target<'a>(targets: &'a [Target], file: &str) -> &'a Target {
        targets
            .iter()
            .find(|t| t.pattern.ends_with(file))
            .unwrap_or_else(|| panic!("no target for {file}"))
    }

    #[test]
    fn every_process_file_becomes_a_target_named_as_pm2_names_it() {
        let targets = targets_of(&sample());
        let app = target(&targets, "/osm-app-out.log");
        assert_eq!(app.app, "osm-app");
        assert_eq!(app.stream.as_deref(), Some("stdout"));
        assert_eq!(app.shape, Shape::Lines);
        assert_eq!(app.fields.get("pm_id").map(String::as_str), Some("0"));
        assert!(!app.fields.contains_key("instance"), "fork mode");
        let err = target(&targets, "/osm-app-error.log");
        assert_eq!(err.stream.as_deref(), Some("stderr"));
        assert_eq!(
            target(&targets, "/osm-app-time-out.log").shape,
            Shape::Pm2Time
        );
        assert_eq!(
            target(&targets, "/osm-app-json-out.log").shape,
            Shape::Pm2Json
        );
        assert_eq!(
            target(&targets, "/osm-app-jsontime-out.log").shape,
            Shape::Pm2Json
        );
    }

    #[test]
    fn cluster_instances_carry_their_ids_unless_their_logs_are_merged() {
        let targets = targets_of(&sample());
        let second = target(&targets, "/osm-cluster-out-5.log");
        assert_eq!(second.app, "osm-cluster");
        assert_eq!(second.fields.get("pm_id").map(String::as_str), Some("5"));
        assert_eq!(second.fields.get("instance").map(String::as_str), Some("1"));
        let merged = target(&targets, "/osm-cluster-merged-out.log");
        assert!(merged.fields.is_empty(), "{:?}", merged.fields);
        assert_eq!(
            targets
                .iter()
                .filter(|t| t.pattern.ends_with("/osm-cluster-merged-out.log"))
                .count(),
            1
        );
    }

    #[test]
    fn output_before_the_list_and_devices_are_skipped() {
        let out = "[PM2] Spawning PM2 daemon with pm2_home=/x\n[PM2] PM2 Successfully daemonized\n[{\"name\":\"a b\",\"pm_id\":3,\"pm2_env\":{\"pm_out_log_path\":\"/dev/null\",\"pm_err_log_path\":\"/l/a-error.log\",\"SECRET\":\"x\"}}]\n";
        let processes = parse_jlist(out).expect("parses");
        let targets = targets_of(&processes);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].app, "a_b");
        assert_eq!(targets[0].pattern, "/l/a-error.log");
    }

    #[test]
    fn output_without_a_list_is_a_clear_error() {
        let e = parse_jlist("something went wrong\n").expect_err("no list");
        assert!(e.to_string().contains("no process list"), "{e}");
        let e = parse_jlist("[{\"name\":1}]").expect_err("bad list");
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn a_config_files_tail_targets_are_followed_beside_pm2s() {
        let also = Target::tail("/var/log/nginx/*.log", "nginx", None);
        let pm2 = Pm2 {
            bin: "pm2".into(),
            home: "/home/deploy/.pm2".into(),
            also: vec![also.clone()],
        };
        let targets = pm2.targets(&[]);
        assert_eq!(
            targets.first(),
            Some(&also),
            "the file's targets come first"
        );
        assert_eq!(
            targets.last().map(|t| (t.app.as_str(), t.pattern.as_str())),
            Some(("pm2", "/home/deploy/.pm2/pm2.log"))
        );
    }

    #[test]
    fn a_home_without_a_daemon_is_not_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pm2 = Pm2 {
            bin: "/nonexistent/pm2".into(),
            home: dir.path().to_owned(),
            also: Vec::new(),
        };
        assert!(matches!(pm2.list(), Err(ListError::NotRunning(_))));
    }
}
