//! TCP ingest: the handshake, batches into the WAL, acks once durable.
//!
//! Each connection has a reader (this task) and a writer task. The reader submits every batch
//! to the WAL and queues the pending answer; the writer sends acks in batch order as each
//! becomes durable, so a shipper can keep several batches in flight. Every protocol error gets
//! an error frame, then the connection closes; nothing already stored is touched.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use logq_schemas::{
    Ack, Batch, ErrorCode, ErrorFrame, Frame, FrameCodec, FrameError, Hello, PROTOCOL_VERSION,
    StreamInfo, StreamPosition, Welcome, validate_app_name, validate_stream_fields,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::IngestContext;
use crate::auth::IngestGrant;
use crate::limits::{Limit, Next, next_frame};
use crate::metrics::{DropReason, LatencyTimer, RefusedReason, Transport};
use crate::wal::{Append, PendingAppend, StreamMeta};

/// Batches whose acks may be outstanding on one connection.
const MAX_IN_FLIGHT: usize = 64;
/// How long a throttled batch waits at most before it goes on to the WAL.
const MAX_THROTTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const THROTTLE_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// How long a refused connection is drained before it closes.
const REFUSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Accepts connections until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    ctx: IngestContext,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (sock, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = ctx.limits.connections.clone().try_acquire_owned() else {
            tracker.spawn(refuse_busy(sock, ctx.clone()));
            continue;
        };
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let (_permit, _open) = (permit, ctx.metrics.connection_opened());
            let _ = sock.set_nodelay(true);
            let served = async {
                match &ctx.tls {
                    None => connection(sock, peer, &ctx).await,
                    Some(acceptor) => match crate::tls::handshake(acceptor, sock).await {
                        Ok(stream) => connection(stream, peer, &ctx).await,
                        Err(e) => Err(format!("tls handshake failed: {e}")),
                    },
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {}
                result = served => {
                    if let Err(reason) = result {
                        tracing::info!(%peer, %reason, "ingest connection closed");
                    }
                }
            }
        });
    }
}

enum Outgoing {
    Frame(Frame),
    Ack {
        stream: String,
        pending: PendingAppend,
        timer: LatencyTimer,
    },
}

/// A connection's byte stream: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

type Reader<S> = FramedRead<ReadHalf<S>, FrameCodec>;
type Writer<S> = FramedWrite<WriteHalf<S>, FrameCodec>;

/// Serves one connection; returns why it ended when that was not a clean close.
async fn connection<S: Io>(sock: S, peer: SocketAddr, ctx: &IngestContext) -> Result<(), String> {
    let (r, w) = tokio::io::split(sock);
    let codec = FrameCodec::new(ctx.max_frame_bytes);
    let mut frames = FramedRead::new(r, codec);
    let mut sink = FramedWrite::new(w, codec);

    let hello = match tokio::time::timeout(ctx.handshake_timeout, frames.next()).await {
        Err(_) => {
            let msg = "no hello before the handshake timeout";
            ctx.metrics.limit_hit(Limit::HandshakeTimeout, msg);
            return Err(msg.into());
        }
        Ok(None) => return Ok(()),
        Ok(Some(Err(e))) => {
            count_frame_error(ctx, &e);
            return refuse(&mut sink, frame_error(&e)).await;
        }
        Ok(Some(Ok(Frame::Hello(hello)))) => hello,
        Ok(Some(Ok(other))) => {
            let msg = format!("expected hello, got {}", other.kind());
            return refuse(
                &mut sink,
                ErrorFrame::fatal(ErrorCode::UnexpectedFrame, msg),
            )
            .await;
        }
    };
    let grant = match check_hello(&hello, ctx) {
        Ok(grant) => grant,
        Err(err) => return refuse(&mut sink, err).await,
    };
    let mut streams: HashMap<String, Arc<StreamMeta>> = HashMap::new();
    let mut positions = Vec::with_capacity(hello.streams.len());
    for info in &hello.streams {
        let meta = match declare(&hello, &grant, info) {
            Ok(meta) => meta,
            Err(err) => return refuse(&mut sink, err).await,
        };
        positions.push(StreamPosition {
            stream: info.id.clone(),
            position: ctx.wal.position(&meta.key),
        });
        streams.insert(info.id.clone(), meta);
    }
    let welcome = Welcome {
        protocol: PROTOCOL_VERSION,
        max_frame_bytes: ctx.max_frame_bytes as u32,
        positions,
    };
    sink.send(&Frame::Welcome(welcome))
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!(%peer, shipper = %hello.shipper_id, streams = streams.len(), "shipper connected");

    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(sink, out_rx));
    let result = read_loop(&mut frames, &hello, &grant, &mut streams, ctx, &out_tx).await;
    drop(out_tx);
    let written = writer.await.map_err(|e| e.to_string())?;
    result.and(written)
}

