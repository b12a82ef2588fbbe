//! TLS for the TCP ingest and HTTP listeners: rustls with the ring provider (no OpenSSL).
//!
//! The certificate, key and client CA are read once at start (and on reload a restart is
//! needed for them). Handshakes run in their own tasks under a timeout, so a client that
//! opens a connection and never speaks holds neither the accept loop nor more than its socket.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, TlsConfig};

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress on one listener; more wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;

/// The acceptors built from `[tls]`.
#[derive(Clone)]
pub struct ServerTls {
    /// TCP ingest: client certificates required when `client_ca` is set.
    pub ingest: TlsAcceptor,
    /// HTTP: never asks for a client certificate (browsers would prompt).
    pub http: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

fn invalid(key: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { key, reason }
}

fn certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(key, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(
            key,
            format!("{}: no PEM certificate in it", path.display()),
        ));
    }
    Ok(certs)
}

impl ServerTls {
    /// Reads the PEM files and builds the server configs; errors name the key and the file.
    pub fn from_config(config: &TlsConfig) -> Result<ServerTls, ConfigError> {
        let chain = certs("tls.cert", &config.cert)?;
        let key = PrivateKeyDer::from_pem_file(&config.key)
            .map_err(|e| invalid("tls.key", format!("{}: {e}", config.key.display())))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = || {
            ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| invalid("tls", e.to_string()))
        };
        let client_auth = match &config.client_ca {
            None => WebPkiClientVerifier::no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in certs("tls.client_ca", path)? {
                    roots.add(cert).map_err(|e| {
                        invalid("tls.client_ca", format!("{}: {e}", path.display()))
                    })?;
                }
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| invalid("tls.client_ca", e.to_string()))?
            }
        };
        let ingest = builder()?
            .with_client_cert_verifier(client_auth)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| invalid("tls.key", format!("does not match tls.cert: {e}")))?;
        let mut http = builder()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| invalid("tls.key", format!("does not match tls.cert: {e}")))?;
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            ingest: TlsAcceptor::from(Arc::new(ingest)),
            http: TlsAcceptor::from(Arc::new(http)),
        })
    }
}

/// Completes a server handshake within [`HANDSHAKE_TIMEOUT`].
pub async fn handshake(
    acceptor: &TlsAcceptor,
    sock: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
        Ok(done) => done,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no TLS handshake before the timeout",
        )),
    }
}

/// A TLS listener for `axum::serve`: accepts on a task of its own, handshakes each connection
/// on another, and hands over only completed ones.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener` until `shutdown`.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor, shutdown: CancellationToken) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (sock, peer) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::warn!(error = %e, "http accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match handshake(&acceptor, sock).await {
                        Ok(stream) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Err(e) => tracing::debug!(%peer, error = %e, "http tls handshake failed"),
                    }
                });
            }
        });
        TlsListener { local, ready }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task ended (shutdown): never hand out another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
