//! HTTP client for the collector's API: one agent, timeouts, and errors as one readable line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use logq_schemas::StoredRecord;
use serde::Deserialize;
use thiserror::Error;

/// Client errors, each a one-line reason.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The collector could not be reached.
    #[error("cannot reach collector at {server}: {cause}")]
    Unreachable { server: String, cause: String },
    /// The collector answered with an error.
    #[error("collector refused the {what} ({status}): {message}")]
    Refused {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// The collector's answer was not what the API promises.
    #[error("unreadable {what} response from the collector: {cause}")]
    BadResponse { what: &'static str, cause: String },
}

/// Largest response body read whole, in bytes (apps, histogram; search and tail stream).
const MAX_BODY_BYTES: u64 = 64 << 20;

/// The filters search, histogram and tail share, as the API takes them.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub query: String,
    pub apps: Vec<String>,
    pub hosts: Vec<String>,
    /// `warn` or `warn..error`.
    pub level: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
}

impl Filters {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("q", self.query.clone())];
        params.extend(self.apps.iter().map(|a| ("app", a.clone())));
        params.extend(self.hosts.iter().map(|h| ("host", h.clone())));
        params.extend(self.level.clone().map(|l| ("level", l)));
        params.extend(self.since.clone().map(|t| ("since", t)));
        params.extend(self.until.clone().map(|t| ("until", t)));
        params
    }
}

/// A search as the API takes it.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub filters: Filters,
    /// 0 counts only.
    pub limit: usize,
    /// Context events before and after each hit.
    pub before: usize,
    pub after: usize,
}

/// One search hit, with the events around it when context was asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub record: StoredRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
}

/// Events of the hit's app and stream just before and after it, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Context {
    pub before: Vec<StoredRecord>,
    pub after: Vec<StoredRecord>,
}

/// Matches per time bucket, as `/api/v1/histogram` returns them.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Histogram {
    pub total: u64,
    /// Width of each bucket in milliseconds.
    pub interval_ms: u64,
    /// Oldest first, every bucket of the range (zeros included).
    pub buckets: Vec<Bucket>,
}

/// One bucket: matches with `start <= time < start + interval`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Bucket {
    pub start: jiff::Timestamp,
    pub count: u64,
}

/// One app as `/api/v1/apps` lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct AppSummary {
    pub app: String,
    pub records: u64,
    /// Raw message bytes.
    #[serde(default)]
    pub raw_bytes: u64,
    /// Bytes of sealed segments with their indexes.
    #[serde(default)]
    pub disk_bytes: u64,
    #[serde(default)]
    pub segments: u64,
    pub first: Option<jiff::Timestamp>,
    pub last: Option<jiff::Timestamp>,
    #[serde(default)]
    pub retention: Retention,
}

/// An app's retention policy.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Retention {
    pub max_bytes: Option<u64>,
    pub max_age_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct AppsResponse {
    apps: Vec<AppSummary>,
}

/// The collector's API.
#[derive(Debug)]
pub struct Client {
    server: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// An event of a live tail.
#[derive(Debug)]
pub enum TailEvent {
    Record(Box<StoredRecord>),
    /// The stream broke; the tail reconnects from where it was.
    Lost(ClientError),
    /// Reconnected after a loss.
    Resumed,
}

/// Why the client cannot be set up (before any request).
#[derive(Debug, Error)]
pub enum SetupError {
    #[error("cannot read CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error("CA file {path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("cannot read token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("--server {0:?} is not an http:// or https:// URL")]
    Server(String),
}

/// Largest token file read (a token is one line).
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// How the client connects: the server, a token, and for https the CAs to trust.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub server: String,
    pub token: Option<String>,
    /// The CA certificates (DER) to trust; `None` trusts the webpki (Mozilla) roots.
    pub roots: Option<Vec<ureq::tls::Certificate<'static>>>,
}

impl ClientConfig {
    /// Reads the CA bundle and the token file, if named, and checks the server URL.
    pub fn new(
        server: &str,
        token: Option<String>,
        token_file: Option<&Path>,
        ca: Option<&Path>,
    ) -> Result<ClientConfig, SetupError> {
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(SetupError::Server(server.to_owned()));
        }
        let token = match token_file {
            Some(path) => Some(read_token_file(path)?),
            None => token,
        };
        let roots = ca.map(read_ca).transpose()?;
        Ok(ClientConfig {
            server: server.trim_end_matches('/').to_owned(),
            token,
            roots,
        })
    }
}

