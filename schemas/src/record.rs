//! The stored record: one event as the collector keeps it and the API returns it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Level;

/// One log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// Event time, UTC with nanosecond precision (RFC 3339). The time the line itself carries,
    /// or, when it has none, the time the shipper read it.
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub time: Timestamp,
    /// When the collector received the line (RFC 3339, UTC).
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub received: Timestamp,
    /// The app the line belongs to (see `validate_app_name`).
    pub app: String,
    /// The host the shipper runs on.
    pub host: String,
    /// Which output of the app: `stdout`, `stderr`, or the path of a tailed file.
    pub stream: String,
    /// Normalized severity, when the line says one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The format the line was parsed as (`plain`, `pm2`, `rails`, ...).
    pub format: String,
    /// The original text exactly as the app wrote it, without the final newline. A multi-line
    /// event keeps its lines joined by `\n`.
    pub message: String,
    /// Fields the format yields (status, method, path, pid, request_id, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A record as the collector returns it: with the id it was stored under. Ids grow with the
/// order in which the collector stored records, so they serve as a resume cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StoredRecord {
    /// The collector's sequence number for this record.
    pub id: u64,
    #[serde(flatten)]
    pub record: Record,
}
