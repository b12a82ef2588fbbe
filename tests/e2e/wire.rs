//! Raw wire-protocol access for tests that play a hostile or hand-made client: connect, send
//! and receive frames, and expect the collector's refusal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use logq_schemas::{ErrorCode, Frame, FrameCodec};

use crate::util::Collector;

/// A plain TCP connection to the collector's ingest port, reads bounded by 10 s.
pub fn connect(collector: &Collector) -> TcpStream {
    let sock = TcpStream::connect(collector.tcp).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    sock
}

/// A frame with its length prefix.
pub fn encode(frame: &Frame) -> Vec<u8> {
    FrameCodec::default().encode_to_vec(frame).expect("encode")
}

/// Sends a frame (over TCP or TLS), reporting failure.
pub fn try_send(sock: &mut impl Write, frame: &Frame) -> std::io::Result<()> {
    sock.write_all(&encode(frame))?;
    sock.flush()
}

/// Receives a frame (over TCP or TLS), reporting failure.
pub fn try_recv(sock: &mut impl Read) -> std::io::Result<Frame> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len)?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    sock.read_exact(&mut payload)?;
    Ok(serde_json::from_slice(&payload).expect("frame json"))
}

pub fn send(sock: &mut impl Write, frame: &Frame) {
    try_send(sock, frame).expect("send frame");
}

pub fn recv(sock: &mut impl Read) -> Frame {
    try_recv(sock).expect("receive frame")
}

/// Reads the fatal error frame the collector sends, then expects the connection to close.
pub fn expect_error_then_close(sock: &mut TcpStream, code: ErrorCode) {
    match recv(sock) {
        Frame::Error(e) => {
            assert_eq!(e.code, code, "{}", e.message);
            assert!(e.fatal);
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    let mut rest = Vec::new();
    let n = sock.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "connection closed after the error");
}
