//! The hot index: a tantivy index over the records not yet in a sealed segment's split, its
//! schema, the writer thread and search.
//!
//! One index under `<data_dir>/hot`. It holds no text: a hit is an app and a record id, and the
//! record is read from the app's active segment (or, once sealed, its segment). Each commit
//! carries as payload the WAL location up to which records are indexed, so that at start the
//! WAL replay indexes exactly the records the index lacks.

pub mod histogram;
mod request;
mod search;
pub(crate) mod tokenizer;
mod writer;

use std::path::Path;

use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, IndexReader, ReloadPolicy};
use thiserror::Error;

use crate::wal::WalLocation;

pub(crate) use request::sealed_records;
pub use request::{MAX_LIMIT, Names, SearchRequest};
pub(crate) use search::time_id_key;
pub use search::{HotHit, SearchError, SearchResult};
pub use writer::{IndexerHandle, Links, Timing, spawn_indexer};

/// Where the indexer publishes its [`Watermarks`].
pub type WatermarkSender = tokio::sync::watch::Sender<Watermarks>;

/// Failures opening or writing the index.
#[derive(Debug, Error)]
pub enum IndexError {
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("index commit payload is unreadable: {0}")]
    Payload(String),
}

/// Registers logq's message tokenizer on an index (for tools that build indexes of their own,
/// such as the `index_cost` example).
pub fn register_tokenizer(index: &Index) {
    tokenizer::register(index);
}

/// Nanoseconds since the epoch, saturated to the i64 range the index stores.
pub(crate) fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(if t.as_second() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Record id (u64), fast only: order, cursor and range filter (tantivy's range query reads
    /// fast fields; indexing them too added a term per record: 0.15x raw, `index_cost`).
    pub id: Field,
    /// Event time in nanoseconds since the epoch (i64), fast only.
    pub time: Field,
    /// App name (fast: a hit names the app whose segment holds the record).
    pub app: Field,
    pub host: Field,
    pub level: Field,
    pub stream: Field,
    /// The original text, tokenized for full-text search, not stored.
    pub message: Field,
    /// The record's scalar fields as `name=value` terms, lowercased (see [`attr_term`]): what
    /// `status:500` or `request_id:abc` finds.
    pub attrs: Field,
}

/// Longest field value indexed in `attrs` (longer ones, such as user agents, are found by
/// their words in the message).
pub const MAX_ATTR_VALUE_BYTES: usize = 64;

/// The `attrs` term of a record field: `name=value`, lowercased; `None` for objects, arrays,
/// nulls and values longer than [`MAX_ATTR_VALUE_BYTES`].
pub fn attr_term(name: &str, value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    use std::fmt::Write;
    // One allocation per term, lowercased in place when ASCII (every record has several).
    let mut term = String::with_capacity(name.len() + 24);
    term.push_str(name);
    term.push('=');
    let value_at = term.len();
    match value {
        Value::String(s) => term.push_str(s),
        Value::Number(n) => write!(term, "{n}").expect("writing to a String"),
        Value::Bool(b) => term.push_str(if *b { "true" } else { "false" }),
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    }
    if term.len() - value_at > MAX_ATTR_VALUE_BYTES {
        return None;
    }
    if term.is_ascii() {
        term.make_ascii_lowercase();
        Some(term)
    } else {
        Some(term.to_lowercase())
    }
}

/// The value of an `attrs` term left out of the index because it is an id (see
/// [`tokenizer::is_id`]: `request_id=…`, `pid=69122`), found through frame filters.
pub fn attr_id_value(term: &str) -> Option<&str> {
    term.split_once('=')
        .map(|(_, value)| value)
        .filter(|value| tokenizer::is_id(value))
}

/// Whether an `attrs` term is left out of the index (see [`attr_id_value`]).
pub fn attr_is_id(term: &str) -> bool {
    attr_id_value(term).is_some()
}

/// Options of the exact-value text fields (app, host, level, stream), shared with splits:
/// indexed whole, fast (a hit names its app), without field norms (never scored; norms cost a
/// byte per document per field).
fn keyword_options() -> TextOptions {
    TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_fast("raw")
}

/// The message field's options, shared with splits: indexed with positions (phrases), not
/// stored, and without field norms (hits are ordered by time, never scored).
fn message_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::NAME)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

impl Fields {
    /// Adds the fields the hot index and every split share to a schema being built.
    pub(crate) fn add_to(b: &mut tantivy::schema::SchemaBuilder) -> Fields {
        Fields {
            id: b.add_u64_field("id", FAST),
            time: b.add_i64_field("time", FAST),
            app: b.add_text_field("app", keyword_options()),
            host: b.add_text_field("host", keyword_options()),
            level: b.add_text_field("level", keyword_options()),
            stream: b.add_text_field("stream", keyword_options()),
            message: b.add_text_field("message", message_options()),
            attrs: b.add_text_field("attrs", attrs_options()),
        }
    }

