//! Real clients' logs, shipped by a real shipper, come out as structured events: stack traces
//! whole, levels and fields set, and each runtime's spelling of a failure found by its words.

use std::path::Path;
use std::time::Duration;

use logq_schemas::{Level, StoredRecord};

use crate::util::{Collector, Shipper, data, wait_until_else};

/// Ships `fixture` (under tests/data) as `app`, with the shipper's `--format` hint if any.
fn ship(
    collector: &Collector,
    tmp: &Path,
    fixture: &str,
    app: &str,
    hint: Option<&str>,
) -> Shipper {
    let log = tmp.join(format!("{app}.log"));
    std::fs::copy(data(fixture), &log).expect("copy fixture");
    let extra: Vec<&str> = hint.map(|h| vec!["--format", h]).unwrap_or_default();
    Shipper::tail_with(
        collector,
        &tmp.join("state"),
        &[log.to_str().expect("utf-8 path")],
        app,
        &extra,
    )
}

/// The hits of `query` in `app`, once there are `n`.
fn hits(collector: &Collector, app: &str, query: &str, n: usize) -> Vec<StoredRecord> {
    let found = std::cell::RefCell::new(Vec::new());
    wait_until_else(
        Duration::from_secs(30),
        || {
            *found.borrow_mut() = collector.search(&[("q", query), ("app", app)]).0;
            found.borrow().len() >= n
        },
        || {
            let messages: Vec<String> = found
                .borrow()
                .iter()
                .map(|r: &StoredRecord| r.record.message.clone())
                .collect();
            format!("waiting for {n} hits of {query:?} in {app}, found {messages:#?}")
        },
    );
    let found = found.into_inner();
    assert_eq!(found.len(), n, "{query:?} in {app}: {found:#?}");
    found
}

#[test]
fn tracebacks_are_one_event_and_each_runtimes_connection_refused_is_found_by_its_words() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    // Formats detected (no hint), except gunicorn's, named the way a user would.
    let _api = ship(
        &collector,
        tmp.path(),
        "formats/gunicorn/g27_error.log",
        "api",
        Some("gunicorn"),
    );
    let _web = ship(
        &collector,
        tmp.path(),
        "formats/nginx_error/nginx_1.22_captured_error.log",
        "web",
        None,
    );
    let _node = ship(
        &collector,
        tmp.path(),
        "pm2/osm-app-error.log",
        "node",
        None,
    );

    // gunicorn: the traceback after `[ERROR] Error handling request` is one event at level
    // error, with the time and pid of its first line.
    let boom = &hits(&collector, "api", "ValueError", 1)[0];
    let r = &boom.record;
    assert!(
        r.message.starts_with("[2026-11-22 13:11:37 +0000] [13778] [ERROR] Error handling request GET /boom\nTraceback (most recent call last):\n"),
        "{}",
        r.message
    );
    assert!(
        r.message
            .ends_with("\nValueError: boom: something broke in osm-api"),
        "{}",
        r.message
    );
    assert_eq!(
        (r.level, r.format.as_str()),
        (Some(Level::Error), "gunicorn")
    );
    assert_eq!(r.time, "2026-11-22T13:11:37Z".parse().expect("ts"));
    assert_eq!(r.fields["pid"], 13778);

    // Python's ConnectionRefusedError is found by the words in its name...
    let python = hits(&collector, "api", "refused", 1);
    assert!(python[0].record.message.contains("ConnectionRefusedError"));
    assert_eq!(
        hits(&collector, "api", "ConnectionRefusedError", 1)[0].id,
        python[0].id
    );
    // ...nginx's `(111: Connection refused)` by the phrase and the errno...
    for nginx in hits(&collector, "web", "\"connection refused\" 111", 2) {
        let r = &nginx.record;
        assert!(
            r.message
                .contains("connect() failed (111: Connection refused)")
        );
        assert_eq!(
            (r.level, r.format.as_str()),
            (Some(Level::Error), "nginx_error")
        );
    }
    // ...and Node's ECONNREFUSED by itself, its stack frame in the same event.
    let node = collector
        .search(&[("q", "ECONNREFUSED"), ("app", "node")])
        .0;
    let errors: Vec<_> = node
        .iter()
        .filter(|h| h.record.message.starts_with("Error:"))
        .collect();
    assert!(!errors.is_empty(), "{node:#?}");
    for e in errors {
        assert_eq!(e.record.level, Some(Level::Error));
        assert!(
            e.record
                .message
                .contains("\n    at TCPConnectWrap.afterConnect"),
            "{}",
            e.record.message
        );
    }
}

