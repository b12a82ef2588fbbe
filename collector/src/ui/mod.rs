//! The browser page at `/`: live tail and search over the HTTP API (docs/API.md). Plain HTML,
//! one script and one stylesheet, embedded in the binary so that the collector serves the page
//! with no files beside it and no build step (ARCHITECTURE.md says why).
//!
//! The page is static: it holds no records and takes no token. It reads everything through
//! `/api/v1/`, which checks the token, so serving it needs no authorization.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Revalidate on every load: the page is small, and a collector upgrade must not leave a tab
/// running the old script against the new API.
const CACHE_CONTROL: &str = "no-cache";

/// The page's routes: `/`, `/assets/app.js` and `/assets/style.css`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE_CONTROL),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
