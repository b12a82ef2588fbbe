//! The collector's configuration: a TOML file plus command-line overrides, checked once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// A configuration that cannot be used, naming the key and the reason.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// Everything the collector needs to run. Every field has a default that works on one machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the write-ahead log and the index. Created when missing.
    pub data_dir: PathBuf,
    /// HTTP API and browser page.
    pub http_addr: SocketAddr,
    /// Acknowledged TCP ingest (wire protocol v1).
    pub tcp_addr: SocketAddr,
    /// Fire-and-forget UDP ingest.
    pub udp_addr: SocketAddr,
    /// Largest frame accepted on TCP ingest, in bytes (length prefix excluded).
    pub max_frame_bytes: usize,
    /// Time a new TCP connection has to send its `hello`, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// When set, shippers must present this token in `hello` and API clients as a bearer token.
    pub token: Option<String>,
    /// Write-ahead log settings.
    pub wal: WalConfig,
    /// Index settings.
    pub index: IndexConfig,
}

/// Write-ahead log settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// A WAL file is closed and a new one started past this size, in bytes.
    pub max_file_bytes: u64,
    /// fsync before acknowledging. Turning it off trades the delivery guarantee on power loss
    /// (not on a process crash) for speed.
    pub fsync: bool,
}

/// Index settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// How often new records become searchable, in milliseconds.
    pub commit_interval_ms: u64,
    /// Memory budget of the index writer, in bytes.
    pub writer_memory_bytes: usize,
}

const fn default_max_frame_bytes() -> usize {
    logq_schemas::DEFAULT_MAX_FRAME_BYTES
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./logq-data"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            tcp_addr: SocketAddr::from(([127, 0, 0, 1], 7701)),
            udp_addr: SocketAddr::from(([127, 0, 0, 1], 7702)),
            max_frame_bytes: default_max_frame_bytes(),
            handshake_timeout_ms: 10_000,
            token: None,
            wal: WalConfig::default(),
            index: IndexConfig::default(),
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            max_file_bytes: 64 * 1024 * 1024,
            fsync: true,
        }
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            commit_interval_ms: 500,
            writer_memory_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are refused.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text (errors name the key and the line).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Checks the values that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        if !(1024..=64 * 1024 * 1024).contains(&self.max_frame_bytes) {
            return invalid("max_frame_bytes", "must be between 1 KiB and 64 MiB");
        }
        if self.handshake_timeout_ms == 0 {
            return invalid("handshake_timeout_ms", "must be above 0");
        }
        if self.wal.max_file_bytes < 1024 * 1024 {
            return invalid("wal.max_file_bytes", "must be at least 1 MiB");
        }
        if !(10..=60_000).contains(&self.index.commit_interval_ms) {
            return invalid("index.commit_interval_ms", "must be between 10 and 60000");
        }
        if self.index.writer_memory_bytes < 15_000_000 {
            return invalid(
                "index.writer_memory_bytes",
                "must be at least 15000000 (tantivy's floor)",
            );
        }
        if self.token.as_deref().is_some_and(str::is_empty) {
            return invalid("token", "must not be empty when set");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let config = Config::default();
        config.validate().expect("defaults valid");
        assert!(config.http_addr.ip().is_loopback());
        assert_eq!(config.tcp_addr.port(), 7701);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Config::from_toml("data_dir = \"x\"\nretention_dayz = 3\n").expect_err("refused");
        assert!(err.contains("retention_dayz"), "{err}");
        let err = Config::from_toml("[wal]\nfsink = true\n").expect_err("refused");
        assert!(err.contains("fsink"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let config = Config::from_toml("[index]\ncommit_interval_ms = 0\n").expect("parses");
        let err = config.validate().expect_err("invalid").to_string();
        assert!(err.contains("index.commit_interval_ms"), "{err}");
    }
}
