//! Normalization: turns the raw lines of a WAL batch into records.
//!
//! This is the seam where format parsers plug in (pm2, Rails, gunicorn, ...; one module each).
//! Today every line is one `plain` record. It runs on the indexer thread from WAL batches, so it
//! is deterministic: replaying the WAL yields the same records with the same ids.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use logq_schemas::{Record, StoredRecord};

use crate::wal::WalBatch;

/// How far the shipper's read time may be behind the collector's receive time and still be
/// taken as the event time (a spooled backlog); older, and the receive time is used.
const MAX_READ_LAG: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How far the shipper's clock may be ahead of the collector's.
const MAX_READ_LEAD: SignedDuration = SignedDuration::from_mins(5);

/// The event time of a line without a timestamp of its own: when the shipper read it, unless
/// the shipper's clock is implausible, then when the collector received it.
pub fn fallback_time(read_at: Timestamp, received: Timestamp) -> Timestamp {
    let lag = received.duration_since(read_at);
    if lag <= MAX_READ_LAG && lag >= -MAX_READ_LEAD {
        read_at
    } else {
        received
    }
}

/// The records of a batch, with their ids.
pub fn records_of(batch: &WalBatch) -> Vec<StoredRecord> {
    let time = fallback_time(batch.read_at, batch.received);
    let format = batch
        .meta
        .format
        .clone()
        .unwrap_or_else(|| "plain".to_owned());
    batch
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut fields = BTreeMap::new();
            if line.split {
                fields.insert("split".to_owned(), serde_json::Value::Bool(true));
            }
            StoredRecord {
                id: batch.first_id + i as u64,
                record: Record {
                    time,
                    received: batch.received,
                    app: batch.meta.app.clone(),
                    host: batch.meta.host.clone(),
                    stream: batch.meta.stream.clone(),
                    level: None,
                    format: format.clone(),
                    message: line.text.clone(),
                    fields,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_shipper_clocks_fall_back_to_receive_time() {
        let received: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let ok: Timestamp = "2026-11-23T09:59:00Z".parse().expect("ts");
        assert_eq!(fallback_time(ok, received), ok);
        let future: Timestamp = "2026-11-23T11:00:00Z".parse().expect("ts");
        assert_eq!(fallback_time(future, received), received);
        let ancient: Timestamp = "1970-01-01T00:00:00Z".parse().expect("ts");
        assert_eq!(fallback_time(ancient, received), received);
    }
}
