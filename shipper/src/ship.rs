//! The delivery core: one connection, a registry of streams, batching, acks, reconnects.
//!
//! Guarantee: a line is dropped from the shipper's care only once the collector acked a
//! position at or past its end. Every source is re-readable (files, and the spool in front of
//! stdin and child output), so the core keeps no copy of sent lines: on every (re)connect the
//! collector's durable position of each stream wins and the source is read again from there.
//! The checkpoint only ever moves on acks, and is used only for streams the collector does
//! not know.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use jiff::Timestamp;
use logq_schemas::{Batch, Frame, FrameError, Hello, Line, PROTOCOL_VERSION, StreamInfo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::source::{Held, Placement, SeekHandle, SourceEvent};
use crate::state::{JobState, StreamCheckpoint};
use crate::tls::TlsClient;
use crate::transport::{self, Conn, ConnectError};

/// Bytes of read lines held across all streams before every stream's lines are sent.
const QUEUE_BUDGET: usize = 1024 * 1024;
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
const WARN_EVERY: Duration = Duration::from_secs(30);
const SHUTDOWN_ACK_WAIT: Duration = Duration::from_secs(5);

/// How the core runs.
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// Collector TCP address.
    pub to: String,
    /// TLS over the TCP connection, when set.
    pub tls: Option<TlsClient>,
    pub token: Option<String>,
    pub host: String,
    pub tz: String,
    /// A batch is sent once it holds this many bytes of text...
    pub batch_max_bytes: usize,
    /// ...or once its first line waited this long.
    pub flush_interval: Duration,
    /// Largest frame this shipper sends before the collector says its own maximum.
    pub max_frame_bytes: usize,
    /// After the spooled sources end, how long to wait for the last acks.
    pub drain_timeout: Duration,
    /// The job ends once every stream ended and was acknowledged (`pipe`, `run`); otherwise
    /// streams come and go and only a shutdown ends it (`tail`, `pm2`, `supervisor`).
    pub until_sources_end: bool,
}

/// How shipping ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every line acknowledged (spooled sources ended) or a clean shutdown.
    Done,
    /// Spooled bytes not acknowledged (they stay in the spool for the next run).
    Undelivered(u64),
    /// The collector refused this shipper for good (token, version, app name).
    Refused(String),
}

#[derive(Debug)]
struct Stream {
    info: StreamInfo,
    seek: SeekHandle,
    generation: u64,
    declared: bool,
    /// Lines read but not yet sent.
    queue: VecDeque<Line>,
    /// The source's budget held by queued lines, with the end of each event's last line:
    /// given back once those lines are sent, so that a source reads ahead of the connection
    /// by its budget, not by its budget plus this queue.
    held: VecDeque<(u64, Held)>,
    queue_bytes: usize,
    /// Highest end sent on the current connection.
    sent: Option<u64>,
    oldest_unsent: Option<Instant>,
    read_at: Option<Timestamp>,
    acked: Option<u64>,
    ended: bool,
}

impl Stream {
    /// Everything read (and, once the source ended, everything it has) was acknowledged.
    fn fully_acked(&self) -> bool {
        let known = if self.ended { self.seek.end() } else { 0 };
        let target = self.sent.unwrap_or(0).max(known);
        self.queue.is_empty() && self.acked.unwrap_or(0) >= target
    }
}

enum ConnEnd {
    Lost(String),
    Shutdown,
    Finished,
    Refused(String),
}

/// The delivery core.
#[derive(Debug)]
pub struct Core {
    config: ShipConfig,
    state: JobState,
    streams: HashMap<String, Stream>,
    order: Vec<String>,
    checkpoint_dirty: bool,
    last_checkpoint: Instant,
    ended_at: Option<Instant>,
    /// The current connection got at least one ack.
    acked_on_connection: bool,
}

impl Core {
    pub fn new(config: ShipConfig, state: JobState) -> Core {
        Core {
            config,
            state,
            streams: HashMap::new(),
            order: Vec::new(),
            checkpoint_dirty: false,
            last_checkpoint: Instant::now(),
            ended_at: None,
            acked_on_connection: false,
        }
    }

