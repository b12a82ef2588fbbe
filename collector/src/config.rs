//! The collector's configuration: a TOML file plus command-line overrides, checked once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use tokio::sync::Semaphore;

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
    /// A single token for both ingest and reading (shippers present it in `hello`, API clients
    /// as a bearer token). `[[tokens]]` gives finer ones.
    pub token: Option<String>,
    /// Ingest and read tokens; see [`TokenConfig`].
    pub tokens: Vec<TokenConfig>,
    /// TLS on TCP ingest and HTTP.
    pub tls: Option<TlsConfig>,
    /// Listen on non-loopback addresses without TLS and tokens (also `--insecure`).
    pub insecure: bool,
    /// Write-ahead log settings.
    pub wal: WalConfig,
    /// Index settings.
    pub index: IndexConfig,
    /// Sealed segments.
    pub storage: StorageConfig,
    /// How much is kept: per app, in all, and the disk's free-space floor.
    pub retention: RetentionConfig,
    /// Bounds on ingest and queries: line and batch sizes, rates, connections, timeouts.
    pub limits: LimitsConfig,
}

/// Bounds on what clients may make the collector do. The defaults never bother a small
/// deployment; each limit, when it applies, is counted in `logq_limit_hits_total{limit=...}` and
/// said once in the log. Sizes and rates take "8MiB"-style strings or byte counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Longest line stored whole, in bytes. A longer line is cut into pieces of at most this
    /// many bytes, stored as consecutive records marked `split` (as the shipper cuts lines at
    /// its `--max-line-bytes`); nothing is refused.
    #[serde(deserialize_with = "size")]
    pub max_line_bytes: u64,
    /// Most lines in one TCP batch frame. A batch with more gets a fatal `frame_too_large`
    /// error frame and the connection closes (its bytes are bounded by `max_frame_bytes`).
    pub max_batch_lines: usize,
    /// Line text one TCP connection may send per second, in bytes; 0 for no limit. Over it,
    /// the collector reads the connection's next batch (and so acks) later: back-pressure,
    /// nothing is dropped.
    #[serde(deserialize_with = "size")]
    pub connection_rate_bytes_per_sec: u64,
    /// Bytes a connection may send at once above its rate.
    #[serde(deserialize_with = "size")]
    pub connection_burst_bytes: u64,
    /// Line text one app may send per second over all transports, in bytes; 0 for no limit.
    /// TCP waits as above; UDP datagrams over it are dropped and counted.
    #[serde(deserialize_with = "size")]
    pub app_rate_bytes_per_sec: u64,
    /// Bytes an app may send at once above its rate.
    #[serde(deserialize_with = "size")]
    pub app_burst_bytes: u64,
    /// Most open TCP ingest connections. Past it, a new connection gets an `unavailable`
    /// error frame and is closed.
    pub max_connections: usize,
    /// A TCP connection that completes no frame for this long after its handshake is closed,
    /// in seconds (the shipper reconnects when it has lines again).
    pub idle_timeout_secs: u64,
    /// Once the first byte of a frame has arrived, the whole frame must arrive within this time, in
    /// milliseconds: a client trickling bytes is closed instead of holding a connection.
    pub frame_timeout_ms: u64,
    /// Largest HTTP request body, in bytes; a larger one gets 413.
    #[serde(deserialize_with = "size")]
    pub max_http_body_bytes: u64,
    /// A search or histogram taking longer gets 503 with a message saying so, in milliseconds.
    pub query_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_line_bytes: 1024 * 1024,
            max_batch_lines: 100_000,
            connection_rate_bytes_per_sec: 64 * 1024 * 1024,
            connection_burst_bytes: 64 * 1024 * 1024,
            app_rate_bytes_per_sec: 32 * 1024 * 1024,
            app_burst_bytes: 64 * 1024 * 1024,
            max_connections: 1024,
            idle_timeout_secs: 3600,
            frame_timeout_ms: 30_000,
            max_http_body_bytes: 8 * 1024 * 1024,
            query_timeout_ms: 30_000,
        }
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        if self.max_line_bytes < 64 {
            return invalid("limits.max_line_bytes", "must be at least 64");
        }
        if self.max_batch_lines == 0 {
            return invalid("limits.max_batch_lines", "must be above 0");
        }
        if self.connection_rate_bytes_per_sec > 0 && self.connection_burst_bytes == 0 {
            return invalid(
                "limits.connection_burst_bytes",
                "must be above 0 when connection_rate_bytes_per_sec is set",
            );
        }
        if self.app_rate_bytes_per_sec > 0 && self.app_burst_bytes == 0 {
            return invalid(
                "limits.app_burst_bytes",
                "must be above 0 when app_rate_bytes_per_sec is set",
            );
        }
        if !(1..=Semaphore::MAX_PERMITS).contains(&self.max_connections) {
            return invalid("limits.max_connections", "must be above 0");
        }
        if self.idle_timeout_secs == 0 {
            return invalid("limits.idle_timeout_secs", "must be above 0");
        }
        if self.frame_timeout_ms < 100 {
            return invalid("limits.frame_timeout_ms", "must be at least 100");
        }
        if self.max_http_body_bytes < 1024 {
            return invalid("limits.max_http_body_bytes", "must be at least 1 KiB");
        }
        if self.query_timeout_ms == 0 {
            return invalid("limits.query_timeout_ms", "must be above 0");
        }
        Ok(())
    }
}

