//! Length-delimited framing with a hard maximum.
//!
//! A frame on the wire is a 4-byte big-endian payload length followed by that many bytes of JSON
//! (one [`Frame`]). A length above the maximum is refused before any buffer grows for it, so a
//! hostile 4 GiB prefix costs nothing. "Not enough bytes yet" is `Ok(None)`, never an error.

use bytes::{Buf, BufMut, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::Frame;

/// Default maximum payload size of one frame: 1 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1024 * 1024;

const LEN_BYTES: usize = 4;

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The length prefix is above the maximum. The stream cannot go on: the rest is unframed.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: u64, max: usize },
    /// The frame was delimited but its payload is not a valid frame. Framing is intact.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The underlying transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// Whether the byte stream is still aligned on frame boundaries after this error.
    pub fn framing_intact(&self) -> bool {
        matches!(self, FrameError::Malformed(_))
    }
}

/// Encodes and decodes [`Frame`]s; see the module docs for the layout.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_frame_bytes: usize,
}

impl FrameCodec {
    /// A codec that refuses payloads above `max_frame_bytes`.
    pub const fn new(max_frame_bytes: usize) -> Self {
        FrameCodec { max_frame_bytes }
    }

    /// The maximum payload size.
    pub const fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Encodes `frame` into a fresh buffer (length prefix included).
    pub fn encode_to_vec(&self, frame: &Frame) -> Result<Vec<u8>, FrameError> {
        let mut buf = BytesMut::new();
        self.clone().encode(frame, &mut buf)?;
        Ok(buf.to_vec())
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if src.len() < LEN_BYTES {
            return Ok(None);
        }
        let mut prefix = [0u8; LEN_BYTES];
        prefix.copy_from_slice(&src[..LEN_BYTES]);
        let len = u32::from_be_bytes(prefix) as usize;
        if len > self.max_frame_bytes {
            return Err(FrameError::TooLarge {
                len: len as u64,
                max: self.max_frame_bytes,
            });
        }
        if src.len() < LEN_BYTES + len {
            // Only now, with the length checked, may the buffer grow for the payload.
            src.reserve(LEN_BYTES + len - src.len());
            return Ok(None);
        }
        src.advance(LEN_BYTES);
        let payload = src.split_to(len);
        serde_json::from_slice(&payload)
            .map(Some)
            .map_err(|e| FrameError::Malformed(e.to_string()))
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.put_u32(0);
        serde_json::to_writer(dst.writer(), frame)
            .map_err(|e| FrameError::Malformed(e.to_string()))?;
        let len = dst.len() - start - LEN_BYTES;
        if len > self.max_frame_bytes {
            dst.truncate(start);
            return Err(FrameError::TooLarge {
                len: len as u64,
                max: self.max_frame_bytes,
            });
        }
        dst[start..start + LEN_BYTES].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&frame, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ack, ErrorCode, ErrorFrame};

    fn roundtrip(frame: Frame) {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        codec.encode(&frame, &mut buf).expect("encode");
        // Fed one byte at a time, the decoder waits, then yields exactly the frame.
        let mut feed = BytesMut::new();
        let bytes = buf.to_vec();
        for (i, b) in bytes.iter().enumerate() {
            feed.put_u8(*b);
            let got = codec.decode(&mut feed).expect("decode");
            if i + 1 < bytes.len() {
                assert!(got.is_none(), "frame yielded early at byte {i}");
            } else {
                assert_eq!(got, Some(frame.clone()));
            }
        }
        assert!(feed.is_empty());
    }

    #[test]
    fn frames_roundtrip_byte_by_byte() {
        roundtrip(Frame::Ack(Ack {
            stream: "s".into(),
            position: 42,
        }));
        roundtrip(Frame::Error(ErrorFrame::fatal(
            ErrorCode::Malformed,
            "héllo ✓",
        )));
    }

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, b'{'][..]);
        let cap = buf.capacity();
        match codec.decode(&mut buf) {
            Err(
                e @ FrameError::TooLarge {
                    len: 0xffff_ffff, ..
                },
            ) => assert!(!e.framing_intact()),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(buf.capacity(), cap);
    }

    #[test]
    fn garbage_payload_is_malformed_and_framing_stays_intact() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        buf.put_u32(3);
        buf.put_slice(b"\x00\x01\x02");
        match codec.decode(&mut buf) {
            Err(e @ FrameError::Malformed(_)) => assert!(e.framing_intact()),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn encoder_refuses_frames_above_the_maximum() {
        let mut codec = FrameCodec::new(16);
        let mut buf = BytesMut::from(&b"keep"[..]);
        let frame = Frame::Ack(Ack {
            stream: "a-long-stream-name".into(),
            position: 1,
        });
        assert!(matches!(
            codec.encode(&frame, &mut buf),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(&buf[..], b"keep");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let mut codec = FrameCodec::new(256);
            let mut buf = BytesMut::from(&bytes[..]);
            // Decode until the codec wants more bytes or reports an error.
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}