    /// Ships until shutdown (tail), or until every stream ended and was acked (pipe).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<SourceEvent>,
        shutdown: CancellationToken,
    ) -> Outcome {
        let mut backoff = Backoff::default();
        let mut last_warn: Option<Instant> = None;
        let outcome = loop {
            if self.finished() {
                break Outcome::Done;
            }
            if self.drain_expired() {
                break Outcome::Undelivered(self.unacked_bytes());
            }
            let hello = self.hello();
            let attempt = tokio::select! {
                _ = shutdown.cancelled() => break self.undelivered_outcome(),
                a = transport::connect(
                    &self.config.to,
                    self.config.tls.as_ref(),
                    hello,
                    self.config.max_frame_bytes,
                ) => a,
            };
            let wait = match attempt {
                Ok((conn, welcome)) => {
                    if last_warn.take().is_some() {
                        tracing::info!(to = %self.config.to, "connected to the collector");
                    }
                    self.acked_on_connection = false;
                    for pos in welcome.positions {
                        self.place(&pos.stream, pos.position);
                    }
                    for s in self.streams.values_mut() {
                        s.declared = true;
                    }
                    match self.connected(conn, &mut rx, &shutdown).await {
                        ConnEnd::Finished => break Outcome::Done,
                        ConnEnd::Shutdown => break self.undelivered_outcome(),
                        ConnEnd::Refused(msg) => break Outcome::Refused(msg),
                        ConnEnd::Lost(reason) => {
                            self.disconnected();
                            if self.acked_on_connection {
                                // A working connection broke (collector restart): at once.
                                tracing::warn!(to = %self.config.to, %reason, "lost the collector; reconnecting");
                                backoff.reset();
                                false
                            } else {
                                // Refused before any ack (disk floor, quota): back off.
                                if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                                    tracing::warn!(to = %self.config.to, %reason, "the collector takes nothing now; retrying with backoff");
                                    last_warn = Some(Instant::now());
                                }
                                true
                            }
                        }
                    }
                }
                Err(ConnectError::Fatal(msg)) => break Outcome::Refused(msg),
                Err(ConnectError::Tls(reason)) => {
                    if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        tracing::error!(to = %self.config.to, %reason, "tls handshake with the collector failed; retrying");
                        last_warn = Some(Instant::now());
                    }
                    true
                }
                Err(ConnectError::Retry(reason)) => {
                    if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        tracing::warn!(to = %self.config.to, %reason, "collector unreachable; retrying");
                        last_warn = Some(Instant::now());
                    }
                    true
                }
            };
            if wait {
                let until = tokio::time::Instant::now() + backoff.next_delay();
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => break,
                        _ = shutdown.cancelled() => break,
                        ev = rx.recv() => match ev {
                            Some(ev) => {
                                self.on_event(ev);
                            }
                            None => break,
                        },
                    }
                }
                if shutdown.is_cancelled() {
                    break self.undelivered_outcome();
                }
            }
        };
        for s in self.streams.values() {
            s.seek.set(Placement::Stop);
        }
        self.save_checkpoint();
        outcome
    }

    fn hello(&self) -> Hello {
        Hello {
            protocol: PROTOCOL_VERSION,
            token: self.config.token.clone(),
            shipper_id: self.state.checkpoint.shipper_id.clone(),
            host: self.config.host.clone(),
            tz: self.config.tz.clone(),
            streams: self
                .order
                .iter()
                .map(|id| self.streams[id].info.clone())
                .collect(),
        }
    }

    async fn connected(
        &mut self,
        mut conn: Conn,
        rx: &mut mpsc::Receiver<SourceEvent>,
        shutdown: &CancellationToken,
    ) -> ConnEnd {
        let mut tick =
            tokio::time::interval(self.config.flush_interval.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut source_open = true;
        loop {
            if let Err(e) = self.flush(&mut conn, false).await {
                return ConnEnd::Lost(e);
            }
            if self.finished() {
                return ConnEnd::Finished;
            }
            if self.drain_expired() {
                return ConnEnd::Shutdown;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return self.drain_on_shutdown(conn).await,
                frame = conn.incoming.recv() => match frame {
                    Some(Ok(frame)) => {
                        if let Some(end) = self.on_frame(frame, &mut conn).await {
                            return end;
                        }
                    }
                    Some(Err(e)) => return ConnEnd::Lost(e),
                    None => return ConnEnd::Lost("connection closed".into()),
                },
                ev = rx.recv(), if source_open => match ev {
                    Some(ev) => {
                        if let Some(info) = self.on_event(ev)
                            && let Err(e) = conn.sink.send(&Frame::Open(info)).await
                        {
                            return ConnEnd::Lost(e.to_string());
                        }
                    }
                    None => source_open = false,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.flush(&mut conn, true).await {
                        return ConnEnd::Lost(e);
                    }
                    self.maybe_save_checkpoint();
                }
            }
        }
    }

    /// Handles a collector frame; returns how the connection ends, if it does.
    async fn on_frame(&mut self, frame: Frame, conn: &mut Conn) -> Option<ConnEnd> {
        match frame {
            Frame::Ack(ack) => self.on_ack(&ack.stream, ack.position),
            Frame::Opened(pos) => {
                self.place(&pos.stream, pos.position);
                if let Some(s) = self.streams.get_mut(&pos.stream) {
                    s.declared = true;
                }
                if let Err(e) = self.flush(conn, false).await {
                    return Some(ConnEnd::Lost(e));
                }
            }
            Frame::Error(e) if transport::is_fatal_code(e.code) => {
                return Some(ConnEnd::Refused(e.message));
            }
            Frame::Error(e) => {
                tracing::warn!(code = ?e.code, message = %e.message, "collector reported an error");
                if e.fatal {
                    return Some(ConnEnd::Lost(e.message));
                }
            }
            other => return Some(ConnEnd::Lost(format!("unexpected {} frame", other.kind()))),
        }
        None
    }

    fn on_ack(&mut self, stream: &str, position: u64) {
        self.acked_on_connection = true;
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.acked = Some(s.acked.map_or(position, |a| a.max(position)));
        s.seek.set_acked(position);
        let entry = self
            .state
            .checkpoint
            .streams
            .entry(stream.to_owned())
            .or_insert_with(|| StreamCheckpoint {
                app: s.info.app.clone(),
                path: s.seek.path().map(str::to_owned),
                ..Default::default()
            });
        if position > entry.position {
            entry.position = position;
            self.checkpoint_dirty = true;
        }
    }

    /// Handles a source event; returns the info of a newly registered stream.
    fn on_event(&mut self, ev: SourceEvent) -> Option<StreamInfo> {
        match ev {
            SourceEvent::Register { info, seek } => {
                if self.streams.contains_key(&info.id) {
                    tracing::warn!(stream = %info.id, path = %info.stream, "two sources share a stream id (same first line); the second is ignored");
                    return None;
                }
                self.order.push(info.id.clone());
                self.streams.insert(
                    info.id.clone(),
                    Stream {
                        info: info.clone(),
                        seek,
                        generation: 0,
                        declared: false,
                        queue: VecDeque::new(),
                        held: VecDeque::new(),
                        queue_bytes: 0,
                        sent: None,
                        oldest_unsent: None,
                        read_at: None,
                        acked: None,
                        ended: false,
                    },
                );
                Some(info)
            }
            SourceEvent::Lines {
                stream,
                generation,
                lines,
                held,
            } => {
                let s = self.streams.get_mut(&stream)?;
                if generation != s.generation || !s.declared {
                    return None;
                }
                s.oldest_unsent.get_or_insert_with(Instant::now);
                s.read_at.get_or_insert_with(Timestamp::now);
                if let Some(last) = lines.last() {
                    s.held.push_back((last.end, held));
                }
                for line in lines {
                    s.queue_bytes += line.text.len();
                    s.queue.push_back(line);
                }
                None
            }
            SourceEvent::End { stream } => {
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.ended = true;
                }
                if self.config.until_sources_end && self.streams.values().all(|s| s.ended) {
                    self.ended_at.get_or_insert_with(Instant::now);
                }
                None
            }
            SourceEvent::Release { stream } => {
                if let Some(s) = self.streams.remove(&stream) {
                    // Its reader (a spool's) may still wait for placements: let it end.
                    s.seek.set(Placement::Stop);
                    self.order.retain(|id| *id != stream);
                }
                if self.state.checkpoint.streams.remove(&stream).is_some() {
                    self.checkpoint_dirty = true;
                }
                None
            }
        }
    }

    /// Applies the collector's durable position for a stream (after hello or open).
    fn place(&mut self, stream: &str, position: Option<u64>) {
        let checkpoint = self
            .state
            .checkpoint
            .streams
            .get(stream)
            .map(|c| c.position);
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let start = position.or(checkpoint).unwrap_or(0);
        s.generation += 1;
        s.queue.clear();
        s.held.clear();
        s.queue_bytes = 0;
        s.sent = Some(start);
        s.acked = Some(start);
        s.seek.set_acked(start);
        s.oldest_unsent = None;
        s.read_at = None;
        s.seek.set(Placement::At {
            generation: s.generation,
            position: start,
        });
    }

    fn disconnected(&mut self) {
        for s in self.streams.values_mut() {
            s.declared = false;
            s.seek.set(Placement::Paused);
            s.queue.clear();
            s.held.clear();
            s.queue_bytes = 0;
        }
    }

    /// Sends the batches that are due (all of them when `timed` is false only if full).
    async fn flush(&mut self, conn: &mut Conn, timed: bool) -> Result<(), String> {
        let ids: Vec<String> = self.order.clone();
        // Many streams each below a full batch must not add up: past the budget, send all.
        let queued: usize = self.streams.values().map(|s| s.queue_bytes).sum();
        let over_budget = queued >= QUEUE_BUDGET;
        for id in ids {
            loop {
                let batch = {
                    let Some(s) = self.streams.get_mut(&id) else {
                        break;
                    };
                    if !s.declared {
                        break;
                    }
                    let due = over_budget
                        || s.queue_bytes >= self.config.batch_max_bytes
                        || (timed
                            && s.oldest_unsent
                                .is_some_and(|t| t.elapsed() >= self.config.flush_interval))
                        || s.ended;
                    if s.queue.is_empty() || !due {
                        break;
                    }
                    // Sent lines leave the queue: after a reconnect the source is read
                    // again from the acknowledged position.
                    let mut lines = Vec::new();
                    let mut bytes = 0;
                    while let Some(line) = s.queue.front() {
                        let len = line.text.len();
                        if !lines.is_empty() && bytes + len > self.config.batch_max_bytes {
                            break;
                        }
                        bytes += len;
                        s.queue_bytes -= len;
                        lines.extend(s.queue.pop_front());
                    }
                    let read_at = s.read_at.unwrap_or_else(Timestamp::now);
                    Batch {
                        stream: id.clone(),
                        read_at,
                        lines,
                    }
                };
                let last_end = batch.lines.last().map_or(0, |l| l.end);
                send_batch(conn, batch).await?;
                let Some(s) = self.streams.get_mut(&id) else {
                    break;
                };
                s.sent = Some(last_end);
                while s.held.front().is_some_and(|(end, _)| *end <= last_end) {
                    s.held.pop_front();
                }
                s.oldest_unsent = (!s.queue.is_empty()).then(Instant::now);
                s.read_at = None;
            }
        }
        Ok(())
    }

    async fn drain_on_shutdown(&mut self, mut conn: Conn) -> ConnEnd {
        for s in self.streams.values() {
            s.seek.set(Placement::Stop);
        }
        for s in self.streams.values_mut() {
            s.ended = true;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_ACK_WAIT;
        loop {
            if self.flush(&mut conn, false).await.is_err()
                || self.streams.values().all(Stream::fully_acked)
            {
                return ConnEnd::Shutdown;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return ConnEnd::Shutdown,
                frame = conn.incoming.recv() => match frame {
                    Some(Ok(frame)) => {
                        if self.on_frame(frame, &mut conn).await.is_some() {
                            return ConnEnd::Shutdown;
                        }
                    }
                    _ => return ConnEnd::Shutdown,
                },
            }
        }
    }

    /// Every stream ended (pipe) and every line acked.
    fn finished(&self) -> bool {
        !self.streams.is_empty()
            && self.ended_at.is_some()
            && self.streams.values().all(Stream::fully_acked)
    }

    fn drain_expired(&self) -> bool {
        self.ended_at
            .is_some_and(|t| t.elapsed() >= self.config.drain_timeout)
    }

    /// Bytes of ended (spooled) streams not acknowledged.
    fn unacked_bytes(&self) -> u64 {
        self.streams
            .values()
            .filter(|s| s.ended)
            .map(|s| s.seek.end().saturating_sub(s.acked.unwrap_or(0)))
            .sum()
    }

    fn undelivered_outcome(&self) -> Outcome {
        match self.unacked_bytes() {
            0 => Outcome::Done,
            n => Outcome::Undelivered(n),
        }
    }

    fn maybe_save_checkpoint(&mut self) {
        if self.checkpoint_dirty && self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            self.save_checkpoint();
        }
    }

    fn save_checkpoint(&mut self) {
        match self.state.save() {
            Ok(()) => {
                self.checkpoint_dirty = false;
                self.last_checkpoint = Instant::now();
            }
            Err(e) => tracing::error!(error = %e, "cannot write the checkpoint"),
        }
    }
}

