//! `logq`: the query CLI. Exit 0 with results, 1 with none, 2 on error (one line on stderr);
//! a closed stdout pipe is success.

mod args;
mod client;
mod output;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use jiff::Zoned;
use jiff::tz::TimeZone;
use logq_schemas::timespec::parse_time_spec;

use args::{Args, Command, Format, SearchArgs};
use client::{Client, SearchQuery};

/// How a run ended.
enum Outcome {
    Results,
    NoResults,
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
    let client = Client::new(&args.server, args.token);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let outcome = match args.command {
        Command::Search(search) => {
            let tz = if search.utc {
                TimeZone::UTC
            } else {
                TimeZone::system()
            };
            let mut query = search_query(&search, &Zoned::now())?;
            if search.count {
                query.limit = 1;
                let total = client.search(&query)?.total;
                writeln!(out, "{total}")?;
                out.flush()?;
                return Ok(if total == 0 {
                    Outcome::NoResults
                } else {
                    Outcome::Results
                });
            }
            let mut hits = client.search(&query)?.hits;
            hits.reverse();
            output::write_records(&mut out, &hits, search.output, &tz)?;
            if hits.is_empty() {
                Outcome::NoResults
            } else {
                Outcome::Results
            }
        }
        Command::Apps(apps) => {
            let list = client.apps()?;
            match apps.output {
                Format::Json | Format::Jsonl => {
                    serde_json::to_writer_pretty(&mut out, &list)?;
                    out.write_all(b"\n")?;
                }
                Format::Text | Format::Raw => {
                    output::write_apps(&mut out, &list, &TimeZone::system())?
                }
            }
            if list.is_empty() {
                Outcome::NoResults
            } else {
                Outcome::Results
            }
        }
    };
    out.flush()?;
    Ok(outcome)
}

/// Reads times locally, so a bad time is an error before any network I/O.
fn search_query(args: &SearchArgs, now: &Zoned) -> anyhow::Result<SearchQuery> {
    let time = |spec: &str, flag: &str| -> anyhow::Result<String> {
        let t = parse_time_spec(spec, now).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
        Ok(t.to_string())
    };
    if args.limit == 0 {
        anyhow::bail!("--limit must be at least 1");
    }
    Ok(SearchQuery {
        query: args.query.clone(),
        apps: args.apps.clone(),
        since: Some(time(&args.since, "--since")?),
        until: args
            .until
            .as_deref()
            .map(|u| time(u, "--until"))
            .transpose()?,
        limit: args.limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SearchArgs {
        let parsed =
            Args::try_parse_from(["logq", "search", "x"].iter().chain(extra)).expect("parse");
        match parsed.command {
            Command::Search(s) => s,
            Command::Apps(_) => panic!("search"),
        }
    }

    #[test]
    fn times_are_resolved_locally() {
        let now: Zoned = "2026-11-23T10:00:00+00:00[UTC]".parse().expect("now");
        let q = search_query(&args(&["--since", "2h", "--until", "30m"]), &now).expect("query");
        assert_eq!(q.since.as_deref(), Some("2026-11-23T08:00:00Z"));
        assert_eq!(q.until.as_deref(), Some("2026-11-23T09:30:00Z"));
        let err = search_query(&args(&["--since", "last tuesday"]), &now).expect_err("bad");
        assert!(err.to_string().contains("--since"), "{err}");
    }
}
