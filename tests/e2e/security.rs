//! Security: TLS with a test CA, ingest and read tokens on every door (TCP, UDP, HTTP, the
//! page's API), hostile app names and HTTP bodies, the loopback rule, config checks and
//! SIGHUP reloads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use logq_schemas::{ErrorCode, Frame, Hello, PROTOCOL_VERSION, StreamInfo};

use crate::util::{Collector, Shipper, api_get, bin, logq, wait_until};
use crate::wire::{try_recv, try_send};

/// A CA and what it signed, as PEM files in a directory.
pub struct TestCa {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A second CA that signed nothing the collector knows.
    pub other_ca: PathBuf,
}

impl TestCa {
    /// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate.
    pub fn create(dir: &Path) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_params = || {
            let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p
        };
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_cert = ca_params().self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params(), ca_key);
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().expect("leaf key");
            let cert = CertificateParams::new(names)
                .expect("leaf params")
                .signed_by(&key, &issuer)
                .expect("leaf cert");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_pem, client_key) = leaf(vec!["shipper.test".into()]);
        let other_key = KeyPair::generate().expect("other key");
        let other = ca_params().self_signed(&other_key).expect("other ca");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write pem");
            path
        };
        TestCa {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_pem),
            client_key: write("client.key", &client_key),
            other_ca: write("other-ca.pem", &other.pem()),
        }
    }

    /// The `[tls]` section of a collector config using this CA's server certificate.
    pub fn tls_section(&self, client_ca: bool) -> String {
        let mut s = format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            self.server_cert.display().to_string(),
            self.server_key.display().to_string()
        );
        if client_ca {
            s.push_str(&format!(
                "client_ca = {:?}\n",
                self.ca.display().to_string()
            ));
        }
        s
    }

    fn roots(&self, ca: &Path) -> rustls::RootCertStore {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).expect("ca pem") {
            roots.add(cert.expect("ca cert")).expect("add root");
        }
        roots
    }

    /// A rustls client config trusting `ca`, with the client certificate when `with_cert`.
    pub fn client_config(&self, ca: &Path, with_cert: bool) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(self.roots(ca));
        let config = if with_cert {
            let chain = CertificateDer::pem_file_iter(&self.client_cert)
                .expect("client pem")
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert");
            let key = PrivateKeyDer::from_pem_file(&self.client_key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }
}

type TlsSock = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(addr: std::net::SocketAddr, config: Arc<rustls::ClientConfig>) -> TlsSock {
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    let conn = rustls::ClientConnection::new(config, name).expect("client connection");
    rustls::StreamOwned::new(conn, sock)
}

fn hello(token: Option<&str>, app: &str) -> Frame {
    Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: token.map(str::to_owned),
        shipper_id: "security-test".into(),
        host: "h".into(),
        tz: "UTC".into(),
        streams: vec![StreamInfo {
            fields: Default::default(),
            id: "s0".into(),
            app: app.into(),
            stream: "stdout".into(),
            format: None,
        }],
    })
}

/// The collector's answer to a hello over plain TCP.
fn plain_handshake(collector: &Collector, token: Option<&str>, app: &str) -> Frame {
    let mut sock = TcpStream::connect(collector.tcp).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    try_send(&mut sock, &hello(token, app)).expect("send hello");
    try_recv(&mut sock).expect("answer")
}

fn assert_refused(frame: Frame, code: ErrorCode, what: &str) {
    match frame {
        Frame::Error(e) => assert_eq!(e.code, code, "{what}: {}", e.message),
        other => panic!("{what}: expected an error frame, got {other:?}"),
    }
}

/// An HTTP request with an optional bearer token; returns (status, body).
fn http(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, String) {
    let result = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(url);
            if let Some(t) = token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            req.call()
        }
        (_, body) => {
            let mut req = agent.post(url).header("Content-Type", "application/json");
            if let Some(t) = token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            req.send(body.unwrap_or_default())
        }
    };
    let mut resp = result.expect("http request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, text)
}

fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn https_agent(ca: &Path) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let pem = std::fs::read(ca).expect("ca pem");
    let cert = Certificate::from_pem(&pem).expect("ca cert");
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![cert])))
                .build(),
        )
        .build()
        .new_agent()
}

const INGEST: &str = "ingest-secret-1";
const READ: &str = "read-secret-1";

fn token_config() -> String {
    format!(
        "[[tokens]]\nname = \"web-vm\"\nsecret = \"{INGEST}\"\nrole = \"ingest\"\napps = [\"web\"]\n\
         [[tokens]]\nname = \"ops\"\nsecret = \"{READ}\"\nrole = \"read\"\n"
    )
}