/// Sends a batch, halving it when its encoding exceeds the frame limit (JSON escaping can
/// grow text up to six times; the codec refuses such a frame before writing anything); a
/// single line that still does not fit is cut to fit.
async fn send_batch(conn: &mut Conn, batch: Batch) -> Result<(), String> {
    let mut todo = vec![Frame::Batch(batch)];
    while let Some(frame) = todo.pop() {
        match conn.sink.send(&frame).await {
            Ok(()) => {}
            Err(FrameError::TooLarge { .. }) => {
                let Frame::Batch(mut batch) = frame else {
                    return Err("a control frame is too large".into());
                };
                if batch.lines.len() > 1 {
                    let second = batch.lines.split_off(batch.lines.len() / 2);
                    todo.push(Frame::Batch(Batch {
                        stream: batch.stream.clone(),
                        read_at: batch.read_at,
                        lines: second,
                    }));
                } else {
                    let max = conn.sink.encoder().max_frame_bytes();
                    let line = &mut batch.lines[0];
                    let mut keep = (max / 8).min(line.text.len());
                    while !line.text.is_char_boundary(keep) {
                        keep -= 1;
                    }
                    tracing::warn!(stream = %batch.stream, bytes = line.text.len(), kept = keep, "a line too large to frame was cut");
                    line.text.truncate(keep);
                }
                todo.push(Frame::Batch(batch));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
