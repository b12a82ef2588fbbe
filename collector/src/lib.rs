//! `logq-collector`: receives log lines, makes them durable, indexes them and serves search.
//!
//! Data flow: [`ingest`] (TCP frames, UDP datagrams) → [`wal`] (group-committed, fsynced before
//! any ack) → [`normalize`] (lines to records) → [`index`] (tantivy, committed with the WAL
//! location it covers) → [`api`] (HTTP search), and [`web`] serves the page that uses it.
//! [`server`] wires them and owns shutdown.
//!
//! The collector must never acknowledge a line before it is durable, never store a line twice
//! for the same stream position, and never let one client's bad input affect another's.

pub mod api;
pub mod auth;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod index;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod normalize;
pub mod query;
pub mod server;
pub mod storage;
pub mod tls;
pub mod ui;
pub mod wal;

pub use config::Config;
