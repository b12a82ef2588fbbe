//! `/api/v1/tail`: live tail over server-sent events. It sends the newest `n` matching records
//! (oldest first), then every new matching record in id order as soon as it is stored.
//!
//! Each event's id is a cursor: the id the stream resumes from. A client that reconnects with
//! it (`Last-Event-ID`, as browsers do, or `cursor=`) gets exactly the records it has not seen,
//! across a collector restart too: ids below the store's watermark can no longer appear (see
//! [`Watermarks`]), and the stream never passes it. When nothing matches for a while, an
//! event of type `cursor` with empty data moves the cursor on without a record.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use jiff::Zoned;
use logq_schemas::StoredRecord;
use tokio::sync::mpsc;

use super::{ApiError, ApiState, RawParams, admit, blocking};
use crate::index::{SearchRequest, Watermarks};

/// Records read from the store per step.
const STEP: usize = 1000;
/// The most records the initial part may ask for.
const MAX_INITIAL: usize = 10_000;
/// How often at most a cursor-only event is sent.
const CURSOR_EVERY: Duration = Duration::from_secs(1);

/// `GET /api/v1/tail?q=&app=&host=&level=&n=10[&cursor=C]`.
pub async fn tail(
    State(state): State<ApiState>,
    headers: HeaderMap,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let params = admit(
        &state,
        &headers,
        raw,
        &[&["q", "app", "host", "level", "n", "cursor"]],
    )?;
    let req = params.search_request(&Zoned::now())?;
    let n = params.number("n", 10, MAX_INITIAL)?;
    let resume = params
        .get("cursor")
        .or_else(|| headers.get("last-event-id").and_then(|v| v.to_str().ok()))
        .map(|c| {
            c.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("cursor {c:?} is not a tail cursor")))
        })
        .transpose()?;
    let (tx, rx) = mpsc::channel::<Event>(256);
    tokio::spawn(follow(state, req, n, resume, tx));
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response())
}

fn record_event(r: &StoredRecord, cursor: u64) -> Event {
    Event::default()
        .event("record")
        .id(cursor.to_string())
        .data(serde_json::to_string(r).expect("records serialize"))
}

/// Feeds one client until it goes away or the collector shuts down.
async fn follow(
    state: ApiState,
    req: SearchRequest,
    n: usize,
    resume: Option<u64>,
    tx: mpsc::Sender<Event>,
) {
    let mut marks = state.watermarks.clone();
    let mut from = match resume {
        Some(cursor) => cursor,
        None => {
            let Watermarks { searchable, stored } = *marks.borrow_and_update();
            if n == 0 {
                stored
            } else {
                match initial(&state, &req, n, searchable).await {
                    Ok(records) => {
                        for r in &records {
                            if tx.send(record_event(r, searchable)).await.is_err() {
                                return;
                            }
                        }
                        searchable
                    }
                    Err(e) => {
                        let _ = tx.send(error_event(&e)).await;
                        return;
                    }
                }
            }
        }
    };
    let mut last_event = Instant::now();
    loop {
        let below = marks.borrow_and_update().stored;
        while from < below {
            let (store, apps) = (state.store.clone(), req.apps.clone());
            let step = blocking(move || store.records_between(&apps, from, below, STEP)).await;
            let Ok(records) = step else { return };
            let next = match records.last() {
                Some(last) if records.len() == STEP => last.id + 1,
                _ => below,
            };
            for r in records.iter().filter(|r| req.matches(r)) {
                if tx.send(record_event(r, r.id + 1)).await.is_err() {
                    return;
                }
                last_event = Instant::now();
            }
            from = next;
        }
        if last_event.elapsed() >= CURSOR_EVERY {
            let cursor = Event::default()
                .event("cursor")
                .id(from.to_string())
                .data("");
            if tx.send(cursor).await.is_err() {
                return;
            }
            last_event = Instant::now();
        }
        tokio::select! {
            changed = marks.changed() => if changed.is_err() { return },
            () = state.shutdown.cancelled() => return,
            () = tx.closed() => return,
        }
    }
}

/// The newest `n` matches with ids below `searchable` (all in the committed index), oldest
/// first.
async fn initial(
    state: &ApiState,
    req: &SearchRequest,
    n: usize,
    searchable: u64,
) -> Result<Vec<StoredRecord>, ApiError> {
    let Some(through) = searchable.checked_sub(1) else {
        return Ok(Vec::new());
    };
    let mut req = req.clone();
    req.limit = n;
    req.through_id = Some(through);
    let (index, store) = (state.index.clone(), state.store.clone());
    let mut hits = blocking(move || store.search(&index, &req)).await??.hits;
    hits.reverse();
    Ok(hits)
}

fn error_event(e: &ApiError) -> Event {
    Event::default()
        .event("error")
        .data(serde_json::json!({ "error": e.to_string() }).to_string())
}
