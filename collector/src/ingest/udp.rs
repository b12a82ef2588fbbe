//! UDP ingest: each datagram is one JSON [`UdpBatch`] of whole lines; nothing is acknowledged.
//!
//! A datagram that does not decode, names an invalid app or carries a wrong token is dropped
//! and counted; it never affects other datagrams. Lines are numbered by the collector per
//! (host, app, stream), so the WAL stores each datagram's lines in arrival order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use logq_schemas::udp::{MAX_DATAGRAM_BYTES, UdpBatch};
use logq_schemas::{PROTOCOL_VERSION, validate_app_name};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::IngestContext;
use crate::auth::Tokens;
use crate::limits::Limit;
use crate::metrics::{DropReason, Transport};
use crate::wal::{Append, StreamMeta};

/// Counters of the UDP listener.
#[derive(Debug, Default)]
pub struct UdpStats {
    pub datagrams: AtomicU64,
    pub lines: AtomicU64,
    pub dropped_datagrams: AtomicU64,
}

/// Receives datagrams until `shutdown` fires.
pub async fn serve(
    socket: UdpSocket,
    ctx: IngestContext,
    stats: Arc<UdpStats>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    let mut next_pos: HashMap<String, u64> = HashMap::new();
    let mut warned = false;
    loop {
        let (len, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            got = socket.recv_from(&mut buf) => match got {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        let batch = match decode(&buf[..len], &ctx.tokens.get()) {
            Ok(batch) => batch,
            Err(reason) => {
                stats.dropped_datagrams.fetch_add(1, Ordering::Relaxed);
                ctx.metrics.dropped(None, DropReason::UdpDecode, 1);
                if !warned {
                    tracing::warn!(%peer, %reason, "dropped a udp datagram (said once; see metrics)");
                    warned = true;
                }
                continue;
            }
        };
        let bytes = batch.lines.iter().map(|l| l.len() as u64).sum();
        let count = batch.lines.len() as u64;
        ctx.metrics
            .received(&batch.app, Transport::Udp, count, bytes);
        if !ctx.limits.admit(&batch.app, bytes) {
            ctx.metrics
                .dropped(Some(&batch.app), DropReason::RateLimit, count);
            let app = &batch.app;
            ctx.metrics.limit_hit(
                Limit::AppRate,
                format_args!("app {app:?}: udp datagrams over the rate are dropped"),
            );
            continue;
        }
        let key = format!("udp:{}/{}/{}", batch.host, batch.app, batch.stream);
        let pos = next_pos
            .entry(key.clone())
            .or_insert_with(|| ctx.wal.position(&key).unwrap_or(0));
        let max = super::max_line_bytes(&ctx, &batch.app, &batch.lines);
        let lines = super::number_lines(&batch.lines, pos, max);
        stats.lines.fetch_add(lines.len() as u64, Ordering::Relaxed);
        let now = Timestamp::now();
        let meta = Arc::new(StreamMeta {
            fields: Default::default(),
            key,
            app: batch.app,
            host: batch.host,
            stream: batch.stream,
            format: batch.format,
            tz: batch.tz,
        });
        let append = Append {
            meta,
            read_at: now,
            received: now,
            lines,
        };
        // Fire and forget: queued in order; durability is not awaited.
        if ctx.wal.submit(append).await.is_err() {
            return;
        }
    }
}

pub(crate) fn decode(bytes: &[u8], tokens: &Tokens) -> Result<UdpBatch, String> {
    if bytes.len() > MAX_DATAGRAM_BYTES {
        return Err(format!("datagram above {MAX_DATAGRAM_BYTES} bytes"));
    }
    let batch: UdpBatch = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if batch.protocol != PROTOCOL_VERSION {
        return Err(format!("protocol {} not supported", batch.protocol));
    }
    validate_app_name(&batch.app).map_err(|e| e.to_string())?;
    tokens
        .ingest(batch.token.as_deref())
        .and_then(|grant| grant.allows(&batch.app))
        .map_err(|e| e.to_string())?;
    if batch.host.contains('/') || batch.stream.is_empty() {
        return Err("invalid host or stream".into());
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::auth::Tokens;
    use crate::config::Config;

    #[test]
    fn bad_datagrams_are_refused_with_a_reason() {
        let open = Tokens::default();
        assert!(decode(b"not json", &open).is_err());
        let bad_app =
            br#"{"protocol":1,"host":"h","tz":"UTC","app":"../x","stream":"stdout","lines":["a"]}"#;
        assert!(
            decode(bad_app, &open)
                .expect_err("bad app")
                .contains("app name")
        );
        let ok =
            br#"{"protocol":1,"host":"h","tz":"UTC","app":"web","stream":"stdout","lines":["a"]}"#;
        assert_eq!(decode(ok, &open).expect("ok").lines, vec!["a".to_owned()]);
        let config = Config::from_toml("token = \"t0ken\"\n").expect("parses");
        let guarded = Tokens::from_config(&config).expect("tokens");
        assert!(decode(ok, &guarded).is_err(), "token required");
        let with_token = br#"{"protocol":1,"host":"h","tz":"UTC","app":"web","stream":"stdout","token":"t0ken","lines":["a"]}"#;
        assert!(decode(with_token, &guarded).is_ok());
    }
}
