//! The shipper's state directory: one locked job directory per invocation, holding the
//! checkpoint (shipper id and each stream's acknowledged position).
//!
//! Checkpoint file format (v1): a first line `logq-shipper-checkpoint v1 <xxh3-64 hex of body>`,
//! then the JSON body. It is written atomically: temp file, fsync, rename, fsync of the dir.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use xxhash_rust::xxh3::xxh3_64;

const HEADER: &str = "logq-shipper-checkpoint v1";

/// State directory failures.
#[derive(Debug, Error)]
pub enum StateError {
    #[error("state dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state dir {0} is in use by another logq-shipper")]
    Locked(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the checkpoint knows of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    /// Acknowledged by the collector up to here.
    pub position: u64,
    /// For counters (pipes): positions up to here may have been used already; a new run
    /// starts above it.
    #[serde(default)]
    pub reserved: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub app: String,
}

/// The checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub shipper_id: String,
    pub streams: BTreeMap<String, StreamCheckpoint>,
}

/// A locked job directory.
#[derive(Debug)]
pub struct JobState {
    dir: PathBuf,
    _lock: File,
    pub checkpoint: Checkpoint,
}

impl JobState {
    /// Opens (creating) `<root>/<job>`, takes its lock and reads its checkpoint. A corrupt
    /// checkpoint is set aside as `checkpoint.corrupt` and a fresh one started.
    pub fn open(root: &Path, job: &str, host: &str) -> Result<JobState, StateError> {
        let dir = root.join(job);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.try_lock()
            .map_err(|_| StateError::Locked(dir.clone()))?;
        let path = dir.join("checkpoint");
        let checkpoint = match std::fs::read(&path) {
            Ok(bytes) => match decode(&bytes) {
                Some(c) => c,
                None => {
                    let aside = dir.join("checkpoint.corrupt");
                    tracing::warn!(path = %path.display(), "checkpoint is corrupt; set aside, starting afresh (the collector's positions still apply)");
                    std::fs::rename(&path, &aside).map_err(io_err(&path))?;
                    fresh(host)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh(host),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let state = JobState {
            dir,
            _lock: lock,
            checkpoint,
        };
        state.save()?;
        Ok(state)
    }

    /// The job directory (spools live under it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self) -> Result<(), StateError> {
        let path = self.dir.join("checkpoint");
        let tmp = self.dir.join("checkpoint.tmp");
        let bytes = encode(&self.checkpoint);
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }
}

fn fresh(host: &str) -> Checkpoint {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{now}/{}/{host}", std::process::id());
    Checkpoint {
        shipper_id: format!("{:016x}", xxh3_64(seed.as_bytes())),
        streams: BTreeMap::new(),
    }
}

fn encode(c: &Checkpoint) -> Vec<u8> {
    let body = serde_json::to_vec_pretty(c).expect("checkpoints serialize");
    let mut out = format!("{HEADER} {:016x}\n", xxh3_64(&body)).into_bytes();
    out.extend_from_slice(&body);
    out
}

fn decode(bytes: &[u8]) -> Option<Checkpoint> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..nl]).ok()?;
    let sum = header.strip_prefix(HEADER)?.trim();
    let body = &bytes[nl + 1..];
    if u64::from_str_radix(sum, 16).ok()? != xxh3_64(body) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_roundtrips_and_keeps_the_shipper_id() {
        let root = tempfile::tempdir().expect("tempdir");
        let id;
        {
            let mut s = JobState::open(root.path(), "tail-web", "h").expect("open");
            id = s.checkpoint.shipper_id.clone();
            s.checkpoint.streams.insert(
                "file:1".into(),
                StreamCheckpoint {
                    position: 42,
                    app: "web".into(),
                    ..Default::default()
                },
            );
            s.save().expect("save");
        }
        let s = JobState::open(root.path(), "tail-web", "h").expect("reopen");
        assert_eq!(s.checkpoint.shipper_id, id);
        assert_eq!(s.checkpoint.streams["file:1"].position, 42);
    }

    #[test]
    fn a_second_shipper_on_the_same_job_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let _first = JobState::open(root.path(), "pipe-x", "h").expect("open");
        let err = JobState::open(root.path(), "pipe-x", "h").expect_err("locked");
        assert!(
            err.to_string().contains("in use by another logq-shipper"),
            "{err}"
        );
        JobState::open(root.path(), "pipe-y", "h").expect("another job is fine");
    }

    #[test]
    fn corrupt_checkpoint_is_set_aside() {
        let root = tempfile::tempdir().expect("tempdir");
        let id = JobState::open(root.path(), "j", "h")
            .expect("open")
            .checkpoint
            .shipper_id;
        let path = root.path().join("j/checkpoint");
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        let s = JobState::open(root.path(), "j", "h").expect("reopen");
        assert!(root.path().join("j/checkpoint.corrupt").exists());
        assert!(s.checkpoint.streams.is_empty());
        assert_ne!(s.checkpoint.shipper_id, "");
        let _ = id;
    }
}