async fn read_loop<S: Io>(
    frames: &mut Reader<S>,
    hello: &Hello,
    grant: &IngestGrant,
    streams: &mut HashMap<String, Arc<StreamMeta>>,
    ctx: &IngestContext,
    out: &mpsc::Sender<Outgoing>,
) -> Result<(), String> {
    let fail = |err: ErrorFrame| async move {
        let reason = err.message.clone();
        let _ = out.send(Outgoing::Frame(Frame::Error(err))).await;
        Err(reason)
    };
    let connection_bucket = ctx.limits.connection_bucket();
    loop {
        let frame = match next_frame(frames, &ctx.limits.config).await {
            Next::Frame(frame) => frame,
            Next::End => break,
            Next::Stalled(limit, msg) => {
                ctx.metrics.limit_hit(limit, &msg);
                return fail(ErrorFrame::fatal(ErrorCode::Unavailable, msg)).await;
            }
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(FrameError::Io(e)) => return Err(e.to_string()),
            Err(e) => {
                count_frame_error(ctx, &e);
                return fail(frame_error(&e)).await;
            }
        };
        match frame {
            Frame::Batch(batch) => {
                let Some(meta) = streams.get(&batch.stream).cloned() else {
                    let msg = format!(
                        "batch for stream {:?}, which was never declared",
                        batch.stream
                    );
                    return fail(ErrorFrame::fatal(ErrorCode::UnknownStream, msg)).await;
                };
                if let Err(err) = check_positions(&batch) {
                    return fail(err).await;
                }
                let timer = ctx.metrics.ingest_timer(Transport::Tcp);
                let (lines, bytes) = (batch.lines.len(), text_bytes(&batch.lines));
                ctx.metrics
                    .received(&meta.app, Transport::Tcp, lines as u64, bytes);
                if lines > ctx.limits.config.max_batch_lines {
                    let msg = format!(
                        "batch of {lines} lines; at most {} (limits.max_batch_lines)",
                        ctx.limits.config.max_batch_lines
                    );
                    ctx.metrics
                        .dropped(Some(&meta.app), DropReason::BatchTooLarge, lines as u64);
                    ctx.metrics.limit_hit(Limit::MaxBatchLines, &msg);
                    return fail(ErrorFrame::fatal(ErrorCode::FrameTooLarge, msg)).await;
                }
                // Back-pressure: over its rate, the batch (and so its ack) waits.
                ctx.limits
                    .throttle(connection_bucket.as_ref(), &meta.app, bytes, &ctx.metrics)
                    .await;
                // Back-pressure: the batch (and so its ack) waits while its app holds most
                // of the unsealed data and that is over its budget.
                let waiting = Instant::now();
                while ctx
                    .store
                    .as_ref()
                    .is_some_and(|s| s.is_throttled(&meta.app))
                    && waiting.elapsed() < MAX_THROTTLE_WAIT
                {
                    tokio::time::sleep(THROTTLE_POLL).await;
                }
                if ctx.store.as_ref().is_some_and(|s| s.is_refused(&meta.app)) {
                    let msg = format!(
                        "the collector is at its storage limit (global cap or free-disk floor) with nothing left to evict; app {:?} is refused until space returns (nothing was lost: resend later)",
                        meta.app
                    );
                    return fail(ErrorFrame::fatal(ErrorCode::Unavailable, msg)).await;
                }
                let stream = batch.stream;
                let lines = ctx.limits.cut_lines(
                    batch.lines,
                    || ctx.wal.position(&meta.key),
                    &meta.app,
                    &ctx.metrics,
                );
                let append = Append {
                    meta,
                    read_at: batch.read_at,
                    received: Timestamp::now(),
                    lines,
                };
                // Submitted here, in frame order, so the WAL sees a stream's batches in order.
                let pending = match ctx.wal.submit(append).await {
                    Ok(pending) => pending,
                    Err(e) => {
                        return fail(ErrorFrame::fatal(ErrorCode::Internal, e.to_string())).await;
                    }
                };
                let ack = Outgoing::Ack {
                    stream,
                    pending,
                    timer,
                };
                if out.send(ack).await.is_err() {
                    return Err("writer closed".into());
                }
            }
            Frame::Open(info) => {
                let meta = match declare(hello, grant, &info) {
                    Ok(meta) => meta,
                    Err(err) => return fail(err).await,
                };
                let position = ctx.wal.position(&meta.key);
                streams.insert(info.id.clone(), meta);
                let opened = Frame::Opened(StreamPosition {
                    stream: info.id,
                    position,
                });
                if out.send(Outgoing::Frame(opened)).await.is_err() {
                    return Err("writer closed".into());
                }
            }
            other => {
                let msg = format!("unexpected {} frame from a shipper", other.kind());
                return fail(ErrorFrame::fatal(ErrorCode::UnexpectedFrame, msg)).await;
            }
        }
    }
    Ok(())
}

