//! Wire protocol v1 over TCP (see `schemas/PROTOCOL.md` for the prose version).
//!
//! A connection carries length-delimited frames (see [`crate::codec`]). The shipper opens with
//! [`Hello`]; the collector answers [`Welcome`] with the durable position of every stream the
//! shipper named. The shipper then sends [`Batch`]es, each for a stream it declared in `Hello`
//! or later with [`Frame::Open`]; the collector answers each batch, in order, with an [`Ack`] once
//! its lines are durable. Anything wrong gets an [`ErrorFrame`] and, when it is fatal, a close.

use std::collections::BTreeMap;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// One frame's payload. Encoded as JSON with the variant name as the only key,
/// e.g. `{"ack":{"stream":"f1","position":1024}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    /// Shipper → collector, first frame of a connection.
    Hello(Hello),
    /// Collector → shipper, the answer to `hello`.
    Welcome(Welcome),
    /// Shipper → collector: declare one more stream on an open connection.
    Open(StreamInfo),
    /// Collector → shipper: the answer to `open`, with the stream's durable position.
    Opened(StreamPosition),
    /// Shipper → collector: lines of one declared stream.
    Batch(Batch),
    /// Collector → shipper: lines of a stream are durable up to `position`.
    Ack(Ack),
    /// Either way: something went wrong.
    Error(ErrorFrame),
}

impl Frame {
    /// The frame's name as it appears on the wire, for messages.
    pub const fn kind(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Welcome(_) => "welcome",
            Frame::Open(_) => "open",
            Frame::Opened(_) => "opened",
            Frame::Batch(_) => "batch",
            Frame::Ack(_) => "ack",
            Frame::Error(_) => "error",
        }
    }
}

/// The shipper introduces itself and names the streams it will send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// Protocol version the shipper speaks; must be [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Ingest token, when the collector requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Stable id of this shipper (one per state directory). Stream positions are kept per
    /// shipper id and stream id.
    pub shipper_id: String,
    /// The host name records will carry.
    pub host: String,
    /// The shipper host's time zone (IANA name such as `Europe/Paris`, or an offset such as
    /// `+01:00`), for timestamps written without a zone.
    pub tz: String,
    /// Streams the shipper will send now; more may follow with `open`.
    #[serde(default)]
    pub streams: Vec<StreamInfo>,
}

/// A stream: one file, one pipe, one channel of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamInfo {
    /// Stable id within the shipper, e.g. `file:1f2e3d4c5b6a7988` or `pipe:osm-app`.
    pub id: String,
    /// The app the stream's lines belong to.
    pub app: String,
    /// Which output: `stdout`, `stderr`, or the path of a tailed file.
    pub stream: String,
    /// A format hint (`pm2`, `rails`, ...); the collector detects the format when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Fields every record of the stream carries, where its own text gives none of that name
    /// (a pm2 process's `pm_id`; a supervisord program's `group` and `pid`). At most
    /// [`MAX_STREAM_FIELDS`]; names as [`validate_field_name`] wants them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// The most fields a stream may declare.
pub const MAX_STREAM_FIELDS: usize = 16;
/// The longest value of a stream field, in bytes.
pub const MAX_STREAM_FIELD_BYTES: usize = 256;

