//! Operations endpoints and guards: `/metrics`, `/readyz`, the body limit, query latency and
//! the query time limit.
//!
//! `/metrics` asks for the read token like every API route when one is configured (a
//! Prometheus scrape config sets it with `authorization: { credentials: ... }`). `/readyz`
//! answers 200 once the WAL is recovered and storage open (the HTTP listener starts only then)
//! and until shutdown begins, 503 otherwise; it needs no token, like `/healthz`.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState, authorize, blocking};
use crate::limits::Limit;
use crate::metrics::Metrics;

/// `GET /metrics`: the OpenMetrics exposition.
pub async fn metrics(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let (store, metrics) = (state.store.clone(), state.metrics.clone());
    let text = blocking(move || metrics.encode(&store.apps())).await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// `GET /readyz`: 200 `ready` while the collector serves, 503 while it shuts down.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    if state.ready.load(Ordering::SeqCst) && !state.shutdown.is_cancelled() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// Refuses a body announced above `limits.max_http_body_bytes` before anything reads it
/// (413), and times the query endpoints. Bodies without a length are bounded where they are
/// read, by axum's `DefaultBodyLimit` set to the same size.
pub async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let max = state.limits.config.max_http_body_bytes;
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = announced.filter(|&len| len > max) {
        let msg =
            format!("request body of {len} bytes; at most {max} (limits.max_http_body_bytes)");
        state.metrics.limit_hit(Limit::MaxHttpBodyBytes, &msg);
        return ApiError::PayloadTooLarge(msg).into_response();
    }
    let endpoint = match request.uri().path() {
        "/api/v1/search" => Some("search"),
        "/api/v1/histogram" => Some("histogram"),
        "/api/v1/context" => Some("context"),
        "/api/v1/apps" => Some("apps"),
        _ => None,
    };
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(endpoint) = endpoint {
        state
            .metrics
            .query_latency(endpoint, started.elapsed().as_secs_f64());
    }
    response
}

/// Runs a query's work within `limits.query_timeout_ms`; past it the client gets 503 saying
/// so. The blocking work itself cannot be interrupted: it finishes in the background and its
/// result is dropped.
pub async fn time_limited<T>(
    state: &ApiState,
    what: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    limit_time(
        &state.metrics,
        state.limits.config.query_timeout_ms,
        what,
        work,
    )
    .await
}

async fn limit_time<T>(
    metrics: &Metrics,
    ms: u64,
    what: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(Duration::from_millis(ms), work).await {
        Ok(result) => result,
        Err(_) => {
            let msg = format!(
                "the {what} took over {ms} ms (limits.query_timeout_ms); narrow it with an app, a level or a shorter time range"
            );
            metrics.limit_hit(Limit::QueryTimeout, &msg);
            Err(ApiError::TimedOut(msg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_time_limit_is_a_timeout_and_counted() {
        let metrics = Metrics::new();
        let never = std::future::pending::<Result<(), ApiError>>();
        match limit_time(&metrics, 10, "search", never).await {
            Err(ApiError::TimedOut(m)) => assert!(m.contains("limits.query_timeout_ms"), "{m}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        let quick = async { Ok::<_, ApiError>(7) };
        assert_eq!(
            limit_time(&metrics, 10_000, "search", quick).await.ok(),
            Some(7)
        );
        assert!(
            metrics
                .encode(&[])
                .contains("logq_limit_hits_total{limit=\"limits.query_timeout_ms\"} 1")
        );
    }
}
