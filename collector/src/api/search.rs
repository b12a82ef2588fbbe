//! `/api/v1/search` (streamed), `/api/v1/histogram` and `/api/v1/context`.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::{Timestamp, Zoned};
use logq_schemas::StoredRecord;
use serde::Serialize;

use super::ops::time_limited;
use super::params::FILTERS;
use super::{ApiError, ApiState, RawParams, admit, blocking};
use crate::index::histogram::{Buckets, MAX_BUCKETS};
use crate::index::{MAX_LIMIT, nanos};
use crate::storage::Store;

/// Hits fetched and written per chunk of the streamed body. Large enough that a frame (about
/// 1 MiB of records) is seldom decoded for two chunks: hits in time order come from the same
/// frames, and each chunk decodes the frames it needs afresh.
const CHUNK_HITS: usize = 8192;
/// The most context records on either side of a hit.
pub const MAX_CONTEXT: usize = 1000;

/// A hit as the API writes it.
#[derive(Debug, Serialize)]
struct HitOut<'a> {
    #[serde(flatten)]
    record: &'a StoredRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ContextOut>,
}

#[derive(Debug, Serialize)]
struct ContextOut {
    before: Vec<StoredRecord>,
    after: Vec<StoredRecord>,
}

/// `GET /api/v1/search`: `{"total": N, "took_ms": T, "hits": [...]}`, the hits written a chunk
/// at a time as they are read, newest first unless `order=oldest`.
pub async fn search(
    State(state): State<ApiState>,
    headers: HeaderMap,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let params = admit(
        &state,
        &headers,
        raw,
        &[FILTERS, &["limit", "order", "before", "after"]],
    )?;
    let mut req = params.search_request(&Zoned::now())?;
    req.limit = params.number("limit", 100, MAX_LIMIT)?;
    let oldest_first = match params.get("order").unwrap_or("newest") {
        "newest" => false,
        "oldest" => true,
        other => {
            return Err(ApiError::BadRequest(format!(
                "order must be newest or oldest, not {other:?}"
            )));
        }
    };
    let before = params.number("before", 0, MAX_CONTEXT)?;
    let after = params.number("after", 0, MAX_CONTEXT)?;
    let started = Instant::now();
    let (index, store) = (state.index.clone(), state.store.clone());
    let (found, store) = time_limited(&state, "search", async {
        Ok(blocking(move || store.find(&index, &req).map(|f| (f, store))).await??)
    })
    .await?;
    let mut found = found;
    if oldest_first {
        found.oldest_first();
    }
    let head = format!(
        "{{\"total\":{},\"took_ms\":{},\"hits\":[",
        found.total,
        started.elapsed().as_millis()
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut first = true;
        let mut buf = head.into_bytes();
        loop {
            let chunk = found.next_chunk(CHUNK_HITS);
            if chunk.is_empty() {
                break;
            }
            for record in store.fetch(chunk) {
                if !first {
                    buf.push(b',');
                }
                first = false;
                write_hit(&mut buf, &store, &record, before, after);
            }
            if tx
                .blocking_send(Bytes::from(std::mem::take(&mut buf)))
                .is_err()
            {
                return; // The client went away.
            }
        }
        buf.extend_from_slice(b"]}\n");
        let _ = tx.blocking_send(Bytes::from(buf));
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

fn write_hit(buf: &mut Vec<u8>, store: &Store, record: &StoredRecord, before: usize, after: usize) {
    let context = (before > 0 || after > 0).then(|| {
        store
            .context(&record.record.app, record.id, before, after)
            .map_or(
                ContextOut {
                    before: Vec::new(),
                    after: Vec::new(),
                },
                |c| ContextOut {
                    before: c.before,
                    after: c.after,
                },
            )
    });
    serde_json::to_writer(&mut *buf, &HitOut { record, context }).expect("records serialize");
}

#[derive(Debug, Serialize)]
struct HistogramResponse {
    total: u64,
    interval_ms: u64,
    buckets: Vec<BucketOut>,
}

#[derive(Debug, Serialize)]
struct BucketOut {
    start: Timestamp,
    count: u64,
}

/// `GET /api/v1/histogram`: matches per bucket over `since..until` (default the last 24 hours),
/// at most `buckets` (default 60) of a round width.
pub async fn histogram(
    State(state): State<ApiState>,
    headers: HeaderMap,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let params = admit(&state, &headers, raw, &[FILTERS, &["buckets"]])?;
    let now = Zoned::now();
    let mut req = params.search_request(&now)?;
    let until = req.until.unwrap_or(now.timestamp());
    let since = req
        .since
        .unwrap_or_else(|| until - jiff::SignedDuration::from_hours(24));
    (req.since, req.until) = (Some(since), Some(until));
    let max = params.number("buckets", 60, MAX_BUCKETS)?.max(1);
    let buckets = Buckets::covering(nanos(since), nanos(until), max);
    let (index, store) = (state.index.clone(), state.store.clone());
    let counted = time_limited(&state, "histogram", async {
        Ok(blocking(move || store.histogram(&index, &req, buckets)).await??)
    })
    .await?;
    let start = |i: usize| {
        Timestamp::from_nanosecond(
            i128::from(counted.start) + i as i128 * i128::from(counted.width),
        )
        .unwrap_or(Timestamp::MAX)
    };
    Ok(axum::Json(HistogramResponse {
        total: counted.total(),
        interval_ms: (counted.width / 1_000_000) as u64,
        buckets: counted
            .counts
            .iter()
            .enumerate()
            .map(|(i, &count)| BucketOut {
                start: start(i),
                count,
            })
            .collect(),
    })
    .into_response())
}

/// `GET /api/v1/context?app=A&id=N&before=B&after=C`: record N of app A with the records of its
/// stream around it.
pub async fn context(
    State(state): State<ApiState>,
    headers: HeaderMap,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let params = admit(&state, &headers, raw, &[&["app", "id", "before", "after"]])?;
    let app = params
        .get("app")
        .ok_or_else(|| ApiError::BadRequest("app is required".into()))?
        .to_owned();
    let id = params
        .get("id")
        .ok_or_else(|| ApiError::BadRequest("id is required".into()))?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("id must be a record id, not {id:?}")))?;
    let before = params.number("before", 10, MAX_CONTEXT)?;
    let after = params.number("after", 10, MAX_CONTEXT)?;
    let store = state.store.clone();
    let found = blocking(move || {
        store
            .context(&app, id, before, after)
            .ok_or_else(|| ApiError::NotFound(format!("app {app:?} holds no record {id}")))
    })
    .await??;
    Ok(axum::Json(found).into_response())
}