#[test]
fn rails_and_sidekiq_backtraces_carry_their_request_and_job() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let _rails = ship(
        &collector,
        tmp.path(),
        "formats/rails/production.log",
        "shop",
        None,
    );
    let _sidekiq = ship(
        &collector,
        tmp.path(),
        "formats/sidekiq/sidekiq_stdout.log",
        "jobs",
        Some("sidekiq"),
    );

    // Rails: the FATAL line and the backtrace lines tagged with its request id are one event.
    let routing = &hits(&collector, "shop", "RoutingError", 1)[0].record;
    assert_eq!(routing.level, Some(Level::Fatal));
    assert_eq!(
        routing.fields["request_id"],
        "c6233bf5-fced-41ef-90de-001a3333fca4"
    );
    assert!(
        routing
            .message
            .starts_with("F, [2026-11-22T13:14:55.005892 #15971] FATAL -- :")
    );
    assert!(
        routing
            .message
            .contains("\n[c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:42:in `block in <main>'")
    );
    // Every record of that request is found by its id.
    let request = hits(&collector, "shop", "c6233bf5", 2);
    assert!(
        request
            .iter()
            .all(|h| h.record.fields["request_id"] == "c6233bf5-fced-41ef-90de-001a3333fca4")
    );

    // sidekiq: the backtrace belongs to the failing job's line, and names the job.
    let trace = &hits(&collector, "jobs", "execute_job \"worker.rb:12\"", 1)[0].record;
    assert!(
        trace
            .message
            .contains("WARN: /srv/appsrv1/sidekiq/worker.rb:12:in `perform'\n")
    );
    assert_eq!(trace.level, Some(Level::Warn));
    assert_eq!(trace.fields["jid"], "86d84f6fa587ece97498136d");
    assert_eq!(trace.fields["job_class"], "OsmSyncJob");
}

#[test]
fn a_stack_trace_waiting_for_its_next_line_survives_kill9_of_the_collector() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Events wait a minute for their next line, so the error line is still open when the
    // collector dies.
    let mut collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[index]\nevent_idle_ms = 60000\n"),
    );
    let log = tmp.path().join("api.log");
    std::fs::write(
        &log,
        "listening on 3000\nError: connect ECONNREFUSED 127.0.0.1:5432\n",
    )
    .expect("write log");
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "api");
    // The first line is out once the error line came after it; the error line stays open.
    hits(&collector, "api", "listening", 1);
    assert_eq!(
        collector.count("api"),
        1,
        "the error line waits for its next line"
    );
    collector.kill9_and_restart();

    // Its stack frame, then the next line, after the restart: the WAL kept the error line, the
    // collector rebuilt the open event, and the frame joins it.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    std::io::Write::write_all(
        &mut f,
        b"    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)\nretrying\n",
    )
    .expect("append");
    // `retrying` closes the event (and stays open itself).
    let error = hits(&collector, "api", "ECONNREFUSED", 1);
    assert_eq!(
        error[0].record.message,
        "Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)"
    );
    assert_eq!(error[0].record.level, Some(Level::Error));
    assert_eq!(
        collector.count("api"),
        2,
        "retrying is still open; nothing doubled"
    );
}