    /// The fields of an index built with [`Fields::add_to`] (the hot index or a split).
    pub fn of(schema: &Schema) -> Result<Fields, tantivy::TantivyError> {
        Ok(Fields {
            id: schema.get_field("id")?,
            time: schema.get_field("time")?,
            app: schema.get_field("app")?,
            host: schema.get_field("host")?,
            level: schema.get_field("level")?,
            stream: schema.get_field("stream")?,
            message: schema.get_field("message")?,
            attrs: schema.get_field("attrs")?,
        })
    }

    /// The document of a record.
    pub(crate) fn document(&self, stored: &logq_schemas::StoredRecord) -> tantivy::TantivyDocument {
        let r = &stored.record;
        let mut doc = tantivy::TantivyDocument::new();
        doc.add_u64(self.id, stored.id);
        doc.add_i64(self.time, nanos(r.time));
        doc.add_text(self.app, &r.app);
        doc.add_text(self.host, &r.host);
        doc.add_text(self.level, r.level.map_or("none", |l| l.as_str()));
        doc.add_text(self.stream, &r.stream);
        doc.add_text(self.message, &r.message);
        for (name, value) in &r.fields {
            if let Some(term) = attr_term(name, value).filter(|t| !attr_is_id(t)) {
                doc.add_text(self.attrs, term);
            }
        }
        doc
    }
}

/// The `attrs` field's options: terms indexed whole, neither fast nor normed.
fn attrs_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    )
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields::add_to(&mut b);
    (b.build(), fields)
}

/// What the hot index holds, saved as each commit's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HotMark {
    /// Where the WAL replay resumes: every record of the batches before it is in the index.
    /// It stays before the first line of an event still waiting for lines.
    pub location: WalLocation,
    /// Per app, the highest record id in the index (records come out of the normalizer in id
    /// order per app, so a replay leaves out those up to it).
    #[serde(default)]
    pub emitted: std::collections::BTreeMap<String, u64>,
    /// Every record with a lower id is in the index (or a split), or never will be: see
    /// [`Watermarks`].
    #[serde(default)]
    pub stored_below: u64,
}

/// How far the records are final, by id, for live tail. Ids are given in WAL order, but a
/// record leaves the normalizer only when its event is complete, so the ids below a watermark
/// are the ones that can no longer appear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    /// Every record with a lower id is in the store, or never will be (its line joined an
    /// event of a lower id).
    pub stored: u64,
    /// Every record with a lower id is also in the committed index (or a split).
    pub searchable: u64,
}

/// Deletions the indexer thread applies at its next commit: each app's records with ids up
/// to the value (they were sealed into segments).
pub type PendingDeletes = std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>>;

/// An open index with a reader that follows commits.
#[derive(Clone)]
pub struct LogIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl std::fmt::Debug for LogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIndex").finish_non_exhaustive()
    }
}

