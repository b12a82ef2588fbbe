//! Reading stdin as a counter-positioned stream (`pipe:<app>`).

use std::io::Read;

use tokio::sync::mpsc;

use super::SourceEvent;
use crate::lines::LineSplitter;

const READ_CHUNK: usize = 64 * 1024;

/// Reads `input` until EOF, numbering bytes from `base`. Runs on a dedicated thread.
pub fn run(
    mut input: impl Read,
    stream: String,
    base: u64,
    max_line_bytes: usize,
    tx: mpsc::Sender<SourceEvent>,
) {
    let mut splitter = LineSplitter::new(base, max_line_bytes);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(error = %e, "reading stdin failed; treating it as closed");
                0
            }
        };
        let mut lines = Vec::new();
        if n == 0 {
            splitter.finish(&mut lines);
        } else {
            splitter.push(&buf[..n], &mut lines);
        }
        if !lines.is_empty()
            && tx
                .blocking_send(SourceEvent::Lines {
                    stream: stream.clone(),
                    generation: 0,
                    lines,
                })
                .is_err()
        {
            return;
        }
        if n == 0 {
            let _ = tx.blocking_send(SourceEvent::End { stream });
            return;
        }
    }
}
