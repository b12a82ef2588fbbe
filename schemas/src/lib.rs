//! `logq-schemas`: the types every logq program agrees on.
//!
//! It owns the stored [`Record`] and its [`Level`], the TCP wire protocol v1 ([`protocol`]: frames,
//! handshake, acks, errors) with its length-delimited [`codec`], the UDP datagram format ([`udp`]),
//! the validation of app names ([`app`]) and the parsing of time specifications shared by the CLI
//! and the HTTP API ([`timespec`]).
//!
//! It must never do I/O beyond encoding and decoding bytes: no sockets, no files, no threads.
//! `schemas/json/` holds JSON Schema files generated from these types; a test keeps them equal.

pub mod app;
pub mod codec;
pub mod level;
pub mod protocol;
pub mod record;
pub mod timespec;
pub mod udp;

pub use app::{AppNameError, app_name_from, validate_app_name};
pub use codec::{DEFAULT_MAX_FRAME_BYTES, FrameCodec, FrameError};
pub use level::{BadLevelRange, Level, LevelRange};
pub use protocol::{
    Ack, Batch, ErrorCode, ErrorFrame, Frame, Hello, Line, MAX_STREAM_FIELD_BYTES,
    MAX_STREAM_FIELDS, PROTOCOL_VERSION, StreamInfo, StreamPosition, Welcome,
    validate_stream_fields,
};
pub use record::{Record, StoredRecord};
