//! Ingest listeners: acknowledged TCP (wire protocol v1) and fire-and-forget UDP.

pub mod tcp;
pub mod udp;

use std::sync::Arc;

use crate::wal::Wal;

/// What every ingest connection needs.
#[derive(Debug, Clone)]
pub struct IngestContext {
    pub wal: Wal,
    pub max_frame_bytes: usize,
    pub handshake_timeout: std::time::Duration,
    pub token: Option<Arc<str>>,
    /// Consulted for every batch: an app refused at the disk floor gets an error.
    pub store: Option<Arc<crate::storage::Store>>,
    /// Where ingest counts what it receives, drops and waits for.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Rates, connection cap, line and batch bounds, timeouts.
    pub limits: Arc<crate::limits::Limits>,
}

/// Compares two secrets in time that depends only on their lengths.
pub fn token_matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("s3cret", Some("s3cret")));
        assert!(!token_matches("s3cret", Some("s3cre")));
        assert!(!token_matches("s3cret", Some("s3cret!")));
        assert!(!token_matches("s3cret", None));
    }
}
