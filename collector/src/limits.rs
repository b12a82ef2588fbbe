//! Ingest limits at run time: token buckets for the per-connection and per-app rates, the
//! connection cap, and the cutting of over-long lines. What the limits are is
//! [`crate::config::LimitsConfig`]; this module only applies them.
//!
//! It never drops acknowledged data and never sleeps for anything but a rate: TCP ingest over
//! its rate waits (back-pressure, the ack comes later), UDP ingest over its rate is dropped and
//! counted by the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use logq_schemas::{Frame, FrameCodec, FrameError, Line};
use tokio::io::AsyncRead;
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;

use crate::config::LimitsConfig;
use crate::metrics::{DropReason, Metrics};

/// A limit by its config key under `[limits]` (or the top level for `max_frame_bytes` and
/// `handshake_timeout_ms`): the `limit` label of `logq_limit_hits_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    MaxFrameBytes,
    HandshakeTimeout,
    MaxLineBytes,
    MaxBatchLines,
    ConnectionRate,
    AppRate,
    MaxConnections,
    IdleTimeout,
    FrameTimeout,
    MaxHttpBodyBytes,
    QueryTimeout,
}

impl Limit {
    pub const ALL: [Limit; 11] = [
        Limit::MaxFrameBytes,
        Limit::HandshakeTimeout,
        Limit::MaxLineBytes,
        Limit::MaxBatchLines,
        Limit::ConnectionRate,
        Limit::AppRate,
        Limit::MaxConnections,
        Limit::IdleTimeout,
        Limit::FrameTimeout,
        Limit::MaxHttpBodyBytes,
        Limit::QueryTimeout,
    ];

    /// The config key, as the metric label and the log name it.
    pub const fn key(self) -> &'static str {
        match self {
            Limit::MaxFrameBytes => "max_frame_bytes",
            Limit::HandshakeTimeout => "handshake_timeout_ms",
            Limit::MaxLineBytes => "limits.max_line_bytes",
            Limit::MaxBatchLines => "limits.max_batch_lines",
            Limit::ConnectionRate => "limits.connection_rate_bytes_per_sec",
            Limit::AppRate => "limits.app_rate_bytes_per_sec",
            Limit::MaxConnections => "limits.max_connections",
            Limit::IdleTimeout => "limits.idle_timeout_secs",
            Limit::FrameTimeout => "limits.frame_timeout_ms",
            Limit::MaxHttpBodyBytes => "limits.max_http_body_bytes",
            Limit::QueryTimeout => "limits.query_timeout_ms",
        }
    }
}

/// A token bucket of bytes: `rate` per second, holding at most `burst`.
///
/// [`TokenBucket::reserve`] may take the bucket into debt and says how long the caller waits
/// for its tokens, so a batch larger than the burst still passes, at the rate. Time is passed
/// in, which keeps the arithmetic testable without a clock.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket. `rate_per_sec` must be above 0.
    pub fn new(rate_per_sec: u64, burst: u64, now: Instant) -> Self {
        TokenBucket {
            rate: rate_per_sec.max(1) as f64,
            burst: burst as f64,
            state: Mutex::new((burst as f64, now)),
        }
    }

    fn refill(&self, state: &mut (f64, Instant), now: Instant) {
        let elapsed = now.saturating_duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * self.rate).min(self.burst);
        state.1 = state.1.max(now);
    }

    /// Takes `cost` tokens, into debt if need be; returns how long until they exist (zero when
    /// they are there now).
    pub fn reserve(&self, cost: u64, now: Instant) -> Duration {
        let mut state = self.state.lock().expect("bucket lock");
        self.refill(&mut state, now);
        state.0 -= cost as f64;
        if state.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.0 / self.rate)
        }
    }

    /// Whether the bucket has refilled to its burst: forgetting it changes nothing.
    fn is_full(&self, now: Instant) -> bool {
        let mut state = self.state.lock().expect("bucket lock");
        self.refill(&mut state, now);
        state.0 >= self.burst
    }

    /// Takes `cost` tokens if they are there now (or, for a cost above the burst, if the bucket
    /// is full); otherwise takes nothing.
    pub fn try_take(&self, cost: u64, now: Instant) -> bool {
        let mut state = self.state.lock().expect("bucket lock");
        self.refill(&mut state, now);
        if state.0 >= (cost as f64).min(self.burst) {
            state.0 -= cost as f64;
            true
        } else {
            false
        }
    }
}

