//! Limits, metrics and readiness of a real collector: hostile length prefixes cost no memory,
//! slow clients are closed by timeouts without slowing a real shipper, and every limit is
//! applied and counted in `/metrics`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use logq_schemas::udp::UdpBatch;
use logq_schemas::{Batch, ErrorCode, Frame, Hello, Line, PROTOCOL_VERSION, StreamInfo};

use crate::util::{Collector, Shipper, api_get, stored_numbers, wait_until};
use crate::wire::{connect, encode, expect_error_then_close, recv};

fn hello(shipper_id: &str, app: &str) -> Frame {
    Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        shipper_id: shipper_id.into(),
        host: "h".into(),
        tz: "UTC".into(),
        streams: vec![StreamInfo {
            fields: Default::default(),
            id: "s".into(),
            app: app.into(),
            stream: "stdout".into(),
            format: None,
        }],
    })
}

/// Connects and completes the handshake.
fn handshake(collector: &Collector, shipper_id: &str) -> TcpStream {
    let mut sock = connect(collector);
    sock.write_all(&encode(&hello(shipper_id, "raw")))
        .expect("hello");
    match recv(&mut sock) {
        Frame::Welcome(_) => sock,
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// The collector's resident set size, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// `/metrics` as text, with its content type.
fn metrics(collector: &Collector) -> (String, String) {
    let mut resp = ureq::get(format!("{}/metrics", collector.url()))
        .call()
        .expect("metrics");
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        resp.body_mut().read_to_string().expect("metrics body"),
        ctype,
    )
}

/// The value of the sample `name` (with its labels, as exposed), 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("sample value"))
}

fn write_numbered(path: &Path, lines: u64) -> u64 {
    let text: String = (0..lines)
        .map(|n| format!("seq={n:06} payload lorem ipsum dolor sit amet\n"))
        .collect();
    std::fs::write(path, &text).expect("write log");
    text.len() as u64
}

#[test]
fn a_4_gib_length_prefix_is_refused_without_allocating() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let pid = collector.pid();
    let attack = |with_hello: bool| {
        let mut sock = if with_hello {
            handshake(&collector, "hostile")
        } else {
            connect(&collector)
        };
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&[b'{'; 4096]);
        sock.write_all(&bytes).expect("send");
        expect_error_then_close(&mut sock, ErrorCode::FrameTooLarge);
    };
    // Warm up: the first connections size the runtime's buffers and the allocator's arenas.
    for i in 0..20 {
        attack(i % 2 == 0);
    }
    let before = rss_kib(pid);
    for i in 0..200 {
        attack(i % 2 == 0);
    }
    let after = rss_kib(pid);
    let growth = after.saturating_sub(before);
    eprintln!(
        "collector VmRSS {before} KiB -> {after} KiB after 200 4 GiB prefixes (+{growth} KiB)"
    );
    assert!(growth < 1024, "VmRSS grew by {growth} KiB");
    let (text, _) = metrics(&collector);
    assert!(
        sample(&text, "logq_limit_hits_total{limit=\"max_frame_bytes\"}") >= 200.0,
        "{text}"
    );
}

/// Raises this process's open-file limit to its hard limit (the collector inherits it).
fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// How long until `app` holds `lines` records.
fn ship_and_time(collector: &Collector, tmp: &Path, app: &str, lines: u64) -> Duration {
    let log = tmp.join(format!("{app}.log"));
    write_numbered(&log, lines);
    let started = Instant::now();
    let _shipper = Shipper::tail(collector, &tmp.join(format!("{app}-state")), &log, app);
    wait_until(Duration::from_secs(120), "every line stored", || {
        collector.count(app) == lines
    });
    started.elapsed()
}