#[test]
fn tls_with_a_test_ca_carries_ingest_and_the_api() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::create(tmp.path());
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some(&format!("{}{}", token_config(), ca.tls_section(true))),
    );

    // TCP ingest: a client trusting the CA, with its client certificate, is welcomed.
    let mut sock = tls_connect(collector.tcp, ca.client_config(&ca.ca, true));
    try_send(&mut sock, &hello(Some(INGEST), "web")).expect("hello over tls");
    assert!(
        matches!(try_recv(&mut sock).expect("welcome"), Frame::Welcome(_)),
        "welcomed over TLS"
    );
    drop(sock);

    // Without a client certificate (client_ca is set) the handshake fails.
    let mut sock = tls_connect(collector.tcp, ca.client_config(&ca.ca, false));
    let refused =
        try_send(&mut sock, &hello(Some(INGEST), "web")).and_then(|()| try_recv(&mut sock));
    assert!(refused.is_err(), "no client certificate: {refused:?}");

    // A client trusting another CA refuses the collector's certificate.
    let mut sock = tls_connect(collector.tcp, ca.client_config(&ca.other_ca, true));
    let err = try_send(&mut sock, &hello(Some(INGEST), "web"))
        .and_then(|()| try_recv(&mut sock))
        .expect_err("unknown issuer");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Plain TCP to the TLS port gets no welcome.
    let mut sock = TcpStream::connect(collector.tcp).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    try_send(&mut sock, &hello(Some(INGEST), "web")).expect("send");
    assert!(
        !matches!(try_recv(&mut sock), Ok(Frame::Welcome(_))),
        "plain TCP is not welcomed on a TLS port"
    );

    // HTTPS: lines posted with the ingest token are searchable with the read token.
    let base = format!("https://127.0.0.1:{}", collector.http.port());
    let agent = https_agent(&ca.ca);
    let body = br#"{"app":"web","lines":["tls hello 1","tls hello 2"]}"#;
    let (status, text) = http(
        &agent,
        "POST",
        &format!("{base}/api/v1/ingest"),
        Some(INGEST),
        Some(body),
    );
    assert_eq!(status, 200, "{text}");
    let search = format!("{base}/api/v1/search?q=hello&app=web");
    wait_until(
        Duration::from_secs(20),
        "lines searchable over https",
        || {
            let (status, text) = http(&agent, "GET", &search, Some(READ), None);
            status == 200 && text.contains("tls hello 2")
        },
    );
    assert_eq!(http(&agent, "GET", &search, None, None).0, 401);
    // Plain HTTP to the HTTPS port does not get an answer that leaks anything.
    let plain = format!(
        "http://127.0.0.1:{}/api/v1/search?q=hello",
        collector.http.port()
    );
    let leaked = plain_agent()
        .get(&plain)
        .header("Authorization", &format!("Bearer {READ}"))
        .call();
    assert!(
        leaked.is_err() || leaked.is_ok_and(|r| r.status().as_u16() >= 400),
        "plain http on the https port"
    );
}

