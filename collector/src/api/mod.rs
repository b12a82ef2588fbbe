//! The HTTP API: `/healthz`, `/api/v1/search`, `/api/v1/histogram`, `/api/v1/context`,
//! `/api/v1/tail` (server-sent events), `/api/v1/apps` and `POST /api/v1/ingest`
//! ([`crate::ingest::http`]), documented in docs/API.md, and the
//! page at `/` ([`crate::web`]). Errors are JSON `{"error": "..."}`, mapped to status codes in
//! one place ([`ApiError`]). `/metrics`, `/readyz`, the body limit and the query time limit
//! are in [`ops`].

mod ops;
mod params;
mod search;
mod tail;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::auth::SharedTokens;
use crate::index::{LogIndex, SearchError, Watermarks};
use crate::ingest::IngestContext;
use crate::storage::{AppInfo, Store};

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub index: LogIndex,
    pub store: Arc<Store>,
    /// Read tokens (swapped on reload).
    pub tokens: SharedTokens,
    /// How far records are stored and searchable, for live tail.
    pub watermarks: tokio::sync::watch::Receiver<Watermarks>,
    /// Cancelled at shutdown: live tails end so that the server can.
    pub shutdown: CancellationToken,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// `max_http_body_bytes` and `query_timeout_ms` apply here.
    pub limits: Arc<crate::limits::Limits>,
    /// Set once the WAL is recovered and storage open; `/readyz` answers from it.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
}

/// The router with every route; `ingest` serves `POST /api/v1/ingest`.
pub fn router(state: ApiState, ingest: IngestContext) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/histogram", get(search::histogram))
        .route("/api/v1/context", get(search::context))
        .route("/api/v1/tail", get(tail::tail))
        .route("/api/v1/apps", get(apps))
        .merge(crate::ingest::http::routes(ingest))
        .merge(crate::ui::routes())
        .route("/metrics", get(ops::metrics))
        .route("/readyz", get(ops::readyz))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            usize::try_from(state.limits.config.max_http_body_bytes).unwrap_or(usize::MAX),
        ))
        .with_state(state)
}

/// An API failure with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
    /// Over `limits.query_timeout_ms`.
    #[error("{0}")]
    TimedOut(String),
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::BadQuery(_) | SearchError::BadRequest(_) => {
                ApiError::BadRequest(e.to_string())
            }
            SearchError::Index(_) | SearchError::Corrupt(_) => ApiError::Internal(e.to_string()),
            SearchError::Repairing { .. } => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::TimedOut(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "api request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Admits a request that reads, when read tokens are configured.
fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    state
        .tokens
        .get()
        .read(bearer(headers))
        .map_err(|_| ApiError::Unauthorized)
}

/// Checks the request's token, then takes its parameters, refusing names outside `allowed`.
fn admit(
    state: &ApiState,
    headers: &HeaderMap,
    raw: RawParams,
    allowed: &[&[&str]],
) -> Result<params::Params, ApiError> {
    authorize(state, headers)?;
    params::Params::new(
        raw.map_err(|e| ApiError::BadRequest(e.body_text()))?.0,
        allowed,
    )
}

/// An endpoint's query string as name-value pairs (see [`params::Params`]).
pub type RawParams = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// Runs blocking work (index and segment reads) off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Debug, Serialize)]
struct AppsResponse {
    apps: Vec<AppInfo>,
}

async fn apps(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<AppsResponse>, ApiError> {
    authorize(&state, &headers)?;
    let store = state.store.clone();
    let apps = blocking(move || store.apps()).await?;
    Ok(Json(AppsResponse { apps }))
}