async fn write_loop<S: Io>(
    mut sink: Writer<S>,
    mut rx: mpsc::Receiver<Outgoing>,
) -> Result<(), String> {
    while let Some(out) = rx.recv().await {
        let frame = match out {
            Outgoing::Frame(frame) => frame,
            Outgoing::Ack {
                stream,
                pending,
                timer,
            } => match pending.await {
                Ok(Ok(position)) => {
                    timer.observe();
                    Frame::Ack(Ack { stream, position })
                }
                Ok(Err(e)) => {
                    let err = ErrorFrame::fatal(ErrorCode::Internal, format!("cannot store: {e}"));
                    let _ = sink.send(&Frame::Error(err)).await;
                    return Err(e.to_string());
                }
                Err(_) => return Err("write-ahead log stopped".into()),
            },
        };
        let fatal = matches!(&frame, Frame::Error(e) if e.fatal);
        sink.send(&frame).await.map_err(|e| e.to_string())?;
        if fatal {
            break;
        }
    }
    Ok(())
}

async fn refuse<S: Io>(sink: &mut Writer<S>, err: ErrorFrame) -> Result<(), String> {
    let reason = err.message.clone();
    let _ = sink.send(&Frame::Error(err)).await;
    Err(reason)
}

/// Bytes of line text in `lines`: what rates and metrics count.
fn text_bytes(lines: &[logq_schemas::Line]) -> u64 {
    lines.iter().map(|l| l.text.len() as u64).sum()
}

