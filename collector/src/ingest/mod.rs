//! Ingest listeners: acknowledged TCP (wire protocol v1, optionally over TLS), fire-and-forget
//! UDP, and `POST /api/v1/ingest` over HTTP.

pub mod http;
pub mod tcp;
pub mod udp;

use std::sync::Arc;

use crate::wal::Wal;

/// What every ingest connection needs.
#[derive(Clone)]
pub struct IngestContext {
    pub wal: Wal,
    pub max_frame_bytes: usize,
    pub handshake_timeout: std::time::Duration,
    /// Who may send; swapped on reload, read at each handshake (TCP) or datagram (UDP).
    pub tokens: crate::auth::SharedTokens,
    /// TLS for TCP ingest, when configured.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Consulted for every batch: an app refused at the disk floor gets an error.
    pub store: Option<Arc<crate::storage::Store>>,
    /// Where ingest counts what it receives, drops and waits for.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Rates, connection cap, line and batch bounds, timeouts.
    pub limits: Arc<crate::limits::Limits>,
}

/// `limits.max_line_bytes`, with the limit counted once when one of `lines` is over it.
fn max_line_bytes(ctx: &IngestContext, app: &str, lines: &[String]) -> usize {
    let max = usize::try_from(ctx.limits.config.max_line_bytes).unwrap_or(usize::MAX);
    if lines.iter().any(|l| l.len() > max) {
        ctx.metrics.limit_hit(
            crate::limits::Limit::MaxLineBytes,
            format_args!("app {app:?}: lines over {max} bytes are stored in pieces"),
        );
    }
    max
}

/// Numbers lines the collector receives unnumbered (UDP, HTTP) from `pos` on; a line over
/// `max` bytes becomes consecutive pieces marked `split` (the collector numbers them, so the
/// pieces always fit).
fn number_lines(texts: &[String], pos: &mut u64, max: usize) -> Vec<logq_schemas::Line> {
    texts
        .iter()
        .flat_map(|text| {
            let parts = crate::limits::pieces(text, max);
            let n = parts.len();
            parts
                .into_iter()
                .enumerate()
                .map(move |(i, part)| (part.to_owned(), i + 1 < n))
        })
        .map(|(text, split)| {
            *pos += 1;
            logq_schemas::Line {
                time: None,
                end: *pos,
                text,
                split,
            }
        })
        .collect()
}

impl std::fmt::Debug for IngestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestContext")
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}