/// Every certificate of the PEM bundle at `path`; at least one.
fn read_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, SetupError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let err = |e: rustls::pki_types::pem::Error| SetupError::Ca {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let ders = CertificateDer::pem_file_iter(path)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    if ders.is_empty() {
        return Err(SetupError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(ders
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect())
}

/// The token in `path`, without its trailing newline.
fn read_token_file(path: &Path) -> Result<String, SetupError> {
    use std::io::Read;
    let err = |reason: String| SetupError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(err("it is too large for a token".into()));
    }
    let token = text.trim_end_matches(['\n', '\r']);
    if token.is_empty() || token.contains(['\n', '\r']) {
        return Err(err("it must hold the token on one line".into()));
    }
    Ok(token.to_owned())
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        let roots = match config.roots {
            Some(certs) => ureq::tls::RootCerts::new_with_certs(&certs),
            None => ureq::tls::RootCerts::WebPki,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            // Search bodies stream and tails send a keep-alive every 10 s: a read that waits
            // longer means the collector is gone.
            .timeout_per_read(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Client {
            server: config.server,
            token: config.token,
            agent,
        }
    }

    /// Runs a search, calling `each` with every hit oldest first as the body streams in;
    /// returns the total number of matches. An error of `each` stops the search and is
    /// returned.
    pub fn search(
        &self,
        q: &SearchQuery,
        each: impl FnMut(Hit) -> std::io::Result<()>,
    ) -> Result<u64, SearchFailure> {
        let mut params = q.filters.params();
        params.push(("limit", q.limit.to_string()));
        params.push(("order", "oldest".into()));
        if q.before > 0 {
            params.push(("before", q.before.to_string()));
        }
        if q.after > 0 {
            params.push(("after", q.after.to_string()));
        }
        let what = "search";
        let body = self.call(what, "/api/v1/search", &params)?;
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(body));
        let mut sink = HitSink { each, failed: None };
        let total = serde::de::DeserializeSeed::deserialize(&mut sink, &mut de);
        if let Some(e) = sink.failed {
            return Err(SearchFailure::Output(e));
        }
        Ok(total.map_err(|e| ClientError::BadResponse {
            what,
            cause: e.to_string(),
        })?)
    }

    /// Matches per time bucket.
    pub fn histogram(&self, filters: &Filters, buckets: usize) -> Result<Histogram, ClientError> {
        let mut params = filters.params();
        params.push(("buckets", buckets.to_string()));
        self.get("histogram", "/api/v1/histogram", &params)
    }

    pub fn apps(&self) -> Result<Vec<AppSummary>, ClientError> {
        self.get::<AppsResponse>("apps listing", "/api/v1/apps", &[])
            .map(|r| r.apps)
    }

    /// Follows `/api/v1/tail`, calling `each` with every event, until `each` returns false or
    /// an error. The first connection failing is an error; later losses are reported to `each`
    /// and retried (every second at most) from the last cursor, so nothing is missed or
    /// repeated.
    pub fn tail(
        &self,
        filters: &Filters,
        n: usize,
        mut each: impl FnMut(TailEvent) -> std::io::Result<bool>,
    ) -> Result<(), SearchFailure> {
        let mut params: Vec<(&'static str, String)> = filters
            .params()
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "since" | "until"))
            .collect();
        params.push(("n", n.to_string()));
        let mut cursor: Option<String> = None;
        let mut lost = false;
        loop {
            let mut params = params.clone();
            params.extend(cursor.clone().map(|c| ("cursor", c)));
            let body = match self.call("tail", "/api/v1/tail", &params) {
                Ok(body) => body,
                Err(e) if cursor.is_none() && !lost => return Err(e.into()),
                Err(e @ ClientError::Refused { .. }) => return Err(e.into()),
                Err(e) => {
                    if !lost {
                        lost = true;
                        if !each(TailEvent::Lost(e)).map_err(SearchFailure::Output)? {
                            return Ok(());
                        }
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
            };
            if std::mem::take(&mut lost)
                && !each(TailEvent::Resumed).map_err(SearchFailure::Output)?
            {
                return Ok(());
            }
            let mut sse = crate::sse::Reader::new(std::io::BufReader::new(body));
            let broke = loop {
                match sse.next() {
                    Ok(Some(event)) => {
                        if let Some(id) = event.id {
                            cursor = Some(id);
                        }
                        match event.kind.as_str() {
                            "record" => {
                                let record: StoredRecord = serde_json::from_str(&event.data)
                                    .map_err(|e| ClientError::BadResponse {
                                        what: "tail",
                                        cause: e.to_string(),
                                    })?;
                                if !each(TailEvent::Record(Box::new(record)))
                                    .map_err(SearchFailure::Output)?
                                {
                                    return Ok(());
                                }
                            }
                            "error" => {
                                return Err(ClientError::Refused {
                                    what: "tail",
                                    status: 200,
                                    message: error_message(&event.data),
                                }
                                .into());
                            }
                            _ => {}
                        }
                    }
                    Ok(None) => {
                        break ClientError::Unreachable {
                            server: self.server.clone(),
                            cause: "the collector closed the stream".into(),
                        };
                    }
                    Err(e) => break self.unreachable(ureq::Error::Io(e)),
                }
            };
            lost = true;
            if !each(TailEvent::Lost(broke)).map_err(SearchFailure::Output)? {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a GET; an answer other than 2xx becomes [`ClientError::Refused`] with the
    /// collector's message. Returns the body to read.
    fn call(
        &self,
        what: &'static str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<ureq::BodyReader<'static>, ClientError> {
        let mut req = self.agent.get(format!("{}{path}", self.server));
        for (k, v) in params {
            req = req.query(*k, v);
        }
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let resp = req.call().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            let text = body
                .with_config()
                .limit(MAX_BODY_BYTES)
                .read_to_string()
                .unwrap_or_default();
            return Err(ClientError::Refused {
                what,
                status,
                message: error_message(&text),
            });
        }
        Ok(body.into_reader())
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let body = self.call(what, path, params)?;
        serde_json::from_reader(std::io::Read::take(body, MAX_BODY_BYTES)).map_err(|e| {
            ClientError::BadResponse {
                what,
                cause: e.to_string(),
            }
        })
    }

    fn unreachable(&self, e: ureq::Error) -> ClientError {
        let cause = match e {
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            },
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::HostNotFound => "host not found".to_owned(),
            other => other.to_string(),
        };
        ClientError::Unreachable {
            server: self.server.clone(),
            cause,
        }
    }
}

/// The `error` of a JSON error body, or its first line.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.lines().next().unwrap_or("").to_owned())
}

/// Why a search or tail stopped.
#[derive(Debug, Error)]
pub enum SearchFailure {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Writing the output failed (a closed pipe, for one).
    #[error(transparent)]
    Output(std::io::Error),
}

/// Reads a search body `{"total": N, "took_ms": T, "hits": [...]}` handing each hit to `each`
/// as it is parsed, so that no more than one hit is in memory.
struct HitSink<F> {
    each: F,
    failed: Option<std::io::Error>,
}

impl<'de, F: FnMut(Hit) -> std::io::Result<()>> serde::de::DeserializeSeed<'de>
    for &mut HitSink<F>
{
    type Value = u64;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Hit) -> std::io::Result<()>> serde::de::Visitor<'de> for &mut HitSink<F> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a search response")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut total = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "total" => total = Some(map.next_value::<u64>()?),
                "hits" => map.next_value_seed(HitsSeed(&mut *self))?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        total.ok_or_else(|| serde::de::Error::missing_field("total"))
    }
}

struct HitsSeed<'a, F>(&'a mut HitSink<F>);

impl<'de, F: FnMut(Hit) -> std::io::Result<()>> serde::de::DeserializeSeed<'de>
    for HitsSeed<'_, F>
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Hit) -> std::io::Result<()>> serde::de::Visitor<'de> for HitsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of hits")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(hit) = seq.next_element::<Hit>()? {
            if let Err(e) = (self.0.each)(hit) {
                self.0.failed = Some(e);
                return Err(serde::de::Error::custom("output failed"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_reads_the_ca_and_the_token_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret\r\n").expect("write");
        let c = ClientConfig::new(
            "https://logs:7700/",
            Some("flag".into()),
            Some(&token),
            None,
        )
        .expect("config");
        assert_eq!(
            (c.server.as_str(), c.token.as_deref()),
            ("https://logs:7700", Some("s3cret"))
        );
        assert!(c.roots.is_none());
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not pem\n").expect("write");
        let err = ClientConfig::new("https://logs", None, None, Some(&ca)).expect_err("bad ca");
        assert!(matches!(err, SetupError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains(&ca.display().to_string()), "{err}");
        let err = ClientConfig::new("logs:7700", None, None, None).expect_err("no scheme");
        assert!(err.to_string().contains("https://"), "{err}");
    }
}
