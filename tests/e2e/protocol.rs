//! Hostile frames get an error frame and a closed connection; nobody else is affected.

use std::io::Write;
use std::time::Duration;

use logq_schemas::{Batch, ErrorCode, Frame, Hello, Line, PROTOCOL_VERSION, StreamInfo};

use crate::util::{Collector, Shipper, wait_until};
use crate::wire::{connect, expect_error_then_close, recv, send};

fn hello(streams: Vec<StreamInfo>) -> Frame {
    Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        shipper_id: "hostile".into(),
        host: "h".into(),
        tz: "UTC".into(),
        streams,
    })
}

#[test]
fn hostile_frames_are_refused_and_others_keep_being_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let log = tmp.path().join("good.log");
    std::fs::write(
        &log,
        (0..100)
            .map(|i| format!("good line {i}\n"))
            .collect::<String>(),
    )
    .expect("log");
    let _shipper = Shipper::tail(&collector, &tmp.path().join("state"), &log, "good");
    wait_until(Duration::from_secs(20), "first lines stored", || {
        collector.count("good") == 100
    });

    // A 4 GiB length prefix: refused from the prefix alone.
    let mut sock = connect(&collector);
    sock.write_all(&[0xff, 0xff, 0xff, 0xff, b'{'])
        .expect("send");
    expect_error_then_close(&mut sock, ErrorCode::FrameTooLarge);

    // An HTTP request sent to the ingest port reads as an absurd length.
    let mut sock = connect(&collector);
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    expect_error_then_close(&mut sock, ErrorCode::FrameTooLarge);

    // A well-delimited frame whose payload is garbage.
    let mut sock = connect(&collector);
    sock.write_all(&[0, 0, 0, 6, 0xde, 0xad, 0xbe, 0xef, b'{', b'['])
        .expect("send");
    expect_error_then_close(&mut sock, ErrorCode::Malformed);

    // A batch before any hello.
    let batch = Frame::Batch(Batch {
        stream: "s1".into(),
        read_at: jiff::Timestamp::now(),
        lines: vec![Line {
            time: None,
            end: 5,
            text: "evil".into(),
            split: false,
        }],
    });
    let mut sock = connect(&collector);
    send(&mut sock, &batch);
    expect_error_then_close(&mut sock, ErrorCode::UnexpectedFrame);

    // A batch for a stream the handshake never named.
    let mut sock = connect(&collector);
    let declared = StreamInfo {
        fields: Default::default(),
        id: "s0".into(),
        app: "evil".into(),
        stream: "stdout".into(),
        format: None,
    };
    send(&mut sock, &hello(vec![declared]));
    assert!(matches!(recv(&mut sock), Frame::Welcome(_)));
    send(&mut sock, &batch);
    expect_error_then_close(&mut sock, ErrorCode::UnknownStream);

    // A path-like app name.
    let mut sock = connect(&collector);
    let bad = StreamInfo {
        fields: Default::default(),
        id: "s2".into(),
        app: "../../etc".into(),
        stream: "stdout".into(),
        format: None,
    };
    send(&mut sock, &hello(vec![bad]));
    expect_error_then_close(&mut sock, ErrorCode::InvalidApp);

    // Stream fields with a name that is not a field name, or too many of them.
    for fields in [
        vec![("Bad Name\n".to_owned(), "x".to_owned())],
        (0..40).map(|i| (format!("f{i}"), "x".to_owned())).collect(),
        vec![("pid".to_owned(), "9".repeat(1000))],
    ] {
        let mut sock = connect(&collector);
        let bad = StreamInfo {
            fields: fields.into_iter().collect(),
            id: "s3".into(),
            app: "evil".into(),
            stream: "stdout".into(),
            format: None,
        };
        send(&mut sock, &hello(vec![bad]));
        expect_error_then_close(&mut sock, ErrorCode::Malformed);
    }

    // Nothing from the hostile connections was stored, nothing stored was lost, and the
    // shipper's connection still works.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("log");
    file.write_all(b"good line after the attacks\n")
        .expect("append");
    wait_until(
        Duration::from_secs(20),
        "the line after the attacks",
        || collector.count("good") == 101,
    );
    assert_eq!(collector.count("evil"), 0);
}
