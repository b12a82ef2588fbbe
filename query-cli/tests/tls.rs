//! `logq` against a tiny rustls HTTPS server on 127.0.0.1: `--ca` makes an https `--server`
//! trusted; without it the certificate is refused; a bad CA file is exit 2 with one line.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const APPS: &str = r#"{"apps":[{"app":"web","records":3}]}"#;

/// Starts an HTTPS server for 127.0.0.1 whose certificate a fresh CA signs; it answers every
/// request with the apps listing. Returns its URL and the CA's PEM file.
fn https_server(dir: &Path) -> (String, PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write ca");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    // Serves until the test process ends; each connection gets one answer.
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65536 {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if !request.starts_with(b"GET /api/v1/apps") {
                continue;
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{APPS}",
                APPS.len()
            );
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
    });
    (url, ca_path)
}

fn logq(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args(args)
        .env_remove("LOGQ_SERVER")
        .env_remove("LOGQ_TOKEN")
        .env_remove("LOGQ_CA")
        .env("NO_COLOR", "1")
        .output()
        .expect("run logq");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_https_server_is_trusted_with_its_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, ca) = https_server(dir.path());
    let ca = ca.to_str().expect("utf-8");
    let (code, out, err) = logq(&["--server", &url, "--ca", ca, "apps", "-o", "json"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("\"web\""), "{out}");
    let (code, _, err) = logq(&["--server", &url, "apps"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn a_bad_ca_file_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "no certificate here\n").expect("write");
    let bad = bad.to_str().expect("utf-8");
    for ca in [bad, "/nonexistent/ca.pem"] {
        let (code, out, err) = logq(&["--server", "https://127.0.0.1:9", "--ca", ca, "apps"]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(ca), "{err}");
    }
}

#[test]
fn a_token_file_is_read_and_a_missing_one_named() {
    let (code, _, err) = logq(&["--token-file", "/nonexistent/token", "apps"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/token"), "{err}");
}
