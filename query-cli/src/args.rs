//! Command-line arguments (the stable contract of `logq`).

use clap::{Parser, Subcommand, ValueEnum};

/// Search and follow the logs a logq collector holds.
#[derive(Debug, Parser)]
#[command(name = "logq", version)]
pub struct Args {
    /// Collector URL.
    #[arg(
        long,
        env = "LOGQ_SERVER",
        default_value = "http://127.0.0.1:7700",
        global = true
    )]
    pub server: String,
    /// API token, sent as a bearer token.
    #[arg(long, env = "LOGQ_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search stored events; prints them oldest first, newest last.
    Search(SearchArgs),
    /// List apps with their record counts and time ranges.
    Apps(AppsArgs),
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Query: words, "phrases", OR, -word, field:value; `*` for everything.
    pub query: String,
    /// Only this app (repeatable).
    #[arg(long = "app", visible_alias = "proc", value_name = "NAME")]
    pub apps: Vec<String>,
    /// Start of the time range: 15m, 2h30m, 7d, RFC 3339, YYYY-MM-DD[ HH:MM[:SS]], today, @EPOCH.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// End of the time range (same forms as --since); default now.
    #[arg(long)]
    pub until: Option<String>,
    /// The newest N events.
    #[arg(short = 'n', long = "limit", default_value_t = 100)]
    pub limit: usize,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Print times in UTC instead of the local zone.
    #[arg(long)]
    pub utc: bool,
    /// Print only the number of matching events.
    #[arg(long)]
    pub count: bool,
}

#[derive(Debug, clap::Args)]
pub struct AppsArgs {
    /// Output format (text or json).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Time, app, level and message.
    Text,
    /// The original text exactly as the app wrote it.
    Raw,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("logq").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn search_defaults_and_aliases() {
        let args = parse(&[
            "search",
            "ECONNREFUSED",
            "--proc",
            "a",
            "--app",
            "b",
            "-o",
            "raw",
        ]);
        let Command::Search(s) = args.command else {
            panic!("search")
        };
        assert_eq!(s.apps, ["a", "b"]);
        assert_eq!(
            (s.since.as_str(), s.limit, s.output),
            ("24h", 100, Format::Raw)
        );
        assert_eq!(args.server, "http://127.0.0.1:7700");
    }

    #[test]
    fn global_flags_go_anywhere() {
        let args = parse(&[
            "search",
            "x",
            "--server",
            "http://h:1",
            "--token",
            "t",
            "-n",
            "5",
        ]);
        assert_eq!(
            (args.server.as_str(), args.token.as_deref()),
            ("http://h:1", Some("t"))
        );
    }

    #[test]
    fn unknown_output_is_refused() {
        assert!(Args::try_parse_from(["logq", "search", "x", "-o", "yaml"]).is_err());
    }
}
