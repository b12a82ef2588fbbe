//! TLS for the connection to the collector: the client config, built once at start from PEM
//! files (a CA bundle to trust, an optional client certificate for mutual TLS), and the name
//! the collector's certificate must carry.
//!
//! Everything that can be wrong with the files is found here, before any connection is made;
//! what can only go wrong in a handshake (an unknown CA, a name mismatch, a client certificate
//! the collector refuses) is told by [`describe_handshake_error`] in words that name the fix.
//! This module never reads the network itself: [`crate::transport`] does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use thiserror::Error;
use tokio_rustls::TlsConnector;

/// Where the TLS settings come from (flags or the config file), before anything is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of the CAs to trust; `None` trusts the webpki (Mozilla) roots.
    pub ca: Option<PathBuf>,
    /// PEM certificate chain this shipper presents (mutual TLS); goes with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The name the collector's certificate must carry; `None` takes the host of the address.
    pub server_name: Option<String>,
}

/// Why the TLS client cannot be built. Each message names the file or setting at fault.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read PEM file {path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("CA file {path}: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("a client certificate needs both --client-cert and --client-key")]
    HalfClientIdentity,
    #[error("client certificate {cert} with key {key}: {reason}")]
    BadClientIdentity {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("invalid server name {name:?} (give a DNS name or an IP address with --server-name)")]
    ServerName { name: String },
    #[error("cannot set up TLS: {0}")]
    Rustls(String),
}

/// A TLS client ready to connect: the config and the name to verify.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Reads the PEM files of `options` and builds the client for the collector at `to`
    /// (`HOST:PORT`; HOST is the name verified unless `server_name` is given).
    pub fn new(options: &TlsOptions, to: &str) -> Result<TlsClient, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match &options.ca {
            Some(path) => {
                let certs = read_certs(path)?;
                for cert in certs {
                    roots.add(cert).map_err(|e| TlsError::BadCa {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_root_certificates(roots);
        let config = match (&options.client_cert, &options.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert)?;
                let der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
                    path: key.clone(),
                    reason: e.to_string(),
                })?;
                builder.with_client_auth_cert(chain, der).map_err(|e| {
                    TlsError::BadClientIdentity {
                        cert: cert.clone(),
                        key: key.clone(),
                        reason: e.to_string(),
                    }
                })?
            }
            _ => return Err(TlsError::HalfClientIdentity),
        };
        let name = match &options.server_name {
            Some(name) => name.clone(),
            None => host_of(to).to_owned(),
        };
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| TlsError::ServerName { name: name.clone() })?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// The name the collector's certificate is verified against.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |e: rustls::pki_types::pem::Error| TlsError::Pem {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The host of `HOST:PORT` or `[V6]:PORT` (all of `to` when it has no port).
pub fn host_of(to: &str) -> &str {
    if let Some(rest) = to.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    match to.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => to,
    }
}

/// Whether an I/O error of a connection is a TLS failure (handshake, certificate, alert).
pub fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// A TLS failure in words that name the fix: which certificate was refused and why.
pub fn describe_handshake_error(e: &std::io::Error) -> String {
    use rustls::{AlertDescription, CertificateError, Error};
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e.to_string();
    };
    let hint = match tls {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "; the collector's certificate is not signed by a trusted CA (check --ca)"
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "; the collector's certificate does not carry this name (check --server-name)",
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "; the collector's certificate has expired",
        Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::CertificateRequired
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired,
        ) => "; the collector refused this shipper's client certificate (check --client-cert)",
        Error::InvalidMessage(_) => "; is the collector's port speaking TLS?",
        _ => "",
    };
    format!("tls: {tls}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host_of("127.0.0.1:7701"), "127.0.0.1");
        assert_eq!(host_of("logs.example.com:7701"), "logs.example.com");
        assert_eq!(host_of("[::1]:7701"), "::1");
        assert_eq!(host_of("logs.example.com"), "logs.example.com");
    }

    #[test]
    fn a_bad_pem_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate\n").expect("write");
        let options = TlsOptions {
            ca: Some(ca.clone()),
            ..TlsOptions::default()
        };
        let err = TlsClient::new(&options, "127.0.0.1:1").expect_err("no certificate");
        assert!(err.to_string().contains(&ca.display().to_string()), "{err}");
        let missing = TlsOptions {
            ca: Some(dir.path().join("missing.pem")),
            ..TlsOptions::default()
        };
        let err = TlsClient::new(&missing, "127.0.0.1:1").expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let options = TlsOptions {
            client_cert: Some("/x.pem".into()),
            ..TlsOptions::default()
        };
        assert!(matches!(
            TlsClient::new(&options, "127.0.0.1:1"),
            Err(TlsError::HalfClientIdentity)
        ));
    }

    #[test]
    fn ip_addresses_are_server_names() {
        let client = TlsClient::new(&TlsOptions::default(), "127.0.0.1:7701").expect("client");
        assert!(matches!(client.server_name(), ServerName::IpAddress(_)));
        let bad = TlsOptions {
            server_name: Some("not a name!".into()),
            ..TlsOptions::default()
        };
        assert!(matches!(
            TlsClient::new(&bad, "127.0.0.1:7701"),
            Err(TlsError::ServerName { .. })
        ));
    }
}