/// App buckets kept before full (idle) ones are forgotten.
const MAX_APP_BUCKETS: usize = 4096;

/// Refused connections told why at the same time.
const MAX_REFUSING: usize = 64;

/// The limits shared by every ingest connection of one collector.
#[derive(Debug)]
pub struct Limits {
    pub config: LimitsConfig,
    /// One permit per open TCP ingest connection.
    pub connections: Arc<Semaphore>,
    /// One permit per refused connection still being told why; past them, a refused
    /// connection is closed without a word, so a flood of connections costs no more sockets.
    pub refusing: Arc<Semaphore>,
    apps: Mutex<HashMap<String, Arc<TokenBucket>>>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Limits {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            config,
            apps: Mutex::default(),
        }
    }

    /// A new connection's own bucket, when connections are rate limited.
    pub fn connection_bucket(&self) -> Option<TokenBucket> {
        let c = &self.config;
        (c.connection_rate_bytes_per_sec > 0).then(|| {
            TokenBucket::new(
                c.connection_rate_bytes_per_sec,
                c.connection_burst_bytes,
                Instant::now(),
            )
        })
    }

    /// `app`'s bucket, shared by every transport, when apps are rate limited.
    pub fn app_bucket(&self, app: &str) -> Option<Arc<TokenBucket>> {
        let c = &self.config;
        if c.app_rate_bytes_per_sec == 0 {
            return None;
        }
        let mut apps = self.apps.lock().expect("app buckets lock");
        if apps.len() >= MAX_APP_BUCKETS && !apps.contains_key(app) {
            // Bounded: the buckets of apps quiet long enough to be full again go.
            let now = Instant::now();
            apps.retain(|_, b| !b.is_full(now));
        }
        let bucket = apps.entry(app.to_owned()).or_insert_with(|| {
            Arc::new(TokenBucket::new(
                c.app_rate_bytes_per_sec,
                c.app_burst_bytes,
                Instant::now(),
            ))
        });
        Some(bucket.clone())
    }

    /// Back-pressure for TCP: waits until `cost` bytes of `app` fit both the connection's and
    /// the app's rate. Never drops.
    pub async fn throttle(
        &self,
        connection: Option<&TokenBucket>,
        app: &str,
        cost: u64,
        metrics: &Metrics,
    ) {
        let now = Instant::now();
        let by_conn = connection.map_or(Duration::ZERO, |b| b.reserve(cost, now));
        let by_app = self
            .app_bucket(app)
            .map_or(Duration::ZERO, |b| b.reserve(cost, now));
        if by_conn.is_zero() && by_app.is_zero() {
            return;
        }
        let limit = if by_app >= by_conn {
            Limit::AppRate
        } else {
            Limit::ConnectionRate
        };
        metrics.limit_hit(
            limit,
            format_args!("app {app:?}: ingest slowed down (back-pressure)"),
        );
        tokio::time::sleep(by_conn.max(by_app)).await;
    }

    /// For UDP: whether `cost` bytes of `app` fit the app's rate now.
    pub fn admit(&self, app: &str, cost: u64) -> bool {
        self.app_bucket(app)
            .is_none_or(|b| b.try_take(cost, Instant::now()))
    }
}

impl Limits {
    /// [`cut_long_lines`] at `limits.max_line_bytes`, counted. `floor` gives the stream's
    /// durable position; it is asked only when a line is too long.
    pub fn cut_lines(
        &self,
        lines: Vec<Line>,
        floor: impl FnOnce() -> Option<u64>,
        app: &str,
        metrics: &Metrics,
    ) -> Vec<Line> {
        let max = usize::try_from(self.config.max_line_bytes).unwrap_or(usize::MAX);
        if lines.iter().all(|l| l.text.len() <= max) {
            return lines;
        }
        let (lines, cut) = cut_long_lines(lines, max, floor());
        if cut.long_lines > 0 {
            metrics.limit_hit(
                Limit::MaxLineBytes,
                format_args!("app {app:?}: lines over {max} bytes are stored in pieces"),
            );
        }
        if cut.pieces_dropped > 0 {
            metrics.dropped(Some(app), DropReason::LineTruncated, cut.pieces_dropped);
        }
        lines
    }
}

/// How waiting for the next frame ended.
#[derive(Debug)]
pub enum Next {
    Frame(Result<Frame, FrameError>),
    /// The peer closed the connection between frames.
    End,
    /// No complete frame in time: the limit and what to tell the client.
    Stalled(Limit, String),
}

