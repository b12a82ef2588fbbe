//! `logq-shipper`: reads log lines and delivers them to a logq collector.
//!
//! Sources ([`source`]: tailed files through rotation, and a spool in front of stdin, of a
//! child's output for `pipe` and `run`, and of supervisord's events for [`supervisor`]) split
//! bytes into lines with stream positions ([`lines`]); the delivery core ([`ship`]) keeps one
//! connection ([`transport`]), batches lines, and advances the checkpoint ([`state`]) only on
//! the collector's acks. [`udp`] is the fire-and-forget alternative.
//!
//! The shipper never parses log formats (that is the collector's job) and never links tantivy
//! or axum: it must stay small, and a slow collector must never make it grow without bound.

pub mod backoff;
pub mod cli;
pub mod config;
pub mod lines;
pub mod pm2;
pub mod run;
pub mod ship;
pub mod source;
pub mod state;
pub mod supervisor;
pub mod tls;
pub mod transport;
pub mod udp;

/// The machine's host name, or `localhost`.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// This host's time zone: an IANA name when known, else the current offset like `+01:00`.
pub fn time_zone() -> String {
    let tz = jiff::tz::TimeZone::system();
    match tz.iana_name() {
        Some(name) => name.to_owned(),
        None => tz.to_offset(jiff::Timestamp::now()).to_string(),
    }
}