#[test]
fn the_real_shipper_and_cli_speak_mutual_tls_with_token_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::create(tmp.path());
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some(&format!("{}{}", token_config(), ca.tls_section(true))),
    );
    let ingest_file = tmp.path().join("ingest.token");
    let read_file = tmp.path().join("read.token");
    std::fs::write(&ingest_file, format!("{INGEST}\n")).expect("token file");
    std::fs::write(&read_file, format!("{READ}\n")).expect("token file");
    let log = tmp.path().join("web.log");
    std::fs::write(
        &log,
        (0..500)
            .map(|i| format!("tls line {i:04}\n"))
            .collect::<String>(),
    )
    .expect("log");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let child = Command::new(bin("logq-shipper"))
        .args(["--to", &collector.tcp.to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["--ca", &path(&ca.ca)])
        .args(["--client-cert", &path(&ca.client_cert)])
        .args(["--client-key", &path(&ca.client_key)])
        .args(["--token-file", &path(&ingest_file)])
        .env_remove("LOGQ_TOKEN")
        .args(["tail", &path(&log), "--app", "web"])
        .spawn()
        .expect("spawn shipper");
    let _shipper = Shipper::from_child(child);
    let server = format!("https://127.0.0.1:{}", collector.http.port());
    let search = |extra: &[&str]| {
        let mut args = vec!["--server", &server, "--token-file"];
        let read = path(&read_file);
        let ca_path = path(&ca.ca);
        args.push(&read);
        args.extend(extra);
        args.extend(["search", "tls", "--app", "web", "--count", "--ca", &ca_path]);
        let (code, out, err) = logq(&args);
        (code, String::from_utf8_lossy(&out).trim().to_owned(), err)
    };
    wait_until(Duration::from_secs(30), "500 lines over mutual TLS", || {
        search(&[]).1 == "500"
    });
    // The CLI without the CA refuses the server's certificate: exit 2, one line.
    let (code, _, err) = logq(&["--server", &server, "--token", READ, "apps"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn tokens_are_required_on_tcp_udp_http_and_bound_to_apps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start_with(&tmp.path().join("data"), Some(&token_config()));

    // TCP: missing, wrong, read-only and out-of-scope tokens are refused; the right one is not.
    assert_refused(
        plain_handshake(&collector, None, "web"),
        ErrorCode::Unauthorized,
        "no token",
    );
    assert_refused(
        plain_handshake(&collector, Some("ingest-secret-2"), "web"),
        ErrorCode::Unauthorized,
        "wrong token",
    );
    assert_refused(
        plain_handshake(&collector, Some(READ), "web"),
        ErrorCode::Unauthorized,
        "read token used to ingest",
    );
    assert_refused(
        plain_handshake(&collector, Some(INGEST), "billing"),
        ErrorCode::Unauthorized,
        "app outside the token's apps",
    );
    assert!(matches!(
        plain_handshake(&collector, Some(INGEST), "web"),
        Frame::Welcome(_)
    ));

    // HTTP reads: 401 without the read token, with a wrong one, or with the ingest token.
    let agent = plain_agent();
    let apps = format!("{}/api/v1/apps", collector.url());
    assert_eq!(http(&agent, "GET", &apps, None, None).0, 401);
    assert_eq!(
        http(&agent, "GET", &apps, Some("read-secret-2"), None).0,
        401
    );
    assert_eq!(http(&agent, "GET", &apps, Some(INGEST), None).0, 401);
    assert_eq!(http(&agent, "GET", &apps, Some(READ), None).0, 200);
    // The page itself loads (it asks for the token); its data does not without one.
    let (status, page) = api_get(&collector, "/");
    assert_eq!(status, 200);
    assert!(
        page.contains("token-dialog"),
        "the page has the token prompt"
    );

    // HTTP ingest: the ingest token, for its own apps only.
    let ingest = format!("{}/api/v1/ingest", collector.url());
    let web = br#"{"app":"web","lines":["http line one"]}"#;
    let billing = br#"{"app":"billing","lines":["http line two"]}"#;
    assert_eq!(http(&agent, "POST", &ingest, None, Some(web)).0, 401);
    assert_eq!(http(&agent, "POST", &ingest, Some(READ), Some(web)).0, 401);
    let (status, text) = http(&agent, "POST", &ingest, Some(INGEST), Some(billing));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("billing"), "{text}");
    let (status, text) = http(&agent, "POST", &ingest, Some(INGEST), Some(web));
    assert_eq!((status, text.as_str()), (200, r#"{"accepted":1}"#));

    // UDP: a datagram without the token is dropped; one with it is stored.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let datagram = |token: Option<&str>, line: &str| {
        serde_json::json!({
            "protocol": 1, "host": "h", "tz": "UTC", "app": "web", "stream": "udp",
            "token": token, "lines": [line],
        })
        .to_string()
    };
    udp.send_to(
        datagram(None, "udp without token").as_bytes(),
        collector.udp,
    )
    .expect("send");
    udp.send_to(
        datagram(Some(INGEST), "udp with token").as_bytes(),
        collector.udp,
    )
    .expect("send");
    let search = format!("{}/api/v1/search?q=*&app=web&limit=100", collector.url());
    wait_until(Duration::from_secs(20), "udp and http lines stored", || {
        let (_, text) = http(&agent, "GET", &search, Some(READ), None);
        text.contains("udp with token") && text.contains("http line one")
    });
    let (_, text) = http(&agent, "GET", &search, Some(READ), None);
    assert!(
        !text.contains("udp without token"),
        "tokenless datagram dropped"
    );
    assert!(!text.contains("http line two"), "out-of-scope line dropped");
}

#[test]
fn hostile_app_names_and_ingest_bodies_are_refused_and_nothing_else_is_touched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let collector = Collector::start(&data);
    let agent = plain_agent();
    let ingest = format!("{}/api/v1/ingest", collector.url());

    // Path-like names, newlines and NUL: refused over TCP...
    for app in [
        "../../etc/passwd",
        "web\nINFO forged",
        "web\0x",
        "/abs",
        ".hidden",
        "",
    ] {
        assert_refused(
            plain_handshake(&collector, None, app),
            ErrorCode::InvalidApp,
            &format!("tcp app {app:?}"),
        );
        // ...and over HTTP.
        let body = serde_json::json!({"app": app, "lines": ["x"]}).to_string();
        let (status, text) = http(&agent, "POST", &ingest, None, Some(body.as_bytes()));
        assert_eq!(status, 400, "http app {app:?}: {text}");
        assert!(text.contains("app"), "{text}");
    }

    // Type confusion, wrong shapes, and JSON nested 10,000 deep: each a 400 with a reason.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!(
        "{{\"app\":\"web\",\"lines\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"app":5,"lines":["x"]}"#.to_vec(),
        br#"{"app":"web","lines":"x"}"#.to_vec(),
        br#"{"app":"web","lines":[1,2,3]}"#.to_vec(),
        br#"{"app":["web"],"lines":["x"]}"#.to_vec(),
        br#"{"app":{"$gt":""},"lines":["x"]}"#.to_vec(),
        br#"{"app":"web","lines":[],"extra":1}"#.to_vec(),
        br#"{"app":"web","lines":[]}"#.to_vec(),
        br#"{"app":"web","host":"a/b","lines":["x"]}"#.to_vec(),
        br#"["web","x"]"#.to_vec(),
        br#""web""#.to_vec(),
        b"null".to_vec(),
        b"".to_vec(),
        b"{\"app\":\"web\",\"lines\":[\"\xff\xfe\"]}".to_vec(),
        deep.into_bytes(),
        deep_object.into_bytes(),
    ];
    for body in &bodies {
        let (status, text) = http(&agent, "POST", &ingest, None, Some(body));
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        assert_eq!(status, 400, "body {shown:?}: {text}");
        assert!(text.contains("\"error\""), "body {shown:?}: {text}");
    }

    // A body over the limit (limits.max_http_body_bytes, 8 MiB by default) is refused from its
    // Content-Length, before any of it is sent.
    let mut sock = TcpStream::connect(collector.http).expect("connect http");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        sock,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        16 << 20
    )
    .expect("send headers");
    let mut answer = [0u8; 12];
    sock.read_exact(&mut answer).expect("status line");
    assert_eq!(
        &answer,
        b"HTTP/1.1 413",
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // The collector is unharmed and a good body still goes through.
    let (status, text) = http(
        &agent,
        "POST",
        &ingest,
        None,
        Some(br#"{"app":"web","lines":["still serving"]}"#),
    );
    assert_eq!(status, 200, "{text}");
    wait_until(Duration::from_secs(20), "good line stored", || {
        collector.count("web") == 1
    });
    // Nothing was written outside the data dir, and no directory was named after a bad app.
    let mut outside: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    outside.sort();
    assert_eq!(outside, vec!["data".to_string(), "data.toml".to_string()]);
    assert!(!tmp.path().join("etc").exists());
}

#[test]
fn non_loopback_listeners_without_tls_and_tokens_are_refused_at_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Refused before binding anything: nothing listens beyond loopback during the test.
    for (flag, key) in [
        ("--http-addr", "http_addr"),
        ("--tcp-addr", "tcp_addr"),
        ("--udp-addr", "udp_addr"),
    ] {
        let out = Command::new(bin("logq-collector"))
            .arg("--data-dir")
            .arg(tmp.path().join("data"))
            .args([flag, "0.0.0.0:0"])
            .output()
            .expect("run collector");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(key) && stderr.contains("--insecure"),
            "{flag}: {stderr}"
        );
        assert!(
            !tmp.path().join("data").exists(),
            "refused before touching data"
        );
    }
}