/// TLS for TCP ingest and HTTP (UDP cannot have it), with rustls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the collector.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
    /// When set, TCP ingest requires a client certificate signed by a CA in this PEM bundle.
    pub client_ca: Option<PathBuf>,
}

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Send lines (TCP, UDP, `POST /api/v1/ingest`).
    Ingest,
    /// Search, tail, list apps, read metrics, use the page.
    Read,
    /// Both.
    All,
}

impl Role {
    pub fn ingest(self) -> bool {
        matches!(self, Role::Ingest | Role::All)
    }

    pub fn read(self) -> bool {
        matches!(self, Role::Read | Role::All)
    }
}

/// One token. Once any ingest token exists ingest needs one; once any read token exists
/// reading does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (never the secret).
    pub name: String,
    /// The secret...
    pub secret: Option<String>,
    /// ...or a file holding it (one trailing newline is ignored). Exactly one of the two.
    pub secret_file: Option<PathBuf>,
    /// `ingest`, `read` or `all`.
    pub role: Role,
    /// For ingest: the app names this token may send; empty means any.
    #[serde(default)]
    pub apps: Vec<String>,
}

impl TokenConfig {
    /// The secret, read from its file when it has one.
    pub fn secret(&self) -> Result<String, String> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(s), None) => s.clone(),
            (None, Some(path)) => {
                use std::io::Read;
                // A secret is one short line: a huge or endless file is refused, not read.
                const MAX_SECRET_FILE_BYTES: u64 = 4096;
                let mut text = String::new();
                std::fs::File::open(path)
                    .and_then(|f| f.take(MAX_SECRET_FILE_BYTES + 1).read_to_string(&mut text))
                    .map_err(|e| format!("cannot read secret_file {}: {e}", path.display()))?;
                if text.len() as u64 > MAX_SECRET_FILE_BYTES {
                    return Err(format!(
                        "secret_file {} is over {MAX_SECRET_FILE_BYTES} bytes; it holds one line",
                        path.display()
                    ));
                }
                let text = text.strip_suffix('\n').unwrap_or(&text);
                text.strip_suffix('\r').unwrap_or(text).to_owned()
            }
            _ => return Err("give exactly one of secret and secret_file".into()),
        };
        if secret.len() < 8 {
            return Err("the secret must be at least 8 bytes".into());
        }
        Ok(secret)
    }
}

