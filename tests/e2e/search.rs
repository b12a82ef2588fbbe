//! Ship a real pm2 log and search it like grep, by event.

use std::process::Command;
use std::time::Duration;

use crate::util::{Collector, Shipper, data, logq, wait_until};

/// The events of a Node log: a line and the indented stack-frame lines under it.
fn node_events(text: &str) -> Vec<String> {
    let mut events: Vec<String> = Vec::new();
    for line in text.lines() {
        match events.last_mut() {
            Some(event) if line.starts_with(' ') => {
                event.push('\n');
                event.push_str(line);
            }
            _ => events.push(line.to_owned()),
        }
    }
    events
}

#[test]
fn search_raw_prints_each_matching_event_as_the_app_wrote_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("osm-app-error.log");
    std::fs::copy(data("pm2/osm-app-error.log"), &log).expect("copy fixture");
    let events = node_events(&std::fs::read_to_string(&log).expect("fixture"));
    let lines = events.len() as u64;

    let collector = Collector::start(&tmp.path().join("data"));
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "osm-app");
    wait_until(
        Duration::from_secs(20),
        "all fixture events searchable",
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
    // Each matching event whole (a stack trace with the error line it belongs to), in order.
    let expected: String = events
        .iter()
        .filter(|e| e.contains("ECONNREFUSED"))
        .map(|e| format!("{e}\n"))
        .collect();
    let raw = String::from_utf8_lossy(&stdout);
    assert_eq!(
        raw, expected,
        "logq -o raw prints the matching events exactly as written, in order"
    );
    // So it holds every line grep finds, in grep's order.
    let grep = String::from_utf8_lossy(&grep.stdout);
    let found: Vec<&str> = raw.lines().filter(|l| l.contains("ECONNREFUSED")).collect();
    assert_eq!(found, grep.lines().collect::<Vec<_>>());

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
