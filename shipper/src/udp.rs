//! `--udp`: fire-and-forget delivery. Lines are packed whole into JSON datagrams of at most
//! 64 KiB; nothing is acknowledged, so a stream's checkpoint (and what its source may let go
//! of) advances when its lines are sent.

use std::time::Duration;

use logq_schemas::udp::{MAX_DATAGRAM_BYTES, UdpBatch};
use logq_schemas::{Line, PROTOCOL_VERSION};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::source::{Placement, SeekHandle, SourceEvent};
use crate::state::{JobState, StreamCheckpoint};

/// Room left in a datagram for everything but the lines.
const ENVELOPE_BYTES: usize = 1024;

/// Sends every line of every source over UDP until shutdown, or until the sources end when
/// `until_sources_end` (as [`crate::ship::ShipConfig::until_sources_end`]).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    to: &str,
    token: Option<String>,
    host: String,
    tz: String,
    mut state: JobState,
    mut rx: mpsc::Receiver<SourceEvent>,
    shutdown: CancellationToken,
    until_sources_end: bool,
) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    socket.connect(to).await?;
    let mut streams: std::collections::HashMap<String, (logq_schemas::StreamInfo, SeekHandle)> =
        Default::default();
    let mut truncated_warned = false;
    let mut open_streams = 0usize;
    let mut last_save = std::time::Instant::now();
    loop {
        let ev = tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = rx.recv() => match ev { Some(ev) => ev, None => break },
        };
        match ev {
            SourceEvent::Register { info, seek } => {
                let start = state
                    .checkpoint
                    .streams
                    .get(&info.id)
                    .map_or(0, |c| c.position);
                seek.set_acked(start);
                seek.set(Placement::At {
                    generation: 1,
                    position: start,
                });
                open_streams += 1;
                streams.insert(info.id.clone(), (info, seek));
            }
            SourceEvent::Lines { stream, lines, .. } => {
                let Some((info, seek)) = streams.get(&stream) else {
                    continue;
                };
                let last_end = lines.last().map_or(0, |l| l.end);
                for datagram in pack(
                    lines,
                    MAX_DATAGRAM_BYTES - ENVELOPE_BYTES,
                    &mut truncated_warned,
                ) {
                    let batch = UdpBatch {
                        protocol: PROTOCOL_VERSION,
                        token: token.clone(),
                        host: host.clone(),
                        tz: tz.clone(),
                        app: info.app.clone(),
                        stream: info.stream.clone(),
                        format: info.format.clone(),
                        lines: datagram,
                    };
                    let bytes = serde_json::to_vec(&batch)?;
                    if let Err(e) = socket.send(&bytes).await {
                        tracing::warn!(error = %e, "udp send failed; datagram dropped");
                    }
                }
                seek.set_acked(last_end);
                let entry =
                    state
                        .checkpoint
                        .streams
                        .entry(stream)
                        .or_insert_with(|| StreamCheckpoint {
                            app: info.app.clone(),
                            ..Default::default()
                        });
                entry.position = entry.position.max(last_end);
                if last_save.elapsed() >= Duration::from_millis(250) {
                    state.save()?;
                    last_save = std::time::Instant::now();
                }
            }
            SourceEvent::Release { stream } => {
                if let Some((_, seek)) = streams.remove(&stream) {
                    seek.set(Placement::Stop);
                }
                state.checkpoint.streams.remove(&stream);
            }
            SourceEvent::End { .. } => {
                open_streams = open_streams.saturating_sub(1);
                if until_sources_end && open_streams == 0 {
                    break;
                }
            }
        }
    }
    for (_, seek) in streams.values() {
        seek.set(Placement::Stop);
    }
    state.save()?;
    Ok(())
}

/// Groups lines into datagrams whose JSON-escaped text stays under `budget` bytes. A line that
/// alone exceeds the budget is cut (whole lines only otherwise; never a fragment across
/// datagrams).
fn pack(lines: Vec<Line>, budget: usize, warned: &mut bool) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for line in lines {
        let mut text = line.text;
        let mut cost = escaped_len(&text) + 3;
        if cost > budget {
            if !*warned {
                tracing::warn!(
                    bytes = text.len(),
                    "a line too large for one datagram was cut (said once)"
                );
                *warned = true;
            }
            while escaped_len(&text) + 3 > budget {
                let mut keep = text.len() / 2;
                while !text.is_char_boundary(keep) {
                    keep -= 1;
                }
                text.truncate(keep);
            }
            cost = escaped_len(&text) + 3;
        }
        if size + cost > budget && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += cost;
        current.push(text);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn escaped_len(s: &str) -> usize {
    serde_json::to_string(s).map_or(s.len() * 6, |j| j.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line {
            time: None,
            end: 0,
            text: text.into(),
            split: false,
        }
    }

    #[test]
    fn packs_whole_lines_under_the_budget() {
        let lines = (0..100)
            .map(|i| line(&format!("line number {i:03}")))
            .collect();
        let mut warned = false;
        let packed = pack(lines, 200, &mut warned);
        assert!(packed.len() > 1);
        assert!(
            packed
                .iter()
                .all(|d| d.iter().map(|l| l.len() + 5).sum::<usize>() <= 200)
        );
        assert_eq!(packed.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(!warned);
    }

    #[test]
    fn an_oversized_line_is_cut_and_reported() {
        let mut warned = false;
        let packed = pack(vec![line(&"x".repeat(1000))], 100, &mut warned);
        assert_eq!(packed.len(), 1);
        assert!(packed[0][0].len() < 100);
        assert!(warned);
    }
}
