//! `logq-null-sink`: a collector stand-in for shipping benchmarks. It speaks the ingest
//! protocol (hello, open, batch), acknowledges every batch at once and stores nothing, so a
//! benchmark measures the shipper alone. With `--raw` it counts newline-delimited lines of
//! plain TCP instead (what rsyslog's and syslog-ng's TCP forwarders send). With
//! `--expect-lines N` it exits once N lines arrived, printing `lines=N bytes=B seconds=S`
//! (from the first data to the last); it also exits, printing the same, once no data came
//! for `--idle-secs S` (default 20) after the first.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use logq_schemas::{
    Ack, DEFAULT_MAX_FRAME_BYTES, Frame, FrameCodec, PROTOCOL_VERSION, StreamPosition, Welcome,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:0".to_owned();
    let mut expect: Option<u64> = None;
    let mut raw = false;
    let mut idle = std::time::Duration::from_secs(20);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().unwrap_or_default(),
            "--expect-lines" => expect = args.next().and_then(|n| n.parse().ok()),
            "--raw" => raw = true,
            "--idle-secs" => {
                idle = std::time::Duration::from_secs(
                    args.next().and_then(|n| n.parse().ok()).unwrap_or(20),
                );
            }
            other => {
                anyhow::bail!("unknown argument {other:?} (use --addr, --expect-lines, --raw)")
            }
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    println!("listening {}", listener.local_addr()?);
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, u64)>();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            if raw {
                tokio::spawn(count_raw(sock, tx));
                continue;
            }
            tokio::spawn(async move {
                let mut framed = Framed::new(sock, FrameCodec::new(DEFAULT_MAX_FRAME_BYTES));
                while let Some(Ok(frame)) = framed.next().await {
                    let reply = match frame {
                        Frame::Hello(h) => Frame::Welcome(Welcome {
                            protocol: PROTOCOL_VERSION,
                            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES as u32,
                            positions: h
                                .streams
                                .into_iter()
                                .map(|s| StreamPosition {
                                    stream: s.id,
                                    position: None,
                                })
                                .collect(),
                        }),
                        Frame::Open(s) => Frame::Opened(StreamPosition {
                            stream: s.id,
                            position: None,
                        }),
                        Frame::Batch(b) => {
                            let bytes = b.lines.iter().map(|l| l.text.len() as u64 + 1).sum();
                            let _ = tx.send((b.lines.len() as u64, bytes));
                            Frame::Ack(Ack {
                                stream: b.stream,
                                position: b.lines.last().map_or(0, |l| l.end),
                            })
                        }
                        _ => continue,
                    };
                    if framed.send(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let (mut lines, mut bytes, mut first, mut last) = (0u64, 0u64, None, None);
    loop {
        let next = if first.is_some() {
            tokio::time::timeout(idle, rx.recv()).await.ok().flatten()
        } else {
            rx.recv().await
        };
        let Some((l, b)) = next else { break };
        first.get_or_insert_with(Instant::now);
        last = Some(Instant::now());
        lines += l;
        bytes += b;
        if expect.is_some_and(|e| lines >= e) {
            break;
        }
    }
    let secs = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64(),
        _ => 0.0,
    };
    println!("lines={lines} bytes={bytes} seconds={secs:.3}");
    Ok(())
}

/// Counts newline-terminated lines on a plain TCP connection.
async fn count_raw(mut sock: tokio::net::TcpStream, tx: mpsc::UnboundedSender<(u64, u64)>) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n) = sock.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        let _ = tx.send((lines, n as u64));
    }
}
