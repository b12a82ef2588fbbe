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
}

impl std::fmt::Debug for IngestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestContext")
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}