impl LogIndex {
    /// Opens the index in `dir`, creating it when absent. An index with another schema (an
    /// older layout) is set aside and started afresh: it is derived data.
    pub fn open(dir: &Path) -> Result<LogIndex, IndexError> {
        if let Ok(existing) = Index::open_in_dir(dir)
            && existing.schema() != schema().0
        {
            tracing::warn!(dir = %dir.display(), "the hot index has an older schema; rebuilding it");
            std::fs::remove_dir_all(dir).map_err(|source| IndexError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| IndexError::Tantivy(e.into()))?;
        let index = Index::open_or_create(mmap, schema)?;
        tokenizer::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(LogIndex {
            index,
            reader,
            fields,
        })
    }

    /// What the last commit covers.
    pub fn committed_mark(&self) -> Result<HotMark, IndexError> {
        match self.index.load_metas()?.payload {
            None => Ok(HotMark::default()),
            Some(p) => serde_json::from_str::<HotMark>(&p)
                .or_else(|_| {
                    // Before events spanned batches, the payload was the location alone.
                    serde_json::from_str::<WalLocation>(&p).map(|location| HotMark {
                        location,
                        ..HotMark::default()
                    })
                })
                .map_err(|e| IndexError::Payload(e.to_string())),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use jiff::Timestamp;
    use logq_schemas::Line;

    use super::*;
    use crate::wal::{Durable, StreamMeta, WalBatch};

    /// A durable batch of `app` at time `at` whose lines get ids from `first_id`.
    pub(crate) fn batch(first_id: u64, app: &str, at: &str, texts: &[&str]) -> Durable {
        let at: Timestamp = at.parse().expect("ts");
        let lines = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Line {
                time: None,
                end: first_id + i as u64 + 1,
                text: (*t).into(),
                split: false,
            })
            .collect();
        Durable {
            location: WalLocation {
                file: 1,
                offset: first_id + 100,
            },
            batch: Arc::new(WalBatch {
                first_id,
                meta: StreamMeta {
                    fields: Default::default(),
                    key: format!("s/{app}"),
                    app: app.into(),
                    host: "h".into(),
                    stream: "stdout".into(),
                    format: None,
                    tz: "UTC".into(),
                },
                read_at: at,
                received: at,
                lines,
            }),
        }
    }

    /// An index in `dir` holding `batches`, committed, their records in `store`'s active
    /// segments.
    pub(crate) fn index_batches(
        dir: &Path,
        store: Arc<crate::storage::Store>,
        batches: Vec<Durable>,
    ) -> LogIndex {
        let index = LogIndex::open(dir).expect("open");
        let indexer = spawn_indexer(
            &index,
            store,
            15_000_000,
            Timing {
                commit_interval: Duration::from_millis(10),
                event_idle: Duration::from_millis(400),
            },
            Links::default(),
            |_| {},
        )
        .expect("indexer");
        for b in batches {
            indexer.tx.send(b).expect("send");
        }
        drop(indexer.tx);
        indexer.join.join().expect("indexer thread");
        index.reader.reload().expect("reload");
        index
    }

    struct Indexed {
        _dir: tempfile::TempDir,
        store: Arc<crate::storage::Store>,
        index: LogIndex,
    }

    impl Indexed {
        fn new(batches: Vec<Durable>) -> Indexed {
            let dir = tempfile::tempdir().expect("tempdir");
            let (store, _) = crate::storage::Store::open(
                dir.path(),
                Default::default(),
                Default::default(),
                Arc::new(|_: &Path| None),
            )
            .expect("store");
            let store = Arc::new(store);
            let index = index_batches(&dir.path().join("hot"), store.clone(), batches);
            Indexed {
                _dir: dir,
                store,
                index,
            }
        }

        fn search(&self, req: &SearchRequest) -> Result<SearchResult, SearchError> {
            self.store.search(&self.index, req)
        }
    }

    fn messages(result: &SearchResult) -> Vec<&str> {
        result
            .hits
            .iter()
            .map(|h| h.record.message.as_str())
            .collect()
    }

    #[test]
    fn attr_terms_are_lowercased_name_equals_value_and_long_or_nested_values_are_left_out() {
        use serde_json::json;
        let term = |name: &str, value: serde_json::Value| attr_term(name, &value);
        assert_eq!(term("Status", json!(500)).as_deref(), Some("status=500"));
        assert_eq!(term("ms", json!(12.5)).as_deref(), Some("ms=12.5"));
        assert_eq!(term("ok", json!(true)).as_deref(), Some("ok=true"));
        assert_eq!(
            term("path", json!("/API/v1")).as_deref(),
            Some("path=/api/v1")
        );
        assert_eq!(term("Ville", json!("ÉVRY")).as_deref(), Some("ville=évry"));
        let longest = "x".repeat(MAX_ATTR_VALUE_BYTES);
        assert_eq!(term("a", json!(longest)), Some(format!("a={longest}")));
        assert_eq!(term("a", json!(format!("{longest}x"))), None);
        assert_eq!(term("a", json!(null)), None);
        assert_eq!(term("a", json!([1])), None);
        assert_eq!(term("a", json!({"b": 1})), None);
    }

    #[test]
    fn newest_first_by_time_then_id_with_filters() {
        let index = Indexed::new(vec![
            batch(
                0,
                "web",
                "2026-11-22T10:00:00Z",
                &["connect ECONNREFUSED a", "ok b"],
            ),
            batch(2, "worker", "2026-11-22T11:00:00Z", &["ECONNREFUSED c"]),
            batch(
                3,
                "web",
                "2026-11-22T12:00:00Z",
                &["ECONNREFUSED d", "ECONNREFUSED e"],
            ),
        ]);
        let req = |query: &str, apps: &[&str]| SearchRequest {
            apps: Names::new(apps).expect("names"),
            ..SearchRequest::new(crate::query::Query::parse(query).expect("query"))
        };
        let all = index.search(&req("econnrefused", &[])).expect("search");
        assert_eq!(
            messages(&all),
            [
                "ECONNREFUSED e",
                "ECONNREFUSED d",
                "ECONNREFUSED c",
                "connect ECONNREFUSED a"
            ]
        );
        assert_eq!(all.total, 4);
        let web = index
            .search(&req("ECONNREFUSED", &["web"]))
            .expect("search");
        assert_eq!(web.total, 3);
        let both = index.search(&req("*", &["web", "worker"])).expect("search");
        assert_eq!(both.total, 5);
        let mut ranged = req("*", &[]);
        ranged.since = Some("2026-11-22T10:30:00Z".parse().expect("ts"));
        ranged.until = Some("2026-11-22T11:30:00Z".parse().expect("ts"));
        assert_eq!(
            messages(&index.search(&ranged).expect("search")),
            ["ECONNREFUSED c"]
        );
        let mut limited = req("*", &[]);
        limited.limit = 2;
        let newest = index.search(&limited).expect("search");
        assert_eq!(
            (messages(&newest), newest.total),
            (vec!["ECONNREFUSED e", "ECONNREFUSED d"], 5)
        );
        let phrase = index
            .search(&req("\"connect econnrefused\"", &[]))
            .expect("search");
        assert_eq!(messages(&phrase), ["connect ECONNREFUSED a"]);
    }

    #[test]
    fn apps_are_summarized_and_commit_payload_records_the_wal_location() {
        let indexed = Indexed::new(vec![
            batch(0, "web", "2026-11-22T10:00:00Z", &["a", "b"]),
            batch(2, "web", "2026-11-22T12:00:00Z", &["c"]),
            batch(3, "worker", "2026-11-22T11:00:00Z", &["d"]),
        ]);
        let apps = indexed.store.apps();
        assert_eq!(apps.len(), 2);
        assert_eq!((apps[0].app.as_str(), apps[0].records), ("web", 3));
        assert_eq!(
            apps[0].first,
            Some("2026-11-22T10:00:00Z".parse().expect("ts"))
        );
        assert_eq!(
            apps[0].last,
            Some("2026-11-22T12:00:00Z".parse().expect("ts"))
        );
        assert_eq!(
            indexed.index.committed_mark().expect("payload").location,
            WalLocation {
                file: 1,
                offset: 103
            }
        );
    }
}

#[cfg(test)]
mod watermark_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::tests::batch;
    use super::*;

    /// Waits (at most 10 s) until the watermarks satisfy `ok`.
    fn wait(
        rx: &mut tokio::sync::watch::Receiver<Watermarks>,
        ok: impl FnMut(&Watermarks) -> bool,
    ) -> Watermarks {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(ok))
                .await
                .expect("watermarks in time")
                .map(|w| *w)
                .expect("sender alive")
        })
    }

    #[test]
    fn an_open_event_holds_the_watermark_back_and_commits_carry_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = crate::storage::Store::open(
            dir.path(),
            Default::default(),
            Default::default(),
            Arc::new(|_: &Path| None),
        )
        .expect("store");
        let store = Arc::new(store);
        let index = LogIndex::open(&dir.path().join("hot")).expect("open");
        let (tx, mut rx) = tokio::sync::watch::channel(Watermarks::default());
        let indexer = spawn_indexer(
            &index,
            store.clone(),
            15_000_000,
            Timing {
                commit_interval: Duration::from_millis(10),
                // Long enough that the last line's event stays open until the end.
                event_idle: Duration::from_secs(3600),
            },
            Links {
                watermarks: tx,
                ..Links::default()
            },
            |_| {},
        )
        .expect("indexer");
        let now = jiff::Timestamp::now().to_string();
        indexer
            .tx
            .send(batch(0, "web", &now, &["one", "two", "three"]))
            .expect("send");
        // "three" may still get lines (a stack trace): ids from 2 are not final.
        let w = wait(&mut rx, |w| w.stored == 2 && w.searchable == 2);
        assert_eq!(
            w,
            Watermarks {
                stored: 2,
                searchable: 2
            }
        );
        assert_eq!(index.committed_mark().expect("mark").stored_below, 2);
        let records = store.records_between(&Names::default(), 0, 10, 10);
        assert_eq!(records.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 1]);
        indexer
            .tx
            .send(batch(3, "api", &now, &["other app"]))
            .expect("send");
        indexer
            .tx
            .send(batch(4, "web", &now, &["four"]))
            .expect("send");
        // "four" closes "three"; api's open event (id 3) now holds the watermark.
        let w = wait(&mut rx, |w| w.stored > 2);
        assert_eq!(w.stored, 3);
        drop(indexer.tx);
        indexer.join.join().expect("indexer");
        // Shutdown closes every event: all five ids are final and committed.
        assert_eq!(
            *rx.borrow(),
            Watermarks {
                stored: 5,
                searchable: 5
            }
        );
        assert_eq!(index.committed_mark().expect("mark").stored_below, 5);
    }
}
