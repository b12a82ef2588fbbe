//! Command-line arguments (a stable contract: scripts depend on it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Ships log lines to a logq collector.
///
/// Run a SUBCOMMAND, or `--config FILE` alone to run the sources a config file names.
#[derive(Debug, Parser)]
#[command(name = "logq-shipper", version)]
pub struct Args {
    /// Config file (TOML): destination, state dir, host and sources ([[tail]], [pm2]).
    /// Flags given on the command line win over the file's settings.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Check a config file: print `config ok` and exit 0, or the key and the reason and
    /// exit 2.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub check_config: Option<PathBuf>,
    /// Collector address (TCP, or UDP with --udp) [default: 127.0.0.1:7701].
    #[arg(long, env = "LOGQ_SHIPPER_TO", global = true)]
    pub to: Option<String>,
    /// Fire-and-forget over UDP instead of acknowledged TCP.
    #[arg(long, global = true)]
    pub udp: bool,
    /// State directory (checkpoints); default $XDG_STATE_HOME/logq-shipper.
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// Ingest token (visible in `ps`: prefer --token-file or LOGQ_TOKEN).
    #[arg(long, env = "LOGQ_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the ingest token (its trailing newline is trimmed).
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Connect to the collector with TLS.
    #[arg(long, global = true)]
    pub tls: bool,
    /// PEM bundle of the CAs to trust for the collector's certificate (implies --tls);
    /// without it the webpki (Mozilla) roots are trusted.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// PEM certificate chain to present to the collector, for mutual TLS (implies --tls).
    #[arg(long, value_name = "FILE", global = true, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", global = true, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Name the collector's certificate must carry (a DNS name or an IP address); default
    /// the host part of --to.
    #[arg(long, value_name = "NAME", global = true)]
    pub server_name: Option<String>,
    /// Host name records carry; default the machine's.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Longest line kept whole, in bytes; longer lines are split into pieces marked `split`.
    #[arg(long, default_value_t = 256 * 1024, global = true)]
    pub max_line_bytes: usize,
    /// Send a batch at this many bytes of text.
    #[arg(long, default_value_t = 256 * 1024, global = true, hide = true)]
    pub batch_max_bytes: usize,
    /// Send a batch when its first line has waited this long.
    #[arg(long, default_value_t = 5, global = true, hide = true)]
    pub flush_interval_ms: u64,
    /// After stdin ends or the command exits, how long to wait for the collector's last acks
    /// (what is left stays in the spool for the next run).
    #[arg(long, default_value_t = 60, global = true)]
    pub drain_timeout_secs: u64,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow files (paths or globs, `**` included), through rotation and truncation.
    Tail {
        /// Files to follow: paths or quoted globs such as '/var/log/app/*.log'.
        #[arg(required = true)]
        paths: Vec<String>,
        /// App the lines belong to.
        #[arg(long)]
        app: String,
        /// Format hint for the collector's parser.
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Ship stdin until it closes, through an on-disk spool.
    Pipe {
        /// App the lines belong to.
        #[arg(long)]
        app: String,
        /// Format hint for the collector's parser.
        #[arg(long)]
        format: Option<String>,
        /// Spool cap (e.g. 256MiB); past it the oldest unsent output is dropped and counted.
        #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_size)]
        spool_max: u64,
    },
    /// Run a command, passing its output through and shipping its stdout and stderr as two
    /// streams; exit with its status.
    Run {
        /// App the lines belong to.
        #[arg(long)]
        app: String,
        /// Format hint for the collector's parser.
        #[arg(long)]
        format: Option<String>,
        /// Spool cap per stream (e.g. 256MiB); past it the oldest unsent output is dropped.
        #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_size)]
        spool_max: u64,
        /// The command and its arguments (after `--`).
        #[arg(required = true, last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Ship every pm2 process's stdout and stderr under the name pm2 gives it, following
    /// processes as they start, restart and go (and pm2's own log as app `pm2`).
    Pm2 {
        /// pm2's home directory.
        #[arg(long, env = "PM2_HOME", value_name = "DIR")]
        pm2_home: Option<PathBuf>,
        /// The pm2 command, for `pm2 jlist`.
        #[arg(long, default_value = "pm2", value_name = "PATH")]
        pm2_bin: PathBuf,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Be a supervisord event listener (`[eventlistener:logq]` with `events=PROCESS_LOG`):
    /// ship every program's stdout and stderr, named as supervisord names the program.
    Supervisor {
        /// Format hint for the collector's parser, for every program.
        #[arg(long)]
        format: Option<String>,
        /// Spool cap per program output (e.g. 256MiB); past it the oldest unsent output is
        /// dropped.
        #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_size)]
        spool_max: u64,
    },
}

/// How files are followed (`tail`, `pm2`, and a config file's sources).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct FollowArgs {
    /// Once a file is over SIZE and every line of it is acknowledged, truncate it in place
    /// (e.g. 1GiB): a runaway log cannot fill the disk, and logq holds its lines.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_source_bytes: Option<u64>,
    /// Ship a partial last line after it waited this long for its newline.
    #[arg(long, default_value_t = FollowArgs::PARTIAL_FLUSH_MS, value_name = "MS")]
    pub partial_flush_ms: u64,
    /// Keep a rotated-away (or no longer named) file open this long after its last write.
    #[arg(long, default_value_t = FollowArgs::ROTATE_WAIT_MS, value_name = "MS")]
    pub rotate_wait_ms: u64,
}

impl FollowArgs {
    const PARTIAL_FLUSH_MS: u64 = 2000;
    const ROTATE_WAIT_MS: u64 = 5000;
}

impl Default for FollowArgs {
    /// The flags' defaults.
    fn default() -> Self {
        FollowArgs {
            max_source_bytes: None,
            partial_flush_ms: FollowArgs::PARTIAL_FLUSH_MS,
            rotate_wait_ms: FollowArgs::ROTATE_WAIT_MS,
        }
    }
}

impl Command {
    /// The app of a single-app command (pm2 and supervisor jobs name apps as they find them).
    pub fn app(&self) -> Option<&str> {
        match self {
            Command::Tail { app, .. } | Command::Pipe { app, .. } | Command::Run { app, .. } => {
                Some(app)
            }
            Command::Pm2 { .. } | Command::Supervisor { .. } => None,
        }
    }

    /// The job directory name under the state dir.
    pub fn job(&self) -> String {
        match self {
            Command::Tail { app, .. } => format!("tail-{app}"),
            Command::Pipe { app, .. } => format!("pipe-{app}"),
            Command::Run { app, .. } => format!("run-{app}"),
            Command::Pm2 { .. } => "pm2".to_owned(),
            Command::Supervisor { .. } => "supervisor".to_owned(),
        }
    }
}

/// pm2's default home: `~/.pm2`.
pub fn default_pm2_home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(".pm2"), |h| PathBuf::from(h).join(".pm2"))
}

