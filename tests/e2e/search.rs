//! Ship a real pm2 log and search it like grep.

use std::process::Command;
use std::time::Duration;

use crate::util::{Collector, Shipper, data, logq, wait_until};

#[test]
fn search_raw_prints_exactly_what_grep_prints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("osm-app-error.log");
    std::fs::copy(data("pm2/osm-app-error.log"), &log).expect("copy fixture");
    let lines = std::fs::read_to_string(&log)
        .expect("fixture")
        .lines()
        .count() as u64;

    let collector = Collector::start(&tmp.path().join("data"));
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "osm-app");
    wait_until(
        Duration::from_secs(20),
        "all fixture lines searchable",
        || collector.count("osm-app") == lines,
    );

    let server = collector.url();
    let (code, stdout, stderr) = logq(&[
        "--server",
        &server,
        "search",
        "ECONNREFUSED",
        "--proc",
        "osm-app",
        "-o",
        "raw",
    ]);
    assert_eq!(code, 0, "logq failed: {stderr}");
    let grep = Command::new("grep")
        .arg("ECONNREFUSED")
        .arg(&log)
        .output()
        .expect("run grep");
    assert!(grep.status.success());
    assert!(!grep.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&grep.stdout),
        "logq -o raw must equal grep: same lines, same text, same order"
    );

    // Nothing matches in another app, and a query that matches nothing exits 1.
    let (code, stdout, _) = logq(&[
        "--server",
        &server,
        "search",
        "ECONNREFUSED",
        "--app",
        "other-app",
        "-o",
        "raw",
    ]);
    assert_eq!((code, stdout.len()), (1, 0));
}

#[test]
fn cli_against_a_stopped_collector_exits_2_naming_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let server = format!("http://{addr}");
    let (code, stdout, stderr) = logq(&["--server", &server, "search", "anything"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(
        stderr.contains(&addr.to_string()),
        "names the address: {stderr:?}"
    );
}

#[test]
fn malformed_query_and_time_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let server = collector.url();
    let (code, _, stderr) = logq(&[
        "--server",
        &server,
        "search",
        "x",
        "--since",
        "last tuesday",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("last tuesday"), "{stderr}");
    let (code, _, stderr) = logq(&["--server", &server, "search", "(unbalanced"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("query"), "{stderr}");
}