#[test]
fn five_hundred_slow_connections_are_closed_while_a_shipper_keeps_its_throughput() {
    const SLOW: usize = 500;
    const LINES: u64 = 50_000;
    const TIMEOUT: Duration = Duration::from_secs(5);
    raise_nofile();
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some(
            "handshake_timeout_ms = 5000\n[limits]\nframe_timeout_ms = 5000\n\
             idle_timeout_secs = 30\n",
        ),
    );
    let quiet = ship_and_time(&collector, tmp.path(), "quiet", LINES);

    // Half trickle their hello (the handshake timeout applies), half a batch after a quick
    // handshake (the frame timeout applies); one byte per connection per second.
    let batch = encode(&Frame::Batch(Batch {
        stream: "s".into(),
        read_at: jiff::Timestamp::now(),
        lines: vec![Line {
            end: 100,
            text: "x".repeat(90),
            split: false,
            time: None,
        }],
    }));
    let mut slow: Vec<(TcpStream, Vec<u8>, Option<Duration>)> = (0..SLOW)
        .map(|i| {
            if i % 2 == 0 {
                (
                    connect(&collector),
                    encode(&hello(&format!("slow{i}"), "slow")),
                    None,
                )
            } else {
                (
                    handshake(&collector, &format!("slow{i}")),
                    batch.clone(),
                    None,
                )
            }
        })
        .collect();
    for (sock, _, _) in &slow {
        sock.set_nonblocking(true).expect("nonblocking");
    }
    let opened = Instant::now();
    let trickler = std::thread::spawn(move || {
        let deadline = opened + Duration::from_secs(60);
        let mut tick = 0usize;
        while slow.iter().any(|s| s.2.is_none()) && Instant::now() < deadline {
            for (sock, bytes, closed) in slow.iter_mut().filter(|s| s.2.is_none()) {
                let mut buf = [0u8; 512];
                let gone = loop {
                    match sock.read(&mut buf) {
                        Ok(0) => break true,
                        Ok(_) => continue, // the error frame saying why
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                        Err(_) => break true,
                    }
                };
                let gone = gone || sock.write(&bytes[tick % bytes.len()..][..1]).is_err();
                if gone {
                    *closed = Some(opened.elapsed());
                }
            }
            tick += 1;
            // The workload: one byte per connection per second, checked ten times as often.
            for _ in 0..10 {
                if slow.iter().all(|s| s.2.is_some()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                for (sock, _, closed) in slow.iter_mut().filter(|s| s.2.is_none()) {
                    let mut buf = [0u8; 512];
                    match sock.read(&mut buf) {
                        Ok(0) => *closed = Some(opened.elapsed()),
                        Err(e) if e.kind() != ErrorKind::WouldBlock => {
                            *closed = Some(opened.elapsed());
                        }
                        _ => {}
                    }
                }
            }
        }
        slow.into_iter().map(|s| s.2).collect::<Vec<_>>()
    });

    let loaded = ship_and_time(&collector, tmp.path(), "loaded", LINES);
    let closed = trickler.join().expect("trickler");
    let open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(open, 0, "{open} slow connections still open after 60 s");
    let last = closed.iter().flatten().max().copied().unwrap_or_default();
    eprintln!(
        "{LINES} lines stored in {quiet:?} alone, {loaded:?} beside {SLOW} slow connections; \
         the last slow one closed {last:?} after they all opened"
    );
    // Frame and handshake timeouts of 5 s are noticed within 1.25 times that; the margin is
    // for a loaded machine.
    assert!(
        last <= TIMEOUT * 5 / 4 + Duration::from_secs(10),
        "the last slow connection closed after {last:?}"
    );
    let bound = quiet.max(Duration::from_secs(1)) * 3;
    assert!(
        loaded <= bound,
        "with slow clients {loaded:?}, without {quiet:?}"
    );
    assert_eq!(stored_numbers(&collector, "loaded").len() as u64, LINES);
    let (text, _) = metrics(&collector);
    let timeouts = sample(
        &text,
        "logq_limit_hits_total{limit=\"limits.frame_timeout_ms\"}",
    );
    assert!(
        timeouts >= (SLOW / 2) as f64,
        "frame timeouts {timeouts}\n{text}"
    );
    let handshakes = sample(
        &text,
        "logq_limit_hits_total{limit=\"handshake_timeout_ms\"}",
    );
    assert!(
        handshakes >= (SLOW / 2) as f64,
        "handshake timeouts {handshakes}\n{text}"
    );
    assert_eq!(sample(&text, "logq_connections_open"), 0.0, "{text}");
}

