//! Fault injection: real collectors, shippers, `run` wrappers and logrotate on 127.0.0.1 under
//! crashes (kill -9), rotation, disk pressure, a stopped collector, corrupted files and skewed
//! clocks. Prints a table of figures and exits non-zero when a guarantee is broken.
//!
//! `cargo test --test faults` runs the short profile (it is part of the test command);
//! `scripts/faults --full` runs the full one (minutes to an hour; see README "Reliability").
//! Arguments: `--full`, and names (or parts of names) of scenarios to run; anything else that
//! libtest would take (`--nocapture`, ...) is ignored.

#[allow(dead_code)]
#[path = "../e2e/util.rs"]
mod util;

mod clocks;
mod corruption;
mod disk;
mod killloop;
mod report;
mod rotation;
mod stall;

use std::process::ExitCode;
use std::time::Instant;

use report::Row;

/// How hard to push: the short profile runs in the test command, the full one on demand.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub full: bool,
}

impl Profile {
    /// `short` in the short profile, `full` in the full one.
    pub fn pick<T>(&self, short: T, full: T) -> T {
        if self.full { full } else { short }
    }
}

type Scenario = (&'static str, fn(Profile) -> Vec<Row>);

/// Every scenario, in the order they run.
const SCENARIOS: &[Scenario] = &[
    ("killloop", killloop::run),
    ("rotation", rotation::run),
    ("stall", stall::run),
    ("disk", disk::run),
    ("corruption", corruption::run),
    ("clocks", clocks::run),
];

fn main() -> ExitCode {
    let mut full = false;
    let mut filters = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--full" => full = true,
            a if a.starts_with('-') => {}
            a => filters.push(a.to_owned()),
        }
    }
    let profile = Profile { full };
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        println!("faults: no scenario matches {filters:?}");
        return ExitCode::SUCCESS;
    }
    println!(
        "faults: {} profile, scenarios: {}",
        profile.pick("short", "full"),
        chosen
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rows = Vec::new();
    for (name, run) in chosen {
        let started = Instant::now();
        let found = std::panic::catch_unwind(|| run(profile)).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".into());
            let mut row = Row::new(name, "(the scenario itself)");
            row.failure = Some(why);
            vec![row]
        });
        println!(
            "faults: {name} took {:.1} s",
            started.elapsed().as_secs_f64()
        );
        rows.extend(found);
    }
    println!("\n{}", report::table(&rows));
    let failed = rows.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        eprintln!("faults: {failed} case(s) broke a guarantee");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
