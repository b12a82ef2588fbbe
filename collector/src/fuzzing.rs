//! What the fuzz targets in `fuzz/` need from inside the crate, and nothing else: not part of
//! the collector's API (hidden from its documentation), never called by the collector itself.
//!
//! The targets themselves live in `fuzz/src/lib.rs` and use the public API; only the query
//! target's check that the index and the matcher agree needs the index schema, which is
//! crate-private.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use jiff::Timestamp;
use logq_schemas::{Level, Record, StoredRecord};
use serde_json::{Value, json};
use tantivy::collector::DocSetCollector;
use tantivy::{Index, IndexReader, IndexWriter};

use crate::index::{Fields, tokenizer};
use crate::query::Query;

/// A small in-memory index with the real schema and tokenizer, and the records it holds.
struct Corpus {
    reader: IndexReader,
    fields: Fields,
    records: Vec<StoredRecord>,
}

/// Built once per process: building it costs milliseconds, a query microseconds.
static CORPUS: LazyLock<Corpus> = LazyLock::new(Corpus::new);

impl Corpus {
    fn new() -> Corpus {
        let mut b = tantivy::schema::Schema::builder();
        let fields = Fields::add_to(&mut b);
        let index = Index::create_in_ram(b.build());
        tokenizer::register(&index);
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("an index writer");
        let records = records();
        for r in &records {
            writer.add_document(fields.document(r)).expect("a document");
        }
        writer.commit().expect("a commit");
        let reader = index.reader().expect("a reader");
        Corpus {
            reader,
            fields,
            records,
        }
    }

    /// The ids of the records the index returns for `query`.
    fn search(&self, query: &Query) -> BTreeSet<u64> {
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(&query.to_tantivy(&self.fields), &DocSetCollector)
            .expect("a search");
        docs.into_iter()
            .map(|addr| {
                searcher
                    .segment_reader(addr.segment_ord)
                    .fast_fields()
                    .u64("id")
                    .expect("the id field")
                    .first(addr.doc_id)
                    .expect("an id")
            })
            .collect()
    }
}

/// Records with what queries look at: words, camel case, numbers, non-ASCII text, long
/// tokens, fields of every JSON type, every level and none.
fn records() -> Vec<StoredRecord> {
    let long = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgdG9rZW4gdmFsdWU";
    let rows: [(&str, Option<Level>, String, Value); 12] = [
        (
            "web",
            Some(Level::Error),
            "ConnectionRefusedError: [Errno 111] Connection refused".into(),
            json!({"pid": 4242}),
        ),
        (
            "worker",
            Some(Level::Error),
            "Error: connect ECONNREFUSED 127.0.0.1:9".into(),
            json!({}),
        ),
        (
            "web",
            Some(Level::Info),
            "GET /api/users/42 200 12ms".into(),
            json!({"status": 200, "method": "GET", "path": "/api/users/42"}),
        ),
        (
            "web",
            Some(Level::Warn),
            "request_id=req-abc123 user=alice login failed".into(),
            json!({"request_id": "req-abc123", "cached": true, "duration": 0.31}),
        ),
        (
            "proxy",
            None,
            "client 192.168.0.1 connected".into(),
            json!({"nested": {"a": 1}, "list": [1, 2]}),
        ),
        (
            "web",
            Some(Level::Fatal),
            "Traceback (most recent call last):\n  File \"app.py\"\nValueError: bad".into(),
            json!({"null": null}),
        ),
        (
            "jvm",
            Some(Level::Trace),
            "java.net.ConnectException: Connection timed out".into(),
            json!({}),
        ),
        (
            "web",
            None,
            "héllo wörld ✓ naïve café RÉSUMÉ".into(),
            json!({"note": "Ünïcode"}),
        ),
        (
            "auth",
            Some(Level::Debug),
            format!("token={long} expired"),
            json!({"token": long}),
        ),
        (
            "net",
            Some(Level::Info),
            "ipv6Addr fe80::1 assigned at 12:30:45 http://x/a?b=c".into(),
            json!({}),
        ),
        (
            "osm-api",
            Some(Level::Info),
            "deploy osm-api v1.2.3 foo_bar *star* \"quoted\"".into(),
            json!({"version": "1.2.3", "big": 18446744073709551615u64, "neg": -1}),
        ),
        ("web", None, String::new(), json!({"empty": ""})),
    ];
    let at: Timestamp = "2026-11-22T10:00:00Z".parse().expect("a timestamp");
    rows.into_iter()
        .zip(1u64..)
        .map(|((app, level, message, fields), id)| StoredRecord {
            id,
            record: Record {
                time: at,
                received: at,
                app: app.into(),
                host: if id % 2 == 0 { "web-1" } else { "db-2" }.into(),
                stream: if id % 3 == 0 {
                    "/var/log/app.log"
                } else {
                    "stdout"
                }
                .into(),
                level,
                format: "plain".into(),
                message,
                fields: match fields {
                    Value::Object(m) => m.into_iter().collect(),
                    _ => Default::default(),
                },
            },
        })
        .collect()
}

/// Runs `query` against a fixed set of records through both paths: the tantivy query and the
/// matcher must return the same records when the index can answer it (`Query::needs_scan`
/// false), and neither may panic in any case.
pub fn query_agrees(query: &Query) {
    let corpus = &*CORPUS;
    let matched: BTreeSet<u64> = corpus
        .records
        .iter()
        .filter(|r| query.matches(r))
        .map(|r| r.id)
        .collect();
    let found = corpus.search(query);
    if !query.needs_scan() {
        assert_eq!(
            found,
            matched,
            "index (left) and matcher (right) disagree on {}",
            query.expr()
        );
    }
}

/// The HTTP ingest's body decoder: `Ok` with the accepted body's app, or the 400's reason.
pub fn http_ingest_body(bytes: &[u8]) -> Result<String, String> {
    crate::ingest::http::decode(bytes)
        .map(|body| body.app)
        .map_err(|e| e.to_string())
}

/// The UDP listener's datagram decoder (no tokens configured): `Ok` with the batch's app.
pub fn udp_decode(bytes: &[u8]) -> Result<String, String> {
    crate::ingest::udp::decode(bytes, &crate::auth::Tokens::default()).map(|batch| batch.app)
}