#[test]
fn connections_past_the_maximum_get_unavailable_and_are_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\nmax_connections = 2\n"),
    );
    let first = handshake(&collector, "one");
    let _second = handshake(&collector, "two");
    let mut third = connect(&collector);
    third
        .write_all(&encode(&hello("three", "raw")))
        .expect("hello");
    expect_error_then_close(&mut third, ErrorCode::Unavailable);
    let (text, _) = metrics(&collector);
    assert_eq!(
        sample(
            &text,
            "logq_connections_refused_total{reason=\"max_connections\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(sample(&text, "logq_connections_open"), 2.0, "{text}");
    // A place frees up when a connection ends.
    drop(first);
    wait_until(
        Duration::from_secs(10),
        "the first connection's end",
        || sample(&metrics(&collector).0, "logq_connections_open") == 1.0,
    );
    let _fourth = handshake(&collector, "four");
}

#[test]
fn a_shipper_over_its_app_rate_is_slowed_down_and_loses_nothing() {
    const RATE: u64 = 64 * 1024;
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some(&format!(
            "[limits]\napp_rate_bytes_per_sec = {RATE}\napp_burst_bytes = {RATE}\n"
        )),
    );
    let log = tmp.path().join("fast.log");
    let lines = 6000;
    let bytes = write_numbered(&log, lines);
    let started = Instant::now();
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "fast");
    wait_until(Duration::from_secs(60), "every line stored", || {
        collector.count("fast") == lines
    });
    let took = started.elapsed();
    // Line text is what the rate counts (newlines are not sent); the burst passes at once.
    let text_bytes = bytes - lines;
    let floor = Duration::from_secs_f64((text_bytes - RATE) as f64 / RATE as f64);
    eprintln!("{text_bytes} bytes at {RATE} bytes/s took {took:?} (at least {floor:?})");
    assert!(
        took >= floor,
        "took {took:?}, the rate allows no less than {floor:?}"
    );
    let seen = stored_numbers(&collector, "fast");
    assert_eq!(seen.len() as u64, lines);
    assert!(seen.values().all(|&n| n == 1), "a line stored twice");
    let (text, _) = metrics(&collector);
    assert!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.app_rate_bytes_per_sec\"}"
        ) > 0.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "logq_dropped_total{app=\"fast\",reason=\"rate_limit\"}"
        ),
        0.0
    );
}

#[test]
fn udp_over_its_app_rate_is_dropped_and_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\napp_rate_bytes_per_sec = 1024\napp_burst_bytes = 4096\n"),
    );
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let datagrams = 40;
    for i in 0..datagrams {
        let batch = UdpBatch {
            protocol: PROTOCOL_VERSION,
            token: None,
            host: "h".into(),
            tz: "UTC".into(),
            app: "flood".into(),
            stream: "stdout".into(),
            format: None,
            lines: vec![format!("seq={i:06} {}", "y".repeat(1000))],
        };
        let bytes = serde_json::to_vec(&batch).expect("json");
        sock.send_to(&bytes, collector.udp).expect("send");
    }
    let received = "logq_received_lines_total{app=\"flood\",transport=\"udp\"}";
    let dropped = "logq_dropped_total{app=\"flood\",reason=\"rate_limit\"}";
    wait_until(Duration::from_secs(10), "the datagrams counted", || {
        sample(&metrics(&collector).0, received) == datagrams as f64
    });
    let (text, _) = metrics(&collector);
    let lost = sample(&text, dropped);
    // A burst of 4 KiB takes 3 or 4 lines of 1 KiB; the rest came faster than 1 KiB/s.
    assert!(lost >= 30.0, "{lost} dropped\n{text}");
    assert!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.app_rate_bytes_per_sec\"}"
        ) > 0.0
    );
    let kept = datagrams as u64 - lost as u64;
    wait_until(Duration::from_secs(20), "the datagrams kept", || {
        collector.count("flood") == kept
    });
}

#[test]
fn an_http_body_over_the_limit_gets_413() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\nmax_http_body_bytes = 4096\n"),
    );
    let post = |len: usize| {
        ureq::post(format!("{}/api/v1/search", collector.url()))
            .config()
            .http_status_as_error(false)
            .build()
            .send(vec![b'x'; len])
            .expect("post")
            .status()
            .as_u16()
    };
    assert_eq!(post(64 * 1024), 413);
    assert_ne!(post(100), 413, "a small body passes the limit");
    let (text, _) = metrics(&collector);
    assert_eq!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.max_http_body_bytes\"}"
        ),
        1.0,
        "{text}"
    );
}

