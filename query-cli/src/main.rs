//! `logq`: the query CLI. Exit 0 with results, 1 with none, 2 on error (one line on stderr);
//! a closed stdout pipe is success.

mod args;
mod client;
mod output;
mod sse;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use jiff::Zoned;
use jiff::tz::TimeZone;
use logq_schemas::LevelRange;
use logq_schemas::timespec::parse_time_spec;

use args::{Args, Command, FilterArgs, Format, LookArgs, SearchArgs, TailArgs};
use client::{Client, ClientConfig, Filters, SearchFailure, SearchQuery, TailEvent};
use output::Printer;

/// How a run ended.
enum Outcome {
    Results,
    NoResults,
}

impl Outcome {
    fn of(found: bool) -> Outcome {
        if found {
            Outcome::Results
        } else {
            Outcome::NoResults
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(Outcome::Results) => ExitCode::SUCCESS,
        Ok(Outcome::NoResults) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logq: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let config = ClientConfig::new(
        &args.server,
        args.token,
        args.token_file.as_deref(),
        args.ca.as_deref(),
    )?;
    let client = Client::new(config);
    match args.command {
        Command::Search(search) => run_search(&client, &search),
        Command::Tail(tail) => run_tail(&client, &tail),
        Command::Apps(apps) => {
            let list = client.apps()?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            match apps.output {
                Format::Json | Format::Jsonl => {
                    serde_json::to_writer_pretty(&mut out, &list)?;
                    out.write_all(b"\n")?;
                }
                Format::Text | Format::Raw => {
                    output::write_apps(&mut out, &list, &TimeZone::system())?
                }
            }
            out.flush()?;
            Ok(Outcome::of(!list.is_empty()))
        }
    }
}

/// Output failures (a closed pipe) stay I/O errors, so that `main` can tell them apart.
fn failure(e: SearchFailure) -> anyhow::Error {
    match e {
        SearchFailure::Output(io) => io.into(),
        SearchFailure::Client(c) => c.into(),
    }
}

/// Time zone and colour of the output.
fn look(look: &LookArgs) -> (TimeZone, bool) {
    let tz = if look.utc {
        TimeZone::UTC
    } else {
        TimeZone::system()
    };
    let color = output::color::enabled(
        look.color,
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    (tz, color)
}

fn run_search(client: &Client, args: &SearchArgs) -> anyhow::Result<Outcome> {
    let filters = filters(
        &args.query,
        &args.filters,
        Some(&args.since),
        args.until.as_deref(),
        &Zoned::now(),
    )?;
    if args.limit == 0 {
        anyhow::bail!("--limit must be at least 1");
    }
    let (tz, color) = look(&args.look);
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.count {
        let query = SearchQuery {
            filters,
            limit: 0,
            ..SearchQuery::default()
        };
        let total = client.search(&query, |_| Ok(())).map_err(failure)?;
        writeln!(out, "{total}")?;
        out.flush()?;
        return Ok(Outcome::of(total > 0));
    }
    if args.histogram {
        let histogram = client.histogram(&filters, args.buckets)?;
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(80);
        output::write_histogram(&mut out, &histogram, &tz, color, width)?;
        out.flush()?;
        return Ok(Outcome::of(histogram.total > 0));
    }
    let query = SearchQuery {
        filters,
        limit: args.limit,
        before: args.before.or(args.context).unwrap_or(0),
        after: args.after.or(args.context).unwrap_or(0),
    };
    let mut printer = Printer::new(out, args.look.output, tz, color);
    let mut printed = 0u64;
    client
        .search(&query, |hit| {
            printed += 1;
            printer.hit(&hit)
        })
        .map_err(failure)?;
    printer.finish()?.flush()?;
    Ok(Outcome::of(printed > 0))
}

fn run_tail(client: &Client, args: &TailArgs) -> anyhow::Result<Outcome> {
    let filters = filters(&args.query, &args.filters, None, None, &Zoned::now())?;
    let (tz, color) = look(&args.look);
    // A tail never ends, so a JSON array would never close: one object per line instead.
    let format = match args.look.output {
        Format::Json => Format::Jsonl,
        other => other,
    };
    let mut printer = Printer::new(io::LineWriter::new(io::stdout()), format, tz, color);
    client
        .tail(&filters, args.lines, |event| {
            match event {
                TailEvent::Record(r) => printer.record(&r)?,
                TailEvent::Lost(e) => eprintln!("logq: {e}; reconnecting"),
                TailEvent::Resumed => eprintln!("logq: reconnected; resuming where the tail was"),
            }
            Ok(true)
        })
        .map_err(failure)?;
    printer.finish()?.flush()?;
    Ok(Outcome::Results)
}

/// The filters as the API takes them. Times and levels are read here, so that a bad one is an
/// error before any network I/O.
fn filters(
    query: &str,
    args: &FilterArgs,
    since: Option<&str>,
    until: Option<&str>,
    now: &Zoned,
) -> anyhow::Result<Filters> {
    let time = |spec: &str, flag: &str| -> anyhow::Result<String> {
        let t = parse_time_spec(spec, now).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
        Ok(t.to_string())
    };
    let level = args
        .level
        .as_deref()
        .map(|l| {
            l.parse::<LevelRange>()
                .map(|r| r.to_string())
                .map_err(|e| anyhow::anyhow!("--level: {e}"))
        })
        .transpose()?;
    Ok(Filters {
        query: query.to_owned(),
        apps: args.apps.clone(),
        hosts: args.hosts.clone(),
        level,
        since: since.map(|s| time(s, "--since")).transpose()?,
        until: until.map(|u| time(u, "--until")).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use client::ClientError;

    fn args(extra: &[&str]) -> SearchArgs {
        let parsed =
            Args::try_parse_from(["logq", "search", "x"].iter().chain(extra)).expect("parse");
        match parsed.command {
            Command::Search(s) => s,
            _ => panic!("search"),
        }
    }

    fn filters_of(extra: &[&str], now: &Zoned) -> anyhow::Result<Filters> {
        let a = args(extra);
        filters(
            &a.query,
            &a.filters,
            Some(&a.since),
            a.until.as_deref(),
            now,
        )
    }

    #[test]
    fn times_and_levels_are_resolved_locally() {
        let now: Zoned = "2026-11-23T10:00:00+00:00[UTC]".parse().expect("now");
        let f = filters_of(
            &["--since", "2h", "--until", "30m", "--level", "WARNING"],
            &now,
        )
        .expect("filters");
        assert_eq!(f.since.as_deref(), Some("2026-11-23T08:00:00Z"));
        assert_eq!(f.until.as_deref(), Some("2026-11-23T09:30:00Z"));
        assert_eq!(f.level.as_deref(), Some("warn..fatal"));
        let err = filters_of(&["--since", "last tuesday"], &now).expect_err("bad");
        assert!(err.to_string().contains("--since"), "{err}");
        let err = filters_of(&["--level", "loud"], &now).expect_err("bad");
        assert!(
            err.to_string().starts_with("--level: unknown level"),
            "{err}"
        );
    }

    #[test]
    fn a_closed_pipe_stays_an_io_error() {
        let e = failure(SearchFailure::Output(io::ErrorKind::BrokenPipe.into()));
        assert!(is_broken_pipe(&e));
        let e = failure(SearchFailure::Client(ClientError::BadResponse {
            what: "search",
            cause: "x".into(),
        }));
        assert!(!is_broken_pipe(&e));
    }
}
