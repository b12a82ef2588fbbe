//! The TCP connection to the collector: connect, handshake, and a reader task that forwards
//! incoming frames so the core can keep writing while acks arrive (otherwise both sides could
//! block on full socket buffers).

use std::time::Duration;

use futures_util::StreamExt;
use logq_schemas::{ErrorCode, Frame, FrameCodec, Hello, Welcome};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// Worth retrying (collector down, network, timeout).
    Retry(String),
    /// Retrying cannot help (bad token, unsupported version, invalid app).
    Fatal(String),
}

/// An established connection.
#[derive(Debug)]
pub struct Conn {
    pub sink: FramedWrite<OwnedWriteHalf, FrameCodec>,
    /// Frames from the collector; closed when the connection ends.
    pub incoming: mpsc::UnboundedReceiver<Result<Frame, String>>,
}

/// Whether an error code from the collector means retrying cannot help.
pub fn is_fatal_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Unauthorized | ErrorCode::UnsupportedVersion | ErrorCode::InvalidApp
    )
}

/// Connects to `addr` and performs the handshake.
pub async fn connect(
    addr: &str,
    hello: Hello,
    max_frame_bytes: usize,
) -> Result<(Conn, Welcome), ConnectError> {
    let sock = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnectError::Retry("connect timed out".into()))?
        .map_err(|e| ConnectError::Retry(e.to_string()))?;
    let _ = sock.set_nodelay(true);
    let (r, w) = sock.into_split();
    let codec = FrameCodec::new(max_frame_bytes);
    let mut reader = FramedRead::new(r, codec);
    let mut sink = FramedWrite::new(w, codec);
    futures_util::SinkExt::send(&mut sink, &Frame::Hello(hello))
        .await
        .map_err(|e| ConnectError::Retry(e.to_string()))?;
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next())
        .await
        .map_err(|_| ConnectError::Retry("no answer to hello".into()))?;
    let welcome = match answer {
        Some(Ok(Frame::Welcome(w))) => w,
        Some(Ok(Frame::Error(e))) if is_fatal_code(e.code) => {
            return Err(ConnectError::Fatal(e.message));
        }
        Some(Ok(Frame::Error(e))) => return Err(ConnectError::Retry(e.message)),
        Some(Ok(other)) => {
            return Err(ConnectError::Retry(format!(
                "unexpected {} frame",
                other.kind()
            )));
        }
        Some(Err(e)) => return Err(ConnectError::Retry(e.to_string())),
        None => {
            return Err(ConnectError::Retry(
                "connection closed during the handshake".into(),
            ));
        }
    };
    let (tx, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(frame) = reader.next().await {
            let failed = frame.is_err();
            if tx.send(frame.map_err(|e| e.to_string())).is_err() || failed {
                break;
            }
        }
    });
    let max = (welcome.max_frame_bytes as usize).min(max_frame_bytes);
    *sink.encoder_mut() = FrameCodec::new(max);
    Ok((Conn { sink, incoming }, welcome))
}