#[test]
fn a_search_over_the_query_time_limit_gets_503() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\nquery_timeout_ms = 1\n"),
    );
    let log = tmp.path().join("big.log");
    let lines = 30_000;
    write_numbered(&log, lines);
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "big");
    // Counted through /api/v1/apps: searches themselves are cut at 1 ms here.
    wait_until(Duration::from_secs(60), "every line stored", || {
        let (_, body) = api_get(&collector, "/api/v1/apps");
        let v: serde_json::Value = serde_json::from_str(&body).expect("apps json");
        v["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["app"] == "big" && a["records"] == lines)
    });
    // A regular expression scans every record's text: far more than 1 ms.
    let (status, body) = api_get(&collector, "/api/v1/search?q=/seq=.*nothing/&app=big");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("limits.query_timeout_ms"), "{body}");
    let (text, _) = metrics(&collector);
    assert!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.query_timeout_ms\"}"
        ) >= 1.0,
        "{text}"
    );
}

#[test]
fn metrics_show_ingest_storage_and_queries_and_readyz_answers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    assert_eq!(api_get(&collector, "/readyz"), (200, "ready\n".to_owned()));
    let log = tmp.path().join("m.log");
    write_numbered(&log, 100);
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "m");
    wait_until(Duration::from_secs(20), "lines stored", || {
        collector.count("m") == 100
    });
    let (text, ctype) = metrics(&collector);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    for want in [
        "logq_received_lines_total{app=\"m\",transport=\"tcp\"} 100",
        "logq_received_bytes_total{app=\"m\",transport=\"tcp\"}",
        "logq_stored_records_total{app=\"m\"} 100",
        "logq_segments{app=\"m\"}",
        "logq_disk_bytes{app=\"m\"}",
        "logq_ingest_latency_seconds_count{transport=\"tcp\"}",
        "logq_query_latency_seconds_count{endpoint=\"search\"}",
        "logq_connections_open 1",
        "# TYPE logq_evictions counter",
        "# TYPE logq_dropped counter",
        "# TYPE logq_connections_refused counter",
        "# TYPE logq_limit_hits counter",
        "# EOF",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
}

#[test]
fn metrics_want_the_token_and_readyz_does_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(&tmp.path().join("data"), Some("token = \"s3cret\"\n"));
    assert_eq!(api_get(&collector, "/metrics").0, 401);
    assert_eq!(api_get(&collector, "/readyz").0, 200);
    let status = ureq::get(format!("{}/metrics", collector.url()))
        .header("Authorization", "Bearer s3cret")
        .call()
        .expect("metrics with the token")
        .status();
    assert_eq!(status.as_u16(), 200);
}

#[test]
fn an_idle_connection_is_closed_after_its_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\nidle_timeout_secs = 1\n"),
    );
    let mut sock = handshake(&collector, "idle");
    let started = Instant::now();
    expect_error_then_close(&mut sock, ErrorCode::Unavailable);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "closed after {took:?}");
    let (text, _) = metrics(&collector);
    assert_eq!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.idle_timeout_secs\"}"
        ),
        1.0,
        "{text}"
    );
}

#[test]
fn lines_over_the_maximum_are_stored_in_split_pieces() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some("[limits]\nmax_line_bytes = 64\n"),
    );
    let long: String = (0..200)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let log = tmp.path().join("long.log");
    std::fs::write(&log, format!("short line\n{long}\nafter\n")).expect("log");
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "long");
    // 200 bytes in pieces of 64: four pieces, between the two short lines.
    wait_until(Duration::from_secs(20), "every piece stored", || {
        collector.count("long") == 6
    });
    let (hits, _) = collector.search(&[("q", "*"), ("app", "long"), ("order", "oldest")]);
    let messages: Vec<&str> = hits.iter().map(|h| h.record.message.as_str()).collect();
    assert_eq!(messages[0], "short line");
    assert_eq!(messages[1..5].concat(), long);
    assert_eq!(messages[5], "after");
    let split: Vec<bool> = hits
        .iter()
        .map(|h| h.record.fields.get("split") == Some(&serde_json::Value::Bool(true)))
        .collect();
    assert_eq!(split, [false, true, true, true, false, false]);
    let (text, _) = metrics(&collector);
    assert!(
        sample(
            &text,
            "logq_limit_hits_total{limit=\"limits.max_line_bytes\"}"
        ) >= 1.0,
        "{text}"
    );
}
