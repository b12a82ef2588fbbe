//! HTTP client for the collector's API: one agent, timeouts, and errors as one readable line.

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

/// Largest response body read, in bytes.
const MAX_BODY_BYTES: u64 = 1 << 31;

/// A search as the API takes it.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub query: String,
    pub apps: Vec<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    pub limit: usize,
}

/// A search answer: hits newest first.
#[derive(Debug, Deserialize)]
pub struct SearchResponse {
    pub hits: Vec<StoredRecord>,
    pub total: u64,
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

impl Client {
    pub fn new(server: &str, token: Option<String>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Client {
            server: server.trim_end_matches('/').to_owned(),
            token,
            agent,
        }
    }

    pub fn search(&self, q: &SearchQuery) -> Result<SearchResponse, ClientError> {
        let mut params = vec![("q", q.query.clone()), ("limit", q.limit.to_string())];
        if !q.apps.is_empty() {
            params.push(("app", q.apps.join(",")));
        }
        if let Some(since) = &q.since {
            params.push(("since", since.clone()));
        }
        if let Some(until) = &q.until {
            params.push(("until", until.clone()));
        }
        self.get("search", "/api/v1/search", &params)
    }

    pub fn apps(&self) -> Result<Vec<AppSummary>, ClientError> {
        self.get::<AppsResponse>("apps listing", "/api/v1/apps", &[])
            .map(|r| r.apps)
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let mut req = self.agent.get(format!("{}{path}", self.server));
        for (k, v) in params {
            req = req.query(*k, v);
        }
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let mut resp = req.call().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| ClientError::BadResponse {
                what,
                cause: e.to_string(),
            })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| body.lines().next().unwrap_or("").to_owned());
            return Err(ClientError::Refused {
                what,
                status,
                message,
            });
        }
        serde_json::from_str(&body).map_err(|e| ClientError::BadResponse {
            what,
            cause: e.to_string(),
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