/// The next frame of a connection past its handshake, within `limits.idle_timeout_secs` and,
/// once its first byte is in, `limits.frame_timeout_ms`: a client that sends nothing, or a
/// byte now and then, is closed instead of holding a connection forever.
///
/// Partial bytes are checked a few times per timeout (a quarter of the smaller one), so a
/// stalled frame is noticed within 1.25 times its timeout. Cancel-safe like `frames.next()`.
pub async fn next_frame<R: AsyncRead + Unpin>(
    frames: &mut FramedRead<R, FrameCodec>,
    config: &LimitsConfig,
) -> Next {
    let idle = Duration::from_secs(config.idle_timeout_secs);
    let frame_timeout = Duration::from_millis(config.frame_timeout_ms);
    let tick = (idle.min(frame_timeout) / 4).max(Duration::from_millis(25));
    let started = Instant::now();
    let mut partial_since = (!frames.read_buffer().is_empty()).then_some(started);
    loop {
        tokio::select! {
            biased;
            got = frames.next() => return got.map_or(Next::End, Next::Frame),
            _ = tokio::time::sleep(tick) => {}
        }
        let now = Instant::now();
        if frames.read_buffer().is_empty() {
            partial_since = None;
        } else {
            let since = *partial_since.get_or_insert(now);
            if now - since >= frame_timeout {
                let msg = format!(
                    "a frame took over {} ms to arrive (limits.frame_timeout_ms); closing",
                    config.frame_timeout_ms
                );
                return Next::Stalled(Limit::FrameTimeout, msg);
            }
        }
        if now - started >= idle {
            let msg = format!(
                "no frame for {} s (limits.idle_timeout_secs); closing, reconnect when there is more to send",
                config.idle_timeout_secs
            );
            return Next::Stalled(Limit::IdleTimeout, msg);
        }
    }
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries.
pub fn pieces(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4);
    let mut out = Vec::with_capacity(text.len() / max + 1);
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// What [`cut_long_lines`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Lines longer than the maximum.
    pub long_lines: u64,
    /// Pieces dropped because the positions left no room for them.
    pub pieces_dropped: u64,
}