/// Refuses a connection past `limits.max_connections`: an `unavailable` error frame, then a
/// close. What the client sent meanwhile is read and discarded for a moment, so that the
/// close does not reset the connection before the client reads the frame. Only a few are told
/// at a time; the others are closed at once. On a TLS listener the frame cannot be sent
/// without a handshake, which is the work being refused: the connection is just closed.
async fn refuse_busy(mut sock: TcpStream, ctx: IngestContext) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let max = ctx.limits.config.max_connections;
    ctx.metrics
        .connection_refused(RefusedReason::MaxConnections);
    ctx.metrics.limit_hit(
        Limit::MaxConnections,
        format_args!("{max} TCP ingest connections open; refusing new ones"),
    );
    if ctx.tls.is_some() {
        return;
    }
    let Ok(_telling) = ctx.limits.refusing.clone().try_acquire_owned() else {
        return;
    };
    let msg = format!("{max} connections open (limits.max_connections); retry later");
    let Ok(bytes) = FrameCodec::new(ctx.max_frame_bytes).encode_to_vec(&Frame::Error(
        ErrorFrame::fatal(ErrorCode::Unavailable, msg),
    )) else {
        return;
    };
    let _ = tokio::time::timeout(REFUSE_LINGER, async {
        sock.write_all(&bytes).await?;
        sock.shutdown().await?;
        let mut sink = [0u8; 4096];
        while sock.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Counts a frame over `max_frame_bytes` (other bad frames are protocol errors, not limits).
fn count_frame_error(ctx: &IngestContext, e: &FrameError) {
    if let FrameError::TooLarge { .. } = e {
        ctx.metrics.dropped(None, DropReason::FrameTooLarge, 1);
        ctx.metrics.limit_hit(Limit::MaxFrameBytes, e);
    }
}

fn frame_error(e: &FrameError) -> ErrorFrame {
    let code = match e {
        FrameError::TooLarge { .. } => ErrorCode::FrameTooLarge,
        _ => ErrorCode::Malformed,
    };
    ErrorFrame::fatal(code, e.to_string())
}

fn check_hello(hello: &Hello, ctx: &IngestContext) -> Result<IngestGrant, ErrorFrame> {
    if hello.protocol != PROTOCOL_VERSION {
        let msg = format!(
            "protocol {} is not supported; this collector speaks {PROTOCOL_VERSION}",
            hello.protocol
        );
        return Err(ErrorFrame::fatal(ErrorCode::UnsupportedVersion, msg));
    }
    let grant = ctx
        .tokens
        .get()
        .ingest(hello.token.as_deref())
        .map_err(|e| ErrorFrame::fatal(ErrorCode::Unauthorized, e.to_string()))?;
    if hello.shipper_id.is_empty() || hello.shipper_id.len() > 128 || hello.shipper_id.contains('/')
    {
        return Err(ErrorFrame::fatal(
            ErrorCode::Malformed,
            "shipper_id must be 1-128 bytes without '/'",
        ));
    }
    Ok(grant)
}

fn declare(
    hello: &Hello,
    grant: &IngestGrant,
    info: &StreamInfo,
) -> Result<Arc<StreamMeta>, ErrorFrame> {
    if let Err(e) = validate_app_name(&info.app) {
        return Err(ErrorFrame::fatal(
            ErrorCode::InvalidApp,
            format!("app {:?}: {e}", info.app),
        ));
    }
    if let Err(e) = grant.allows(&info.app) {
        return Err(ErrorFrame::fatal(ErrorCode::Unauthorized, e.to_string()));
    }
    if info.id.is_empty() || info.id.len() > 512 {
        return Err(ErrorFrame::fatal(
            ErrorCode::Malformed,
            "stream id must be 1-512 bytes",
        ));
    }
    if let Err(e) = validate_stream_fields(&info.fields) {
        return Err(ErrorFrame::fatal(
            ErrorCode::Malformed,
            format!("stream {:?}: {e}", info.id),
        ));
    }
    Ok(Arc::new(StreamMeta {
        fields: info.fields.clone(),
        key: format!("{}/{}", hello.shipper_id, info.id),
        app: info.app.clone(),
        host: hello.host.clone(),
        stream: info.stream.clone(),
        format: info.format.clone(),
        tz: hello.tz.clone(),
    }))
}

fn check_positions(batch: &Batch) -> Result<(), ErrorFrame> {
    let increasing = batch.lines.windows(2).all(|w| w[0].end < w[1].end);
    if increasing {
        Ok(())
    } else {
        let msg = format!(
            "positions in a batch of stream {:?} do not increase",
            batch.stream
        );
        Err(ErrorFrame::fatal(ErrorCode::BadPositions, msg))
    }
}