/// Sealed segment settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// An app's unsealed records are sealed into a segment at this many message bytes...
    #[serde(deserialize_with = "size")]
    pub segment_max_bytes: u64,
    /// ...or when the oldest of them is this old (e.g. "1h").
    #[serde(deserialize_with = "age")]
    pub segment_max_age_secs: u64,
    /// Raw bytes per zstd frame in a segment.
    #[serde(deserialize_with = "size")]
    pub frame_bytes: u64,
    /// zstd level of segment frames. Default 1, by measurement (README, Storage): on 1 MiB
    /// frames of records it compresses better than 3 and 1.8x faster; 8 saves 7% more at a
    /// thirteenth of the speed.
    pub zstd_level: i32,
}

/// Retention limits. Sizes take "200MiB"-style strings or byte counts; ages "7d", "12h",
/// "30m" or seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Bytes the data dir may hold in all (segments, index, WAL).
    #[serde(deserialize_with = "opt_size")]
    pub max_bytes: Option<u64>,
    /// Keep at least this many bytes free on the data dir's filesystem...
    #[serde(deserialize_with = "size")]
    pub min_free_bytes: u64,
    /// ...and at least this percentage of it (whichever is more).
    pub min_free_percent: u8,
    /// Limits of apps not named under `apps`.
    pub default: AppRetention,
    /// Per-app limits.
    pub apps: std::collections::BTreeMap<String, AppRetention>,
}

/// One app's limits.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppRetention {
    /// Bytes of sealed segments (with their indexes) the app may keep.
    #[serde(deserialize_with = "opt_size")]
    pub max_bytes: Option<u64>,
    /// Sealed data older than this goes.
    #[serde(deserialize_with = "opt_age")]
    pub max_age_secs: Option<u64>,
}

impl RetentionConfig {
    /// The limits that apply to `app`.
    pub fn for_app(&self, app: &str) -> &AppRetention {
        self.apps.get(app).unwrap_or(&self.default)
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            segment_max_bytes: 64 * 1024 * 1024,
            segment_max_age_secs: 3600,
            frame_bytes: 1024 * 1024,
            zstd_level: 1,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_bytes: None,
            min_free_bytes: 2 * 1024 * 1024 * 1024,
            min_free_percent: 10,
            default: AppRetention::default(),
            apps: Default::default(),
        }
    }
}

/// A size: a byte count or a string such as "200MiB" (K/M/G/T, powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 512MiB or 2GiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("unknown size unit in {s:?}")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// An age in seconds: a number of seconds or a string such as "7d", "12h", "30m", "45s".
pub fn parse_age(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not an age such as 7d, 12h or 30m"))?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown age unit in {s:?} (use s, m, h, d or w)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

fn with<'de, D: serde::Deserializer<'de>>(
    d: D,
    parse: fn(&str) -> Result<u64, String>,
) -> Result<u64, D::Error> {
    match NumOrText::deserialize(d)? {
        NumOrText::Num(n) => Ok(n),
        NumOrText::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    with(d, parse_size)
}

fn age<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    with(d, parse_age)
}

fn opt_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size(d).map(Some)
}

