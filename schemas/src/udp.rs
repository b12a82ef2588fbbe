//! UDP datagrams: fire-and-forget, one datagram = one self-describing JSON batch of whole lines.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest datagram the collector reads, in bytes.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1024;

/// One datagram. Carries whole lines only; a line that does not fit is not sent over UDP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UdpBatch {
    /// Protocol version, [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Ingest token, when the collector requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub host: String,
    /// Shipper host time zone, as in `hello`.
    pub tz: String,
    pub app: String,
    /// `stdout`, `stderr` or a file path.
    pub stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The lines, without newlines.
    pub lines: Vec<String>,
}
