//! The shipper's TLS client against a real tokio-rustls server on 127.0.0.1: the handshake
//! with the right CA carries frames both ways; a wrong CA, a wrong name and a missing client
//! certificate fail with errors that say what to fix.

use std::path::Path;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use logq_schemas::{Ack, Frame, FrameCodec, Hello, PROTOCOL_VERSION, Welcome};
use logq_shipper::tls::{TlsClient, TlsOptions};
use logq_shipper::transport::{self, ConnectError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

const MAX_FRAME: usize = 1 << 20;

/// A CA, and certificates it signs.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca"),
        }
    }

    /// A certificate for `names` (IP addresses or DNS names) and its key.
    fn issue(
        &self,
        names: &[&str],
    ) -> (
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
        String,
        String,
    ) {
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), der, cert.pem(), key.serialize_pem())
    }

    fn write_pem(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.issuer.pem()).expect("write ca");
        path
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A collector stand-in over TLS: answers hello with welcome and every batch with an ack
/// of its last line; returns its address. With `client_ca`, it requires a client
/// certificate signed by that CA.
async fn serve(server_ca: &Ca, client_ca: Option<&Ca>) -> std::net::SocketAddr {
    let (cert, key, _, _) = server_ca.issue(&["127.0.0.1"]);
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.issuer.der().clone()).expect("client root");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.into(),
                provider(),
            )
            .build()
            .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut framed = Framed::new(tls, FrameCodec::new(MAX_FRAME));
                while let Some(Ok(frame)) = framed.next().await {
                    let answer = match frame {
                        Frame::Hello(_) => Frame::Welcome(Welcome {
                            protocol: PROTOCOL_VERSION,
                            max_frame_bytes: MAX_FRAME as u32,
                            positions: Vec::new(),
                        }),
                        Frame::Batch(b) => Frame::Ack(Ack {
                            stream: b.stream,
                            position: b.lines.last().map_or(0, |l| l.end),
                        }),
                        _ => continue,
                    };
                    if framed.send(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn hello() -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        shipper_id: "tls-test".into(),
        host: "h".into(),
        tz: "UTC".into(),
        streams: Vec::new(),
    }
}

async fn try_connect(addr: &str, options: &TlsOptions) -> Result<transport::Conn, ConnectError> {
    let client = TlsClient::new(options, addr).expect("client");
    transport::connect(addr, Some(&client), hello(), MAX_FRAME)
        .await
        .map(|(conn, _)| conn)
}

fn tls_reason(result: Result<transport::Conn, ConnectError>) -> String {
    match result {
        Err(ConnectError::Tls(reason)) => reason,
        Err(other) => panic!("expected a TLS error, got {other:?}"),
        Ok(_) => panic!("expected a TLS error, got a connection"),
    }
}

#[tokio::test]
async fn the_handshake_with_the_right_ca_carries_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("logq test ca");
    let addr = serve(&ca, None).await.to_string();
    let options = TlsOptions {
        ca: Some(ca.write_pem(dir.path(), "ca.pem")),
        ..TlsOptions::default()
    };
    let mut conn = try_connect(&addr, &options)
        .await
        .expect("connect over tls");
    let batch = logq_schemas::Batch {
        stream: "pipe:x".into(),
        read_at: jiff::Timestamp::now(),
        lines: vec![logq_schemas::Line {
            time: None,
            end: 6,
            text: "hello".into(),
            split: false,
        }],
    };
    conn.sink.send(&Frame::Batch(batch)).await.expect("send");
    let answer = conn.incoming.recv().await.expect("answer").expect("frame");
    assert_eq!(
        answer,
        Frame::Ack(Ack {
            stream: "pipe:x".into(),
            position: 6
        })
    );
}

#[tokio::test]
async fn a_wrong_ca_fails_naming_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("logq test ca");
    let other = Ca::new("someone else");
    let addr = serve(&ca, None).await.to_string();
    let options = TlsOptions {
        ca: Some(other.write_pem(dir.path(), "other.pem")),
        ..TlsOptions::default()
    };
    let reason = tls_reason(try_connect(&addr, &options).await);
    assert!(reason.contains("certificate"), "{reason}");
    assert!(reason.contains("--ca"), "{reason}");
}

#[tokio::test]
async fn a_name_the_certificate_lacks_fails_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("logq test ca");
    let addr = serve(&ca, None).await.to_string();
    let options = TlsOptions {
        ca: Some(ca.write_pem(dir.path(), "ca.pem")),
        server_name: Some("logs.example.com".into()),
        ..TlsOptions::default()
    };
    let reason = tls_reason(try_connect(&addr, &options).await);
    assert!(reason.contains("certificate"), "{reason}");
    assert!(reason.contains("--server-name"), "{reason}");
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let addr = serve(&server_ca, Some(&client_ca)).await.to_string();
    let ca = server_ca.write_pem(dir.path(), "ca.pem");
    let without = TlsOptions {
        ca: Some(ca.clone()),
        ..TlsOptions::default()
    };
    let reason = tls_reason(try_connect(&addr, &without).await);
    assert!(reason.contains("certificate"), "{reason}");
    let (_, _, cert_pem, key_pem) = client_ca.issue(&["shipper.example.com"]);
    let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&cert, cert_pem).expect("write cert");
    std::fs::write(&key, key_pem).expect("write key");
    let with = TlsOptions {
        ca: Some(ca),
        client_cert: Some(cert),
        client_key: Some(key),
        server_name: None,
    };
    try_connect(&addr, &with).await.expect("mutual tls");
}