fn opt_age<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    age(d).map(Some)
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
    /// How long a multi-line event (a stack trace) waits for its next line, in milliseconds;
    /// the last line of a stream is searchable after about this long plus a commit.
    pub event_idle_ms: u64,
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
            tokens: Vec::new(),
            tls: None,
            insecure: false,
            wal: WalConfig::default(),
            index: IndexConfig::default(),
            storage: StorageConfig::default(),
            retention: RetentionConfig::default(),
            limits: LimitsConfig::default(),
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
            event_idle_ms: 400,
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
        if self.storage.segment_max_bytes < 1024 * 1024 {
            return invalid("storage.segment_max_bytes", "must be at least 1 MiB");
        }
        if self.storage.segment_max_age_secs == 0 {
            return invalid("storage.segment_max_age_secs", "must be above 0");
        }
        if !(4096..=64 * 1024 * 1024).contains(&self.storage.frame_bytes) {
            return invalid("storage.frame_bytes", "must be between 4 KiB and 64 MiB");
        }
        if !(1..=22).contains(&self.storage.zstd_level) {
            return invalid("storage.zstd_level", "must be between 1 and 22");
        }
        if self.retention.min_free_percent > 90 {
            return invalid("retention.min_free_percent", "must be at most 90");
        }
        for name in self.retention.apps.keys() {
            if logq_schemas::validate_app_name(name).is_err() {
                return invalid(
                    "retention.apps",
                    &format!("{name:?} is not a valid app name"),
                );
            }
        }
        if self.token.as_deref().is_some_and(str::is_empty) {
            return invalid("token", "must not be empty when set");
        }
        let mut names = std::collections::BTreeSet::new();
        for t in &self.tokens {
            if t.name.is_empty() || !names.insert(t.name.as_str()) {
                return invalid("tokens", &format!("name {:?} is empty or repeated", t.name));
            }
            if !t.apps.is_empty() && t.role != Role::Ingest {
                return invalid(
                    "tokens",
                    &format!("token {:?}: apps binds ingest tokens only", t.name),
                );
            }
            if let Some(bad) = t
                .apps
                .iter()
                .find(|a| logq_schemas::validate_app_name(a).is_err())
            {
                return invalid(
                    "tokens",
                    &format!("token {:?}: {bad:?} is not a valid app name", t.name),
                );
            }
        }
        self.limits.validate()?;
        self.check_exposure()
    }

    /// Refuses a non-loopback listener that is not protected, unless `insecure`: TCP ingest
    /// needs TLS and an ingest token, HTTP TLS and a read token, and UDP (which can have
    /// neither) needs `insecure`.
    fn check_exposure(&self) -> Result<(), ConfigError> {
        if self.insecure {
            return Ok(());
        }
        let has = |role: fn(Role) -> bool| {
            self.token.is_some() || self.tokens.iter().any(|t| role(t.role))
        };
        let tls = self.tls.is_some();
        let exposed = |key: &'static str, addr: SocketAddr, needs: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: format!(
                    "{addr} is not a loopback address and {needs}; configure them or accept \
                     the risk with --insecure (insecure = true)"
                ),
            })
        };
        let protected = |role| tls && has(role);
        if !(self.tcp_addr.ip().is_loopback() || protected(Role::ingest)) {
            return exposed(
                "tcp_addr",
                self.tcp_addr,
                "TCP ingest there needs [tls] and an ingest token",
            );
        }
        if !(self.http_addr.ip().is_loopback() || protected(Role::read)) {
            return exposed(
                "http_addr",
                self.http_addr,
                "HTTP there needs [tls] and a read token",
            );
        }
        if !self.udp_addr.ip().is_loopback() {
            return exposed(
                "udp_addr",
                self.udp_addr,
                "UDP ingest can have neither TLS nor a private token",
            );
        }
        Ok(())
    }

    /// Listeners on non-loopback addresses, for the warning `--insecure` prints at start.
    pub fn exposed_listeners(&self) -> Vec<String> {
        [
            ("http", self.http_addr),
            ("tcp", self.tcp_addr),
            ("udp", self.udp_addr),
        ]
        .into_iter()
        .filter(|(_, a)| !a.ip().is_loopback())
        .map(|(name, a)| format!("{name}={a}"))
        .collect()
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
    fn retention_takes_sizes_and_ages_as_text_or_numbers() {
        let config = Config::from_toml(
            "[retention]\nmax_bytes = \"10GiB\"\nmin_free_percent = 5\n\
             [retention.default]\nmax_age_secs = \"7d\"\n\
             [retention.apps.sidekiq]\nmax_bytes = \"200MiB\"\nmax_age_secs = 3600\n\
             [storage]\nsegment_max_bytes = 2097152\nsegment_max_age_secs = \"10m\"\n",
        )
        .expect("parses");
        config.validate().expect("valid");
        let r = &config.retention;
        assert_eq!(r.max_bytes, Some(10 << 30));
        assert_eq!(r.for_app("sidekiq").max_bytes, Some(200 << 20));
        assert_eq!(r.for_app("sidekiq").max_age_secs, Some(3600));
        assert_eq!(r.for_app("web").max_age_secs, Some(7 * 86_400));
        assert_eq!(config.storage.segment_max_age_secs, 600);
        let err = Config::from_toml("[retention]\nmax_bytes = \"lots\"\n").expect_err("bad");
        assert!(err.contains("not a size"), "{err}");
        let config =
            Config::from_toml("[retention.apps.\"../x\"]\nmax_bytes = 1\n").expect("parses");
        assert!(
            config
                .validate()
                .expect_err("bad")
                .to_string()
                .contains("retention.apps")
        );
    }

    #[test]
    fn non_loopback_listeners_need_tls_and_tokens_or_insecure() {
        let open = Config::from_toml("tcp_addr = \"0.0.0.0:7701\"\n").expect("parses");
        let err = open.validate().expect_err("refused").to_string();
        assert!(
            err.contains("tcp_addr") && err.contains("--insecure"),
            "{err}"
        );
        let http = Config::from_toml("http_addr = \"0.0.0.0:7700\"\ntoken = \"s3cret-token\"\n")
            .expect("parses");
        let err = http
            .validate()
            .expect_err("refused without tls")
            .to_string();
        assert!(err.contains("http_addr") && err.contains("[tls]"), "{err}");
        let guarded = Config::from_toml(
            "http_addr = \"0.0.0.0:7700\"\ntcp_addr = \"0.0.0.0:7701\"\n\
             token = \"s3cret-token\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
        )
        .expect("parses");
        guarded.validate().expect("tls and a token are enough");
        let udp = Config::from_toml("udp_addr = \"0.0.0.0:7702\"\n").expect("parses");
        assert!(
            udp.validate()
                .expect_err("refused")
                .to_string()
                .contains("udp_addr")
        );
        let mut insecure = udp;
        insecure.insecure = true;
        insecure.validate().expect("insecure accepts the risk");
        assert_eq!(
            insecure.exposed_listeners(),
            vec!["udp=0.0.0.0:7702".to_string()]
        );
    }

    #[test]
    fn tokens_are_checked_by_name() {
        let err = Config::from_toml("[[tokens]]\nname = \"a\"\nsecret = \"x\"\nrole = \"admin\"\n")
            .expect_err("unknown role");
        assert!(err.contains("admin"), "{err}");
        let config = Config::from_toml(
            "[[tokens]]\nname = \"a\"\nsecret = \"12345678\"\nrole = \"read\"\napps = [\"web\"]\n",
        )
        .expect("parses");
        assert!(
            config
                .validate()
                .expect_err("apps on read")
                .to_string()
                .contains("tokens")
        );
        let config = Config::from_toml(
            "[[tokens]]\nname = \"a\"\nsecret = \"12345678\"\nrole = \"ingest\"\napps = [\"../etc\"]\n",
        )
        .expect("parses");
        assert!(
            config
                .validate()
                .expect_err("bad app")
                .to_string()
                .contains("../etc")
        );
    }

    #[test]
    fn limits_take_sizes_and_name_their_keys() {
        let config = Config::from_toml(
            "[limits]\nmax_line_bytes = \"64KiB\"\napp_rate_bytes_per_sec = \"1MiB\"\n\
             max_connections = 10\nidle_timeout_secs = 5\n",
        )
        .expect("parses");
        config.validate().expect("valid");
        assert_eq!(config.limits.max_line_bytes, 64 * 1024);
        assert_eq!(config.limits.app_rate_bytes_per_sec, 1 << 20);
        assert_eq!(config.limits.query_timeout_ms, 30_000, "defaults kept");
        let err = Config::from_toml("[limits]\nmax_conections = 3\n").expect_err("typo");
        assert!(err.contains("max_conections"), "{err}");
        let config = Config::from_toml("[limits]\nframe_timeout_ms = 0\n").expect("parses");
        let err = config.validate().expect_err("invalid").to_string();
        assert!(err.contains("limits.frame_timeout_ms"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let config = Config::from_toml("[index]\ncommit_interval_ms = 0\n").expect("parses");
        let err = config.validate().expect_err("invalid").to_string();
        assert!(err.contains("index.commit_interval_ms"), "{err}");
    }
}
