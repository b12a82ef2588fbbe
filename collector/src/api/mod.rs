//! The HTTP API: `/healthz`, `/api/v1/search`, `/api/v1/apps`. Errors are JSON
//! `{"error": "..."}`, mapped to status codes in one place ([`ApiError`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Zoned;
use logq_schemas::StoredRecord;
use logq_schemas::timespec::parse_time_spec;
use serde::{Deserialize, Serialize};

use crate::index::{LogIndex, SearchError, SearchRequest};
use crate::ingest::token_matches;
use crate::storage::{AppInfo, Store};

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub index: LogIndex,
    pub store: Arc<Store>,
    pub token: Option<Arc<str>>,
}

/// The router with every route.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/search", get(search))
        .route("/api/v1/apps", get(apps))
        .with_state(state)
}

/// An API failure with its status.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Internal(String),
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::BadQuery(_) | SearchError::BadRequest(_) => {
                ApiError::BadRequest(e.to_string())
            }
            SearchError::Index(_) | SearchError::Corrupt(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong token".to_owned(),
            ),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "api request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token_matches(expected, given) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Query parameters of `/api/v1/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    /// Comma-separated app names.
    #[serde(default)]
    app: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
}

/// Body of a successful search.
#[derive(Debug, Serialize)]
pub struct SearchResponse {
    /// Newest first.
    hits: Vec<StoredRecord>,
    total: u64,
    took_ms: u64,
}

fn parse_time(
    name: &str,
    spec: Option<&str>,
    now: &Zoned,
) -> Result<Option<jiff::Timestamp>, ApiError> {
    spec.filter(|s| !s.is_empty())
        .map(|s| parse_time_spec(s, now).map_err(|e| ApiError::BadRequest(format!("{name}: {e}"))))
        .transpose()
}

async fn search(
    State(state): State<ApiState>,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    authorize(&state, &headers)?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = Zoned::now();
    let req = SearchRequest {
        query: params.q,
        apps: params
            .app
            .map(|a| {
                a.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        since: parse_time("since", params.since.as_deref(), &now)?,
        until: parse_time("until", params.until.as_deref(), &now)?,
        limit: params.limit.unwrap_or(100),
    };
    let started = Instant::now();
    let (index, store) = (state.index.clone(), state.store.clone());
    let result = tokio::task::spawn_blocking(move || store.search(&index, &req))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(SearchResponse {
        hits: result.hits,
        total: result.total,
        took_ms: started.elapsed().as_millis() as u64,
    }))
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
    let apps = tokio::task::spawn_blocking(move || store.apps())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(AppsResponse { apps }))
}
