//! The connection to the collector, over plain TCP or TLS: connect, handshake, and a reader
//! task that forwards incoming frames so the core can keep writing while acks arrive
//! (otherwise both sides could block on full socket buffers).
//!
//! Both kinds of stream are one boxed `AsyncRead + AsyncWrite` split in two halves, so the
//! delivery core does not know which it has.

use std::time::Duration;

use futures_util::StreamExt;
use logq_schemas::{ErrorCode, Frame, FrameCodec, FrameError, Hello, Welcome};
use tokio::io::{AsyncRead, AsyncWrite, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::tls::{TlsClient, describe_handshake_error, is_tls_error};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream to the collector: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// The writing half of a connection.
pub type Writer = WriteHalf<Box<dyn Stream>>;

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// Worth retrying (collector down, network, timeout).
    Retry(String),
    /// The TLS handshake failed (an unknown CA, a name mismatch, a refused client
    /// certificate). Retried like [`ConnectError::Retry`] (a certificate can be renewed or a
    /// CA deployed while the shipper waits, and its sources are re-readable, so waiting loses
    /// nothing), but logged as an error: it rarely heals by itself.
    Tls(String),
    /// Retrying cannot help (bad token, unsupported version, invalid app).
    Fatal(String),
}

/// An established connection.
pub struct Conn {
    pub sink: FramedWrite<Writer, FrameCodec>,
    /// Frames from the collector; closed when the connection ends.
    pub incoming: mpsc::UnboundedReceiver<Result<Frame, String>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("incoming", &self.incoming)
            .finish_non_exhaustive()
    }
}

/// Whether an error code from the collector means retrying cannot help.
pub fn is_fatal_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Unauthorized | ErrorCode::UnsupportedVersion | ErrorCode::InvalidApp
    )
}

/// A failure of the stream during the handshake: TLS failures (with TLS 1.3 a refused client
/// certificate shows only on the first read) are told apart.
fn stream_error(e: &FrameError) -> ConnectError {
    match e {
        FrameError::Io(io) if is_tls_error(io) => ConnectError::Tls(describe_handshake_error(io)),
        other => ConnectError::Retry(other.to_string()),
    }
}

/// Opens the byte stream to `addr`: TCP, with a TLS handshake on top when `tls` is given.
pub async fn open(addr: &str, tls: Option<&TlsClient>) -> Result<Box<dyn Stream>, ConnectError> {
    let sock = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnectError::Retry("connect timed out".into()))?
        .map_err(|e| ConnectError::Retry(e.to_string()))?;
    let _ = sock.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Box::new(sock));
    };
    let handshake = tls.connector().connect(tls.server_name().clone(), sock);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_) => Err(ConnectError::Retry("tls handshake timed out".into())),
        Ok(Err(e)) if is_tls_error(&e) => Err(ConnectError::Tls(describe_handshake_error(&e))),
        Ok(Err(e)) => Err(ConnectError::Retry(format!("tls handshake: {e}"))),
        Ok(Ok(stream)) => Ok(Box::new(stream)),
    }
}

/// Connects to `addr` (over TLS when `tls` is given) and performs the handshake.
pub async fn connect(
    addr: &str,
    tls: Option<&TlsClient>,
    hello: Hello,
    max_frame_bytes: usize,
) -> Result<(Conn, Welcome), ConnectError> {
    let stream = open(addr, tls).await?;
    let (r, w) = tokio::io::split(stream);
    let codec = FrameCodec::new(max_frame_bytes);
    let mut reader = FramedRead::new(r, codec);
    let mut sink = FramedWrite::new(w, codec);
    futures_util::SinkExt::send(&mut sink, &Frame::Hello(hello))
        .await
        .map_err(|e| stream_error(&e))?;
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
        Some(Err(e)) => return Err(stream_error(&e)),
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
