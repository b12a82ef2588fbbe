//! The collector's metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! One [`Metrics`] per collector, with its own registry (never a global: tests run several
//! collectors in one process). Ingest, storage and the API count into it where things happen;
//! what the store holds (segments, bytes per app) is read from the store at scrape time.
//!
//! Families (OpenMetrics adds `_total` to counters):
//! - `logq_received_lines_total`, `logq_received_bytes_total` {app, transport}: line text received
//!   (`tcp`, `udp`, `http`), before any limit;
//! - `logq_stored_records_total` {app}: records appended to the app's active segment
//!   (records the WAL replays at start count again);
//! - `logq_dropped_total` {app, reason}: lines dropped, or datagrams/frames where their lines
//!   are unknown (`app="unknown"`); reasons are [`DropReason`]s;
//! - `logq_segments`, `logq_disk_bytes` {app}: sealed segments and their bytes on disk;
//! - `logq_evictions_total` {reason}: segments evicted by retention;
//! - `logq_ingest_latency_seconds` {transport}: batch received to durable ack;
//! - `logq_query_latency_seconds` {endpoint}: API request to response head;
//! - `logq_connections_open`, `logq_connections_refused_total` {reason}: TCP ingest;
//! - `logq_limit_hits_total` {limit}: every time a limit applied, by its config key.

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::limits::Limit;
use crate::storage::{AppInfo, EvictReason};

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How lines reached the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
    Http,
}

impl Transport {
    const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Http => "http",
        }
    }
}

/// Why input was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A UDP datagram that does not decode or names an invalid app (one per datagram).
    UdpDecode,
    /// Over the app's rate (UDP; TCP waits instead).
    RateLimit,
    /// An app name that fails validation.
    InvalidApp,
    /// A frame above `max_frame_bytes` (one per frame).
    FrameTooLarge,
    /// A batch above `limits.max_batch_lines` (its lines).
    BatchTooLarge,
    /// Pieces of an over-long line whose positions left no room for them.
    LineTruncated,
}

impl DropReason {
    const fn as_str(self) -> &'static str {
        match self {
            DropReason::UdpDecode => "udp_decode",
            DropReason::RateLimit => "rate_limit",
            DropReason::InvalidApp => "invalid_app",
            DropReason::FrameTooLarge => "frame_too_large",
            DropReason::BatchTooLarge => "batch_too_large",
            DropReason::LineTruncated => "line_truncated",
        }
    }
}