fn check_config(path: &Path) -> (i32, String) {
    let out = Command::new(bin("logq-collector"))
        .arg("--check-config")
        .arg(path)
        .output()
        .expect("run check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn check_config_names_the_key_and_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::create(tmp.path());
    let write = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    };
    let good = write(
        "good.toml",
        &format!("{}{}", token_config(), ca.tls_section(true)),
    );
    assert_eq!(check_config(&good), (0, "config ok\n".to_string()));

    for (name, text, expect) in [
        ("unknown.toml", "retention_dayz = 3\n", "retention_dayz"),
        (
            "role.toml",
            "[[tokens]]\nname = \"a\"\nsecret = \"12345678\"\nrole = \"root\"\n",
            "root",
        ),
        (
            "short.toml",
            "[[tokens]]\nname = \"a\"\nsecret = \"x\"\nrole = \"read\"\n",
            "tokens",
        ),
        (
            "cert.toml",
            "[tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n",
            "tls.cert",
        ),
        ("exposed.toml", "tcp_addr = \"0.0.0.0:7701\"\n", "tcp_addr"),
    ] {
        let (code, text) = check_config(&write(name, text));
        assert_eq!(code, 2, "{name}: {text}");
        assert!(text.contains(expect), "{name}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{name}: one line: {text}");
    }
    // A key that does not match the certificate.
    let mismatched = write(
        "mismatch.toml",
        &format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            ca.server_cert.display().to_string(),
            ca.client_key.display().to_string()
        ),
    );
    let (code, text) = check_config(&mismatched);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("tls.key"), "{text}");

    // The example config shipped in examples/ stays valid.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/logq-collector.toml");
    let (code, text) = check_config(&example);
    assert_eq!((code, text.as_str()), (0, "config ok\n"));
}

