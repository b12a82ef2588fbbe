//! Tailing one file: wait for a fingerprint, register, read from wherever the core places it,
//! poll for appended bytes.
//!
//! The stream id is `file:` + the xxh3-64 of the file's first line (or first 256 bytes when no
//! newline comes sooner), so a file keeps its id across restarts and renames.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use logq_schemas::StreamInfo;
use tokio::sync::mpsc;
use xxhash_rust::xxh3::xxh3_64;

use super::{Placement, SeekHandle, SourceEvent};
use crate::lines::LineSplitter;

/// Bytes hashed at most for a fingerprint.
pub const FINGERPRINT_BYTES: usize = 256;
const READ_CHUNK: usize = 64 * 1024;
const POLL: Duration = Duration::from_millis(100);

/// What to tail.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    pub app: String,
    pub format: Option<String>,
    pub max_line_bytes: usize,
}

/// The fingerprint of a file's head, once it has a full first line or enough bytes.
pub fn fingerprint(head: &[u8]) -> Option<u64> {
    match head.iter().position(|b| *b == b'\n') {
        Some(nl) if nl < FINGERPRINT_BYTES => Some(xxh3_64(&head[..=nl])),
        _ if head.len() >= FINGERPRINT_BYTES => Some(xxh3_64(&head[..FINGERPRINT_BYTES])),
        _ => None,
    }
}

impl FileSource {
    /// Runs on the calling (dedicated) thread until the core stops it or the channel closes.
    pub fn run(self, tx: mpsc::Sender<SourceEvent>) {
        let seek = SeekHandle::default();
        let Some((mut file, id)) = self.wait_for_fingerprint(&seek, &tx) else {
            return;
        };
        let info = StreamInfo {
            id: id.clone(),
            app: self.app.clone(),
            stream: self.path.display().to_string(),
            format: self.format.clone(),
        };
        if tx
            .blocking_send(SourceEvent::Register {
                info,
                seek: Some(seek.clone()),
            })
            .is_err()
        {
            return;
        }
        let mut current: Option<(u64, LineSplitter)> = None;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut warned_shrink = false;
        loop {
            match seek.wait_unpaused(POLL) {
                Placement::Stop => return,
                Placement::Paused => {
                    current = None;
                    continue;
                }
                Placement::At {
                    generation,
                    position,
                } => {
                    if current.as_ref().is_none_or(|(g, _)| *g != generation) {
                        if let Err(e) = file.seek(SeekFrom::Start(position)) {
                            tracing::error!(path = %self.path.display(), error = %e, "cannot seek");
                            std::thread::sleep(POLL);
                            continue;
                        }
                        current =
                            Some((generation, LineSplitter::new(position, self.max_line_bytes)));
                    }
                }
            }
            let Some((generation, splitter)) = current.as_mut() else {
                continue;
            };
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "read failed; retrying");
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            if n == 0 {
                if !warned_shrink
                    && std::fs::metadata(&self.path).is_ok_and(|m| m.len() < splitter.position())
                {
                    tracing::warn!(path = %self.path.display(), "file shrank below the read position (truncated?); waiting for it to grow");
                    warned_shrink = true;
                }
                std::thread::sleep(POLL);
                continue;
            }
            let mut lines = Vec::new();
            splitter.push(&buf[..n], &mut lines);
            if !lines.is_empty() {
                let event = SourceEvent::Lines {
                    stream: id.clone(),
                    generation: *generation,
                    lines,
                };
                if tx.blocking_send(event).is_err() {
                    return;
                }
            }
        }
    }

    /// Opens the file and waits until it has a fingerprint; `None` when stopped.
    fn wait_for_fingerprint(
        &self,
        seek: &SeekHandle,
        tx: &mpsc::Sender<SourceEvent>,
    ) -> Option<(File, String)> {
        let mut warned = false;
        loop {
            if tx.is_closed() || seek.get() == Placement::Stop {
                return None;
            }
            match File::open(&self.path) {
                Ok(mut file) => {
                    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
                    if (&mut file)
                        .take(FINGERPRINT_BYTES as u64)
                        .read_to_end(&mut head)
                        .is_ok()
                        && let Some(fp) = fingerprint(&head)
                    {
                        return Some((file, format!("file:{fp:016x}")));
                    }
                }
                Err(e) if !warned => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot open yet; waiting for it");
                    warned = true;
                }
                Err(_) => {}
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_needs_a_line_or_enough_bytes() {
        assert_eq!(fingerprint(b"partial"), None);
        assert!(fingerprint(b"first line\nsecond").is_some());
        assert_eq!(
            fingerprint(b"first line\nsecond"),
            fingerprint(b"first line\nother")
        );
        assert!(fingerprint(&[b'x'; FINGERPRINT_BYTES]).is_some());
    }
}
