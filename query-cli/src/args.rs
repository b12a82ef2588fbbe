//! Command-line arguments (the stable contract of `logq`).

use clap::{Parser, Subcommand, ValueEnum};

pub use crate::output::ColorChoice;

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
    /// API token, sent as a bearer token (visible in `ps`: prefer --token-file or LOGQ_TOKEN).
    #[arg(long, env = "LOGQ_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the API token (its trailing newline is trimmed).
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "token")]
    pub token_file: Option<std::path::PathBuf>,
    /// PEM bundle of the CAs to trust for an https --server (default: the webpki roots).
    #[arg(long, env = "LOGQ_CA", value_name = "FILE", global = true)]
    pub ca: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search stored events; prints them oldest first, newest last.
    Search(SearchArgs),
    /// Print the last events, then follow new ones as they arrive (until interrupted).
    Tail(TailArgs),
    /// List apps with their sizes, record counts, time ranges and retention.
    Apps(AppsArgs),
}

/// Filters `search` and `tail` share.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// Only this app (repeatable; `*` and `?` globs, e.g. `osm-*`).
    #[arg(long = "app", visible_alias = "proc", value_name = "NAME")]
    pub apps: Vec<String>,
    /// Only this host (repeatable; globs).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Minimum level (`warn` is warn, error and fatal) or a range (`info..warn`).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
}

/// How results look.
#[derive(Debug, clap::Args)]
pub struct LookArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Print times in UTC instead of the local zone.
    #[arg(long)]
    pub utc: bool,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Query: words, "phrases", AND/OR/NOT, -word, field:value, prefix*, /regex/i; `*` or
    /// nothing for everything.
    #[arg(default_value = "*")]
    pub query: String,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Start of the time range: 15m, 2h30m, 7d, RFC 3339, YYYY-MM-DD[ HH:MM[:SS]], today,
    /// yesterday, @EPOCH.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// End of the time range (same forms as --since); default now.
    #[arg(long)]
    pub until: Option<String>,
    /// The newest N events.
    #[arg(short = 'n', long = "limit", default_value_t = 100)]
    pub limit: usize,
    /// N events of the same app and stream before and after each hit.
    #[arg(short = 'C', long = "context", value_name = "N")]
    pub context: Option<usize>,
    /// N events before each hit.
    #[arg(short = 'B', long = "before-context", value_name = "N")]
    pub before: Option<usize>,
    /// N events after each hit.
    #[arg(short = 'A', long = "after-context", value_name = "N")]
    pub after: Option<usize>,
    /// Print only the number of matching events.
    #[arg(long, conflicts_with = "histogram")]
    pub count: bool,
    /// Draw matches per time bucket instead of listing them.
    #[arg(long)]
    pub histogram: bool,
    /// Most buckets of --histogram.
    #[arg(long, default_value_t = 40, value_name = "N", requires = "histogram")]
    pub buckets: usize,
    #[command(flatten)]
    pub look: LookArgs,
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Query (as for search); nothing for everything.
    #[arg(default_value = "*")]
    pub query: String,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Print the last N events before following.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    pub lines: usize,
    #[command(flatten)]
    pub look: LookArgs,
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
        assert_eq!(s.filters.apps, ["a", "b"]);
        assert_eq!(
            (s.since.as_str(), s.limit, s.look.output),
            ("24h", 100, Format::Raw)
        );
        assert_eq!(s.look.color, ColorChoice::Auto);
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
    fn context_and_tail_flags() {
        let Command::Search(s) =
            parse(&["search", "x", "-C", "2", "-A", "5", "--level", "warn"]).command
        else {
            panic!("search")
        };
        assert_eq!((s.context, s.before, s.after), (Some(2), None, Some(5)));
        assert_eq!(s.filters.level.as_deref(), Some("warn"));
        let Command::Tail(t) =
            parse(&["tail", "--app", "web", "-n", "3", "--color", "never"]).command
        else {
            panic!("tail")
        };
        assert_eq!(
            (t.query.as_str(), t.lines, t.look.color),
            ("*", 3, ColorChoice::Never)
        );
        assert!(Args::try_parse_from(["logq", "search", "x", "--count", "--histogram"]).is_err());
        assert!(Args::try_parse_from(["logq", "search", "x", "--buckets", "5"]).is_err());
    }

    #[test]
    fn tls_and_token_file_flags() {
        let args = parse(&[
            "apps",
            "--server",
            "https://logs:7700",
            "--ca",
            "/ca.pem",
            "--token-file",
            "/t",
        ]);
        assert_eq!(args.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(args.token_file.as_deref(), Some(std::path::Path::new("/t")));
        assert!(
            Args::try_parse_from(["logq", "apps", "--token", "a", "--token-file", "/t"]).is_err()
        );
    }

    #[test]
    fn unknown_output_is_refused() {
        assert!(Args::try_parse_from(["logq", "search", "x", "-o", "yaml"]).is_err());
    }
}