#[test]
fn sighup_reloads_tokens_and_retention_without_dropping_connections() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = |secret: &str, max: &str| {
        format!(
            "[[tokens]]\nname = \"all\"\nsecret = \"{secret}\"\nrole = \"all\"\n\
             [retention]\nmin_free_bytes = 0\nmin_free_percent = 0\n\
             [retention.apps.web]\nmax_bytes = \"{max}\"\n"
        )
    };
    let collector = Collector::start_with(
        &tmp.path().join("data"),
        Some(&config("first-secret", "100MiB")),
    );
    let agent = plain_agent();
    let ingest = format!("{}/api/v1/ingest", collector.url());
    let apps = format!("{}/api/v1/apps", collector.url());
    let body = br#"{"app":"web","lines":["before reload"]}"#;
    assert_eq!(
        http(&agent, "POST", &ingest, Some("first-secret"), Some(body)).0,
        200
    );
    wait_until(Duration::from_secs(20), "line stored", || {
        http(&agent, "GET", &apps, Some("first-secret"), None)
            .1
            .contains("\"web\"")
    });
    // A shipper connection admitted before the reload.
    let mut before = TcpStream::connect(collector.tcp).expect("connect");
    before
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    try_send(&mut before, &hello(Some("first-secret"), "web")).expect("hello");
    assert!(matches!(
        try_recv(&mut before).expect("welcome"),
        Frame::Welcome(_)
    ));

    let path = collector.config.clone().expect("config path");
    std::fs::write(&path, config("second-secret", "5MiB")).expect("rewrite config");
    let pid = collector.pid();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).expect("pid"),
        rustix::process::Signal::HUP,
    )
    .expect("SIGHUP");
    wait_until(Duration::from_secs(10), "the new token in force", || {
        http(&agent, "GET", &apps, Some("second-secret"), None).0 == 200
    });
    assert_eq!(
        http(&agent, "GET", &apps, Some("first-secret"), None).0,
        401
    );
    let (_, text) = http(&agent, "GET", &apps, Some("second-secret"), None);
    assert!(
        text.contains(&(5u64 << 20).to_string()),
        "new retention listed: {text}"
    );

    // The connection admitted before the reload still works: its open is answered.
    try_send(
        &mut before,
        &Frame::Open(StreamInfo {
            fields: Default::default(),
            id: "s1".into(),
            app: "web".into(),
            stream: "stderr".into(),
            format: None,
        }),
    )
    .expect("open after reload");
    assert!(matches!(
        try_recv(&mut before).expect("opened"),
        Frame::Opened(_)
    ));

    // An invalid config is refused on SIGHUP (counted in /metrics); the one in force stays.
    let metrics = format!("{}/metrics", collector.url());
    let reloads = |result: &str| -> u64 {
        let (_, text) = http(&agent, "GET", &metrics, Some("second-secret"), None);
        let key = format!("logq_config_reloads_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(reloads("applied"), 1);
    std::fs::write(&path, "retention_dayz = 1\n").expect("break config");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).expect("pid"),
        rustix::process::Signal::HUP,
    )
    .expect("SIGHUP");
    wait_until(Duration::from_secs(10), "the broken config refused", || {
        reloads("refused") == 1
    });
    assert_eq!(
        http(&agent, "GET", &apps, Some("second-secret"), None).0,
        200
    );
    assert_eq!(reloads("applied"), 1);
}