/// Why a TCP ingest connection was refused before its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    /// `limits.max_connections` were open.
    MaxConnections,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppTransport {
    app: String,
    transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppReason {
    app: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies from 1 ms to about 65 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric of one collector.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    received_lines: Family<AppTransport, Counter>,
    received_bytes: Family<AppTransport, Counter>,
    stored_records: Family<AppLabel, Counter>,
    dropped: Family<AppReason, Counter>,
    segments: Family<AppLabel, Gauge>,
    disk_bytes: Family<AppLabel, Gauge>,
    evictions: Family<ReasonLabel, Counter>,
    ingest_latency: Histograms<TransportLabel>,
    query_latency: Histograms<EndpointLabel>,
    connections_open: Gauge,
    connections_refused: Family<ReasonLabel, Counter>,
    limit_hits: Family<LimitLabel, Counter>,
    config_reloads: Family<ResultLabel, Counter>,
    /// Limits already said in the log: each is said once, then only counted.
    said: Mutex<HashSet<Limit>>,
    /// One scrape at a time refills the store gauges.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("logq");
        let m = Metrics {
            registry: Registry::default(),
            received_lines: Family::default(),
            received_bytes: Family::default(),
            stored_records: Family::default(),
            dropped: Family::default(),
            segments: Family::default(),
            disk_bytes: Family::default(),
            evictions: Family::default(),
            ingest_latency: Family::new_with_constructor(latency_histogram),
            query_latency: Family::new_with_constructor(latency_histogram),
            connections_open: Gauge::default(),
            connections_refused: Family::default(),
            limit_hits: Family::default(),
            config_reloads: Family::default(),
            said: Mutex::default(),
            scrape: Mutex::default(),
        };
        let r = &mut registry;
        r.register(
            "received_lines",
            "Lines received, by app and transport",
            m.received_lines.clone(),
        );
        r.register(
            "received_bytes",
            "Bytes of line text received, by app and transport",
            m.received_bytes.clone(),
        );
        r.register(
            "stored_records",
            "Records appended to storage, by app",
            m.stored_records.clone(),
        );
        r.register(
            "dropped",
            "Lines (or whole datagrams and frames, app unknown) dropped, by app and reason",
            m.dropped.clone(),
        );
        r.register("segments", "Sealed segments, by app", m.segments.clone());
        r.register(
            "disk_bytes",
            "Bytes of sealed segments and their indexes on disk, by app",
            m.disk_bytes.clone(),
        );
        r.register(
            "evictions",
            "Segments evicted by retention, by reason",
            m.evictions.clone(),
        );
        r.register(
            "ingest_latency_seconds",
            "Time from a batch received to its durable ack, by transport",
            m.ingest_latency.clone(),
        );
        r.register(
            "query_latency_seconds",
            "Time from an API request to its response head, by endpoint",
            m.query_latency.clone(),
        );
        r.register(
            "connections_open",
            "Open TCP ingest connections",
            m.connections_open.clone(),
        );
        r.register(
            "config_reloads",
            "Config reloads on SIGHUP, by result (applied or refused)",
            m.config_reloads.clone(),
        );
        r.register(
            "connections_refused",
            "TCP ingest connections refused before their handshake, by reason",
            m.connections_refused.clone(),
        );
        r.register(
            "limit_hits",
            "Times a limit applied, by its config key",
            m.limit_hits.clone(),
        );
        // Known label values start at 0, so that dashboards and alerts see them before the
        // first event.
        for reason in [
            EvictReason::AppMaxBytes,
            EvictReason::AppMaxAge,
            EvictReason::GlobalMaxBytes,
            EvictReason::DiskFloor,
        ] {
            let _ = m.evictions.get_or_create(&ReasonLabel {
                reason: evict_reason(reason),
            });
        }
        let _ = m.connections_refused.get_or_create(&ReasonLabel {
            reason: refused_reason(RefusedReason::MaxConnections),
        });
        for reason in [DropReason::UdpDecode, DropReason::FrameTooLarge] {
            let _ = m.dropped.get_or_create(&AppReason {
                app: "unknown".to_owned(),
                reason: reason.as_str(),
            });
        }
        for limit in Limit::ALL {
            let _ = m
                .limit_hits
                .get_or_create(&LimitLabel { limit: limit.key() });
        }
        Metrics { registry, ..m }
    }

    /// Lines received (before limits); the HTTP ingest calls this too.
    pub fn received(&self, app: &str, transport: Transport, lines: u64, bytes: u64) {
        let labels = AppTransport {
            app: app.to_owned(),
            transport: transport.as_str(),
        };
        self.received_lines.get_or_create(&labels).inc_by(lines);
        self.received_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// Records appended to `app`'s storage.
    pub fn stored(&self, app: &str, records: u64) {
        let labels = AppLabel {
            app: app.to_owned(),
        };
        self.stored_records.get_or_create(&labels).inc_by(records);
    }

    /// A config reload applied (`true`) or refused.
    pub fn config_reloaded(&self, applied: bool) {
        let result = if applied { "applied" } else { "refused" };
        self.config_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Input dropped; `app` is `None` when it is not known.
    pub fn dropped(&self, app: Option<&str>, reason: DropReason, count: u64) {
        let labels = AppReason {
            app: app.unwrap_or("unknown").to_owned(),
            reason: reason.as_str(),
        };
        self.dropped.get_or_create(&labels).inc_by(count);
    }

    /// A segment evicted.
    pub fn evicted(&self, reason: EvictReason) {
        self.evictions
            .get_or_create(&ReasonLabel {
                reason: evict_reason(reason),
            })
            .inc();
    }

    /// Starts timing a batch: [`LatencyTimer::observe`] once it is durable.
    pub fn ingest_timer(&self, transport: Transport) -> LatencyTimer {
        LatencyTimer {
            histogram: self
                .ingest_latency
                .get_or_create(&TransportLabel {
                    transport: transport.as_str(),
                })
                .clone(),
            started: Instant::now(),
        }
    }

    /// An API request of `endpoint` answered after `seconds`.
    pub fn query_latency(&self, endpoint: &'static str, seconds: f64) {
        self.query_latency
            .get_or_create(&EndpointLabel { endpoint })
            .observe(seconds);
    }

    /// A TCP ingest connection opened; it counts as open until the guard drops.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.connections_open.inc();
        ConnectionGuard(self.connections_open.clone())
    }

    /// A TCP ingest connection refused.
    pub fn connection_refused(&self, reason: RefusedReason) {
        self.connections_refused
            .get_or_create(&ReasonLabel {
                reason: refused_reason(reason),
            })
            .inc();
    }

    /// A limit applied: counted every time, said in the log the first time only.
    pub fn limit_hit(&self, limit: Limit, detail: impl Display) {
        self.limit_hits
            .get_or_create(&LimitLabel { limit: limit.key() })
            .inc();
        let first = self.said.lock().expect("said lock").insert(limit);
        if first {
            tracing::warn!(
                limit = limit.key(),
                "limit reached: {detail} (said once; see logq_limit_hits_total in /metrics)"
            );
        }
    }

    /// The exposition, with the store's per-app figures as of now.
    pub fn encode(&self, apps: &[AppInfo]) -> String {
        let _one = self.scrape.lock().expect("scrape lock");
        self.segments.clear();
        self.disk_bytes.clear();
        for a in apps {
            let labels = AppLabel { app: a.app.clone() };
            self.segments.get_or_create(&labels).set(a.segments as i64);
            self.disk_bytes
                .get_or_create(&labels)
                .set(i64::try_from(a.disk_bytes).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

const fn evict_reason(reason: EvictReason) -> &'static str {
    match reason {
        EvictReason::AppMaxBytes => "app_max_bytes",
        EvictReason::AppMaxAge => "app_max_age",
        EvictReason::GlobalMaxBytes => "global_max_bytes",
        EvictReason::DiskFloor => "disk_floor",
    }
}

const fn refused_reason(reason: RefusedReason) -> &'static str {
    match reason {
        RefusedReason::MaxConnections => "max_connections",
    }
}

/// Times one batch; see [`Metrics::ingest_timer`].
#[derive(Debug)]
pub struct LatencyTimer {
    histogram: Histogram,
    started: Instant,
}

impl LatencyTimer {
    pub fn observe(self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

/// Counts a connection as open while it lives.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_appear_with_their_labels() {
        let m = Metrics::new();
        m.received("web", Transport::Tcp, 3, 42);
        m.dropped(None, DropReason::UdpDecode, 1);
        m.limit_hit(Limit::AppRate, "test");
        m.limit_hit(Limit::AppRate, "test");
        let guard = m.connection_opened();
        m.ingest_timer(Transport::Tcp).observe();
        let text = m.encode(&[]);
        for want in [
            "logq_received_lines_total{app=\"web\",transport=\"tcp\"} 3",
            "logq_received_bytes_total{app=\"web\",transport=\"tcp\"} 42",
            "logq_dropped_total{app=\"unknown\",reason=\"udp_decode\"} 1",
            "logq_limit_hits_total{limit=\"limits.app_rate_bytes_per_sec\"} 2",
            "logq_connections_open 1",
            "logq_ingest_latency_seconds_count{transport=\"tcp\"} 1",
            "logq_evictions_total{reason=\"disk_floor\"} 0",
            "logq_limit_hits_total{limit=\"limits.query_timeout_ms\"} 0",
            "# EOF",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        drop(guard);
        assert!(m.encode(&[]).contains("logq_connections_open 0"));
    }
}