/// Parses a size: a number with an optional unit, K/KB/KiB, M/MB/MiB, G/GB/GiB (all powers of
/// 1024), or B.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 512KiB, 64MiB or 1GiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown size unit in {s:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The default state directory.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("logq-shipper");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/state/logq-shipper");
    }
    PathBuf::from("logq-shipper-state")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("logq-shipper").chain(args.iter().copied()))
    }

    #[test]
    fn the_contract_still_parses() {
        let a = parse(&["--to", "h:1", "--udp", "tail", "/l/*.log", "--app", "web"]).expect("tail");
        assert_eq!(a.to.as_deref(), Some("h:1"));
        assert!(matches!(a.command, Some(Command::Tail { .. })));
        let a = parse(&["pipe", "--app", "x", "--token", "t", "--host", "h"]).expect("pipe");
        assert_eq!(a.token.as_deref(), Some("t"));
        assert!(parse(&["run", "--app", "x", "--", "true"]).is_ok());
        assert!(parse(&["pm2", "--pm2-home", "/h"]).is_ok());
        assert!(parse(&["supervisor"]).is_ok());
    }

    #[test]
    fn tls_and_config_flags() {
        let a = parse(&[
            "--config",
            "/etc/logq/shipper.toml",
            "--ca",
            "/ca.pem",
            "--client-cert",
            "/c.pem",
            "--client-key",
            "/k.pem",
            "--server-name",
            "logs",
        ])
        .expect("flags");
        assert!(a.command.is_none());
        assert_eq!(a.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert!(parse(&["--client-cert", "/c.pem", "tail", "/x", "--app", "a"]).is_err());
        assert!(parse(&["--token", "t", "--token-file", "/t"]).is_err());
        assert!(parse(&["--check-config", "/a.toml"]).is_ok());
        assert!(parse(&["tail", "/x", "--app", "a", "--tls"]).is_ok_and(|a| a.tls));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512 kb"), Ok(512 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5TB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