/// Checks a stream's fields: at most [`MAX_STREAM_FIELDS`], names of 1-32 lowercase ASCII
/// letters, digits and `_` starting with a letter, values of at most [`MAX_STREAM_FIELD_BYTES`].
pub fn validate_stream_fields(fields: &BTreeMap<String, String>) -> Result<(), String> {
    if fields.len() > MAX_STREAM_FIELDS {
        return Err(format!(
            "{} stream fields; at most {MAX_STREAM_FIELDS}",
            fields.len()
        ));
    }
    for (name, value) in fields {
        let b = name.as_bytes();
        let name_ok = (1..=32).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
        if !name_ok {
            return Err(format!(
                "stream field name {name:?}: use 1-32 of a-z, 0-9 and _, starting with a letter"
            ));
        }
        if value.len() > MAX_STREAM_FIELD_BYTES {
            return Err(format!(
                "stream field {name:?}: value over {MAX_STREAM_FIELD_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

/// The collector accepts the shipper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Welcome {
    /// Protocol version the collector speaks.
    pub protocol: u32,
    /// The largest frame the collector accepts, in bytes (length prefix excluded).
    pub max_frame_bytes: u32,
    /// The durable position of each stream named in `hello`, in the same order.
    pub positions: Vec<StreamPosition>,
}

/// Where a stream stands at the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamPosition {
    /// The stream id.
    pub stream: String,
    /// Everything up to this position is durable; `null` when the collector has never stored a
    /// line of this stream.
    pub position: Option<u64>,
}

/// Lines of one stream, in position order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// A stream id declared on this connection.
    pub stream: String,
    /// When the shipper read the first of these lines (RFC 3339).
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub read_at: Timestamp,
    /// The lines; positions strictly increase.
    pub lines: Vec<Line>,
}

/// One line of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The stream position just after this line (for files: the byte offset after its newline).
    /// The collector stores a line only if `end` is above the stream's durable position.
    pub end: u64,
    /// The text without its newline. Invalid UTF-8 is replaced with U+FFFD by the shipper.
    pub text: String,
    /// The shipper cut this line at its maximum line length; the rest follows as further lines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split: bool,
    /// When the source says the line was written, where it says so outside the text (pm2's
    /// `--time` stamp and JSON chunk time, which the shipper takes off the line). The
    /// collector uses it when the text carries no time of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub time: Option<Timestamp>,
}

/// Lines of `stream` are durable up to `position`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub stream: String,
    pub position: u64,
}

/// What went wrong, and whether the sender closes the connection after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    /// One readable line.
    pub message: String,
    /// The sender closes the connection after this frame.
    pub fatal: bool,
}

/// Error codes; new codes may be added, so receivers treat unknown codes as fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A length prefix above the receiver's maximum.
    FrameTooLarge,
    /// A frame that does not decode.
    Malformed,
    /// A frame that is valid but not expected now (e.g. a batch before `hello`).
    UnexpectedFrame,
    /// The shipper speaks a protocol version the collector does not.
    UnsupportedVersion,
    /// Missing or wrong token.
    Unauthorized,
    /// A batch for a stream never declared on this connection.
    UnknownStream,
    /// An app name that fails validation.
    InvalidApp,
    /// Positions in a batch that do not increase.
    BadPositions,
    /// The collector cannot store more now (disk floor, quota); retry later.
    Unavailable,
    /// A bug or an I/O failure on the collector.
    Internal,
}

impl ErrorFrame {
    /// A fatal error: the sender closes the connection after sending it.
    pub fn fatal(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorFrame {
            code,
            message: message.into(),
            fatal: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn stream_fields_are_checked() {
        assert_eq!(
            validate_stream_fields(&fields(&[("pm_id", "0"), ("group", "web")])),
            Ok(())
        );
        for bad in ["", "Pid", "9lives", "a-b", "a b", "x\n", &"y".repeat(33)] {
            assert!(
                validate_stream_fields(&fields(&[(bad, "v")])).is_err(),
                "{bad:?}"
            );
        }
        let long = "v".repeat(MAX_STREAM_FIELD_BYTES + 1);
        assert!(validate_stream_fields(&fields(&[("pid", &long)])).is_err());
        let many: Vec<(String, String)> = (0..=MAX_STREAM_FIELDS)
            .map(|i| (format!("f{i}"), "v".to_owned()))
            .collect();
        assert!(validate_stream_fields(&many.into_iter().collect()).is_err());
    }

    #[test]
    fn a_line_without_a_time_reads_as_before() {
        let line: Line = serde_json::from_str(r#"{"end":4,"text":"abc"}"#).expect("v1 line");
        assert_eq!(line.time, None);
        let json = serde_json::to_string(&line).expect("json");
        assert!(!json.contains("time"), "{json}");
    }
}
