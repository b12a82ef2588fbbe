//! `POST /api/v1/ingest`: lines from anything that can speak HTTP (a cron job's `curl`, a
//! serverless function), acknowledged once durable like a TCP batch.
//!
//! The body is one JSON object, read whole under a size limit and decoded by hand so that every
//! malformed body (bad syntax, wrong types, nesting past serde_json's depth limit) is a 400
//! with the reason, never a panic or axum's 422:
//! `{"app": "backup", "host": "vm1", "stream": "stdout", "format": "json", "lines": ["..."]}`
//! (`host` defaults to `http`, `stream` to `stdout`, `format` to detection). Lines are numbered
//! by the collector per (host, app, stream), as UDP lines are; `tz` (default UTC) is the zone of
//! times in lines that carry none.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use jiff::Timestamp;
use logq_schemas::validate_app_name;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::IngestContext;
use crate::api::{ApiError, bearer};
use crate::auth::AuthError;
use crate::metrics::Transport;
use crate::wal::{Append, StreamMeta};

/// Lines one request may carry.
pub const MAX_LINES: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestBody {
    pub(crate) app: String,
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_stream")]
    stream: String,
    #[serde(default)]
    format: Option<String>,
    /// Zone of times in lines that carry none.
    #[serde(default = "default_tz")]
    tz: String,
    lines: Vec<String>,
}

fn default_host() -> String {
    "http".into()
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_stream() -> String {
    "stdout".into()
}

#[derive(Debug, Clone)]
struct HttpIngest {
    ctx: IngestContext,
    /// The next position per stream key. Held while a request is submitted to the WAL, so
    /// positions reach it in order.
    next: Arc<Mutex<HashMap<String, u64>>>,
}

/// The ingest route, with its own state; bodies are limited by `limits.max_http_body_bytes`.
pub fn routes<S: Clone + Send + Sync + 'static>(ctx: IngestContext) -> Router<S> {
    Router::new()
        .route("/api/v1/ingest", post(ingest))
        .with_state(HttpIngest {
            ctx,
            next: Arc::default(),
        })
}

#[derive(Debug, serde::Serialize)]
struct Accepted {
    accepted: usize,
}

async fn ingest(
    State(state): State<HttpIngest>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let limit = usize::try_from(state.ctx.limits.config.max_http_body_bytes).unwrap_or(usize::MAX);
    let body = read_body(&headers, body, limit).await?;
    let grant = state
        .ctx
        .tokens
        .get()
        .ingest(bearer(&headers))
        .map_err(|_| ApiError::Unauthorized)?;
    let body = decode(&body)?;
    grant.allows(&body.app).map_err(|e| match e {
        AuthError::BadToken => ApiError::Unauthorized,
        e @ AuthError::AppNotAllowed { .. } => ApiError::Forbidden(e.to_string()),
    })?;
    if let Some(store) = &state.ctx.store
        && store.is_refused(&body.app)
    {
        return Err(ApiError::Unavailable(format!(
            "the collector is at its storage limit; app {:?} is refused until space returns",
            body.app
        )));
    }
    let accepted = body.lines.len();
    let bytes = body.lines.iter().map(|l| l.len() as u64).sum();
    let metrics = &state.ctx.metrics;
    metrics.received(&body.app, Transport::Http, accepted as u64, bytes);
    // Back-pressure, as for TCP: an app over its rate waits (so does the answer).
    state
        .ctx
        .limits
        .throttle(None, &body.app, bytes, metrics)
        .await;
    let timer = metrics.ingest_timer(Transport::Http);
    let max = super::max_line_bytes(&state.ctx, &body.app, &body.lines);
    let key = format!("http:{}/{}/{}", body.host, body.app, body.stream);
    let now = Timestamp::now();
    let pending = {
        let mut next = state.next.lock().await;
        let pos = next
            .entry(key.clone())
            .or_insert_with(|| state.ctx.wal.position(&key).unwrap_or(0));
        let lines = super::number_lines(&body.lines, pos, max);
        let meta = Arc::new(StreamMeta {
            fields: Default::default(),
            key,
            app: body.app,
            host: body.host,
            stream: body.stream,
            format: body.format,
            tz: body.tz,
        });
        state
            .ctx
            .wal
            .submit(Append {
                meta,
                read_at: now,
                received: now,
                lines,
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    match pending.await {
        Ok(Ok(_)) => {
            timer.observe();
            Ok(Json(Accepted { accepted }))
        }
        Ok(Err(e)) => Err(ApiError::Internal(format!("cannot store: {e}"))),
        Err(_) => Err(ApiError::Unavailable(
            "the collector is shutting down".into(),
        )),
    }
}

/// Reads the body whole, refusing one over `limit` from its Content-Length before reading
/// any of it (so a client that announces gigabytes and trickles them holds nothing).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "an ingest body may hold at most {limit} bytes (limits.max_http_body_bytes)"
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Decodes and checks a body; every refusal is a 400 naming the reason.
pub(crate) fn decode(bytes: &[u8]) -> Result<IngestBody, ApiError> {
    let body: IngestBody = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid ingest body: {e}")))?;
    check(&body)?;
    Ok(body)
}

/// The checks a decoded body must pass before anything is stored.
fn check(body: &IngestBody) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::BadRequest(m));
    if let Err(e) = validate_app_name(&body.app) {
        return bad(format!("app {:?}: {e}", body.app));
    }
    let name_ok = |s: &str| !s.is_empty() && s.len() <= 255 && !s.contains(['/', '\n', '\r', '\0']);
    if !name_ok(&body.host) {
        return bad("host must be 1-255 bytes without '/', newlines or NUL".into());
    }
    if !name_ok(&body.stream) || body.stream.len() > 64 {
        return bad("stream must be 1-64 bytes without '/', newlines or NUL".into());
    }
    if !name_ok(&body.tz) && body.tz.len() <= 64 {
        return bad("tz must be a zone name such as UTC or Europe/Paris".into());
    }
    if body.lines.is_empty() || body.lines.len() > MAX_LINES {
        return bad(format!("lines must hold 1 to {MAX_LINES} lines"));
    }
    Ok(())
}