/// Cuts every line longer than `max` bytes into pieces of at most `max` bytes, as a shipper
/// does: all but the last piece are marked `split`, and records show `split: true`.
///
/// The pieces need positions of their own, strictly increasing: piece `i` of `n` gets the
/// line's `end` minus `n - 1 - i`. Shippers count positions in bytes (files, spool,
/// supervisor events), so a line of `n` bytes spans `n` positions and there is always room.
/// Where the positions leave less room (a client numbering lines one by one), only the first
/// pieces that fit are kept, the last kept one still marked `split`, and the rest is counted
/// as dropped. `floor` is the stream's durable position as far as it is known: the first
/// line's pieces stay above it.
pub fn cut_long_lines(lines: Vec<Line>, max: usize, floor: Option<u64>) -> (Vec<Line>, Cut) {
    let mut cut = Cut::default();
    if lines.iter().all(|l| l.text.len() <= max) {
        return (lines, cut);
    }
    let mut out = Vec::with_capacity(lines.len() + 4);
    let mut prev: Option<u64> = floor;
    for line in lines {
        if line.text.len() <= max {
            prev = Some(line.end);
            out.push(line);
            continue;
        }
        if prev.is_some_and(|p| p >= line.end) {
            // Durable already (a resend): the WAL leaves it out whole.
            out.push(line);
            continue;
        }
        cut.long_lines += 1;
        let parts = pieces(&line.text, max);
        let start = line.end.saturating_sub(line.text.len() as u64);
        let room = line.end - prev.map_or(start, |p| p.max(start));
        let keep = parts.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        cut.pieces_dropped += (parts.len() - keep) as u64;
        for (i, part) in parts[..keep].iter().enumerate() {
            let last = i + 1 == parts.len();
            out.push(Line {
                end: line.end - (keep - 1 - i) as u64,
                text: (*part).to_owned(),
                split: if last { line.split } else { true },
                time: line.time,
            });
        }
        prev = Some(line.end);
    }
    (out, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(end: u64, text: &str) -> Line {
        Line {
            end,
            text: text.to_owned(),
            split: false,
            time: None,
        }
    }

    #[test]
    fn bucket_lets_a_burst_through_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let b = TokenBucket::new(1000, 2000, t0);
        assert_eq!(b.reserve(2000, t0), Duration::ZERO);
        // Empty now: 500 bytes wait half a second, the next 500 a whole second.
        assert_eq!(b.reserve(500, t0), Duration::from_millis(500));
        assert_eq!(b.reserve(500, t0), Duration::from_millis(1000));
        // Two seconds later the debt is paid and 1000 bytes are back.
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(b.reserve(1000, t2), Duration::ZERO);
        // It never holds more than the burst.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.reserve(2000, later), Duration::ZERO);
        assert!(b.reserve(1, later) > Duration::ZERO);
    }

    #[test]
    fn a_batch_above_the_burst_passes_at_the_rate() {
        let t0 = Instant::now();
        let b = TokenBucket::new(1000, 100, t0);
        assert_eq!(b.reserve(1100, t0), Duration::from_secs(1));
    }

    #[test]
    fn try_take_drops_instead_of_waiting() {
        let t0 = Instant::now();
        let b = TokenBucket::new(1000, 1000, t0);
        assert!(b.try_take(600, t0));
        assert!(!b.try_take(600, t0), "only 400 left");
        assert!(b.try_take(400, t0));
        assert!(b.try_take(200, t0 + Duration::from_millis(200)));
        // A datagram above the burst passes only from a full bucket.
        let later = t0 + Duration::from_secs(10);
        assert!(b.try_take(5000, later));
        assert!(!b.try_take(1, later));
    }

    #[test]
    fn idle_app_buckets_are_forgotten_past_the_bound() {
        let limits = Limits::new(LimitsConfig {
            app_rate_bytes_per_sec: 1000,
            app_burst_bytes: 1000,
            ..LimitsConfig::default()
        });
        let busy = limits.app_bucket("busy").expect("limited");
        assert!(busy.try_take(1000, Instant::now()));
        for i in 0..MAX_APP_BUCKETS {
            let _ = limits.app_bucket(&format!("app{i}"));
        }
        let apps = limits.apps.lock().expect("lock");
        assert!(apps.len() <= MAX_APP_BUCKETS, "{} buckets", apps.len());
        assert!(apps.contains_key("busy"), "a bucket in use is kept");
    }

    #[test]
    fn pieces_cut_at_char_boundaries() {
        assert_eq!(pieces("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(pieces("abcd", 4), vec!["abcd"]);
        // "é" is two bytes: a cut never splits it.
        let p = pieces("aéééé", 4);
        assert!(p.iter().all(|s| s.len() <= 4), "{p:?}");
        assert_eq!(p.concat(), "aéééé");
    }

    #[test]
    fn long_lines_become_split_pieces_with_their_own_positions() {
        // Byte positions: "short\n" ends at 6, a 10-byte line ends at 17.
        let lines = vec![line(6, "short"), line(17, "0123456789")];
        let (out, cut) = cut_long_lines(lines, 5, Some(0));
        assert_eq!(
            cut,
            Cut {
                long_lines: 1,
                pieces_dropped: 0
            }
        );
        let got: Vec<(u64, &str, bool)> = out
            .iter()
            .map(|l| (l.end, l.text.as_str(), l.split))
            .collect();
        assert_eq!(
            got,
            vec![
                (6, "short", false),
                (16, "01234", true),
                (17, "56789", false),
            ]
        );
    }

    #[test]
    fn lines_numbered_one_by_one_keep_what_fits_and_count_the_rest() {
        // Positions 1, 2: no room for more than one piece of the second line.
        let lines = vec![line(1, "a"), line(2, "0123456789")];
        let (out, cut) = cut_long_lines(lines, 4, None);
        assert_eq!(cut.pieces_dropped, 2);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[1].end, out[1].text.as_str(), out[1].split),
            (2, "0123", true)
        );
        // Above the durable position only: the first line's pieces never go below it.
        let (out, cut) = cut_long_lines(vec![line(12, "0123456789")], 4, Some(10));
        assert_eq!(cut.pieces_dropped, 1);
        assert_eq!(out.iter().map(|l| l.end).collect::<Vec<_>>(), vec![11, 12]);
    }

    #[test]
    fn short_lines_pass_untouched() {
        let lines = vec![line(3, "ab"), line(6, "cd")];
        let (out, cut) = cut_long_lines(lines.clone(), 4, None);
        assert_eq!(out, lines);
        assert_eq!(cut, Cut::default());
    }
}
