//! Command-line arguments (a stable contract: scripts depend on it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Ships log lines to a logq collector.
#[derive(Debug, Parser)]
#[command(name = "logq-shipper", version)]
pub struct Args {
    /// Collector address (TCP, or UDP with --udp).
    #[arg(
        long,
        env = "LOGQ_SHIPPER_TO",
        default_value = "127.0.0.1:7701",
        global = true
    )]
    pub to: String,
    /// Fire-and-forget over UDP instead of acknowledged TCP.
    #[arg(long, global = true)]
    pub udp: bool,
    /// State directory (checkpoints); default $XDG_STATE_HOME/logq-shipper.
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// Ingest token.
    #[arg(long, env = "LOGQ_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Host name records carry; default the machine's.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Longest line kept whole, in bytes; longer lines are split and marked.
    #[arg(long, default_value_t = 256 * 1024, global = true, hide = true)]
    pub max_line_bytes: usize,
    /// Send a batch at this many bytes of text.
    #[arg(long, default_value_t = 256 * 1024, global = true, hide = true)]
    pub batch_max_bytes: usize,
    /// Send a batch when its first line has waited this long.
    #[arg(long, default_value_t = 5, global = true, hide = true)]
    pub flush_interval_ms: u64,
    /// After stdin ends, how long to wait for the collector's last acks.
    #[arg(long, default_value_t = 60, global = true)]
    pub drain_timeout_secs: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow files, shipping appended lines.
    Tail {
        /// Files to follow.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// App the lines belong to.
        #[arg(long)]
        app: String,
        /// Format hint for the collector's parser.
        #[arg(long)]
        format: Option<String>,
    },
    /// Ship stdin until it closes.
    Pipe {
        /// App the lines belong to.
        #[arg(long)]
        app: String,
        /// Format hint for the collector's parser.
        #[arg(long)]
        format: Option<String>,
    },
}

impl Command {
    pub fn app(&self) -> &str {
        match self {
            Command::Tail { app, .. } | Command::Pipe { app, .. } => app,
        }
    }

    /// The job directory name under the state dir.
    pub fn job(&self) -> String {
        match self {
            Command::Tail { app, .. } => format!("tail-{app}"),
            Command::Pipe { app, .. } => format!("pipe-{app}"),
        }
    }
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
