//! The binary's config and TLS checks, as a user meets them: `--check-config` on the shipped
//! example and on a typo, and bad files refused at start with exit 2 and one line naming them.

use std::path::Path;
use std::process::{Command, Output};

fn shipper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logq-shipper"))
        .args(args)
        .env_remove("LOGQ_TOKEN")
        .env_remove("LOGQ_SHIPPER_TO")
        .env("RUST_LOG", "off")
        .output()
        .expect("run logq-shipper")
}

/// Exit 2 with one line on stderr; returns it.
fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn the_example_config_checks() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/logq-shipper.toml");
    let out = shipper(&["--check-config", example.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "config ok\n");
}

#[test]
fn a_typo_in_a_config_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "to = \"127.0.0.1:7701\"\n[[tail]]\npaths = [\"/l/*.log\"]\napp = \"a\"\nformt = \"json\"\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("utf-8");
    for args in [vec!["--check-config", bad], vec!["--config", bad]] {
        let err = refused(&shipper(&args));
        assert!(err.contains("unknown field `formt`"), "{err}");
        assert!(err.contains("line 5") && err.contains(bad), "{err}");
    }
}

#[test]
fn a_bad_pem_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let ca = ca.to_str().expect("utf-8");
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8");
    let err = refused(&shipper(&[
        "--ca",
        ca,
        "--state-dir",
        state,
        "pipe",
        "--app",
        "x",
    ]));
    assert!(err.contains(ca), "{err}");
    let err = refused(&shipper(&[
        "--ca",
        "/nonexistent/ca.pem",
        "--state-dir",
        state,
        "tail",
        "/x.log",
        "--app",
        "x",
    ]));
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    let config = dir.path().join("tls.toml");
    std::fs::write(
        &config,
        format!("ca = {ca:?}\n[[tail]]\npaths = [\"/x\"]\napp = \"x\"\n"),
    )
    .expect("write");
    let err = refused(&shipper(&[
        "--check-config",
        config.to_str().expect("utf-8"),
    ]));
    assert!(err.contains(ca), "{err}");
}

#[test]
fn combinations_that_cannot_work_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = refused(&shipper(&[]));
    assert!(err.contains("--config"), "{err}");
    let with_sources = dir.path().join("s.toml");
    std::fs::write(&with_sources, "[[tail]]\npaths = [\"/x\"]\napp = \"x\"\n").expect("write");
    let path = with_sources.to_str().expect("utf-8");
    let err = refused(&shipper(&["--config", path, "pipe", "--app", "y"]));
    assert!(err.contains("subcommand"), "{err}");
    let empty = dir.path().join("e.toml");
    std::fs::write(&empty, "to = \"127.0.0.1:7701\"\n").expect("write");
    let err = refused(&shipper(&["--config", empty.to_str().expect("utf-8")]));
    assert!(err.contains("no sources"), "{err}");
    let err = refused(&shipper(&["--udp", "--tls", "pipe", "--app", "y"]));
    assert!(err.contains("udp"), "{err}");
    let err = refused(&shipper(&[
        "--token-file",
        "/nonexistent/token",
        "pipe",
        "--app",
        "y",
    ]));
    assert!(err.contains("/nonexistent/token"), "{err}");
}
