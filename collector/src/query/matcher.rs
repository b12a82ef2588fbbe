//! [`Expr`] evaluated on one record, giving the index's answer without the index: for scans
//! (regular expressions, long words) and live tail.
//!
//! The message is tokenized with the index's own analyzer and words, phrases and prefixes are
//! evaluated on token positions as tantivy's term, phrase and phrase-prefix queries do; fields
//! are compared with the terms the index document would hold (`crate::index::Fields::document`).

use std::cell::RefCell;
use std::collections::HashMap;

use logq_schemas::StoredRecord;
use tantivy::tokenizer::{MAX_TOKEN_LEN, TextAnalyzer, TokenStream};

use super::parse::{Expr, Keyword};
use crate::index::{attr_is_id, attr_term, tokenizer};

thread_local! {
    /// The index's message analyzer, ids kept (not `Sync`, and worth building once per
    /// thread).
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(tokenizer::for_matching());
}

/// Matches records against a query; cheap to clone and shared between threads.
#[derive(Debug, Clone)]
pub struct Matcher {
    expr: Expr,
}

impl Matcher {
    pub fn new(expr: &Expr) -> Matcher {
        Matcher { expr: expr.clone() }
    }

    /// Whether the index would return `record` for the query (and, for scan terms, whether
    /// its message holds them). The message is tokenized only if a word of the query is
    /// evaluated.
    pub fn matches(&self, record: &StoredRecord) -> bool {
        Candidate {
            record,
            tokens: None,
            attrs: None,
        }
        .eval(&self.expr)
    }
}

/// A record and what the index would have made of it, computed when first needed.
struct Candidate<'a> {
    record: &'a StoredRecord,
    tokens: Option<Positions>,
    attrs: Option<Vec<String>>,
}

impl Candidate<'_> {
    fn eval(&mut self, expr: &Expr) -> bool {
        let r = &self.record.record;
        match expr {
            Expr::All => true,
            Expr::Phrase(words) => self.tokens().phrase(words),
            Expr::Prefix(words) => self.tokens().phrase_prefix(words),
            Expr::Scan(s) => s.regex.is_match(&r.message),
            Expr::Regex(p) => p.regex.is_match(&r.message),
            Expr::Level(level) => r.level == *level,
            Expr::Keyword { field, value } => {
                let stored = keyword(self.record, *field);
                indexed(stored) && stored == value
            }
            Expr::KeywordGlob { field, glob } => {
                let stored = keyword(self.record, *field);
                indexed(stored) && glob.matches(stored)
            }
            Expr::Attr(term) => self.attrs().iter().any(|t| t == term),
            // As the index: no id value completes a prefix.
            Expr::AttrPrefix(start) => self
                .attrs()
                .iter()
                .any(|t| t.starts_with(start.as_str()) && !attr_is_id(t)),
            Expr::Not(e) => !self.eval(e),
            Expr::And(es) => es.iter().all(|e| self.eval(e)),
            Expr::Or(es) => es.iter().any(|e| self.eval(e)),
        }
    }

    fn tokens(&mut self) -> &Positions {
        let message = &self.record.record.message;
        self.tokens.get_or_insert_with(|| Positions::of(message))
    }

    fn attrs(&mut self) -> &[String] {
        let fields = &self.record.record.fields;
        self.attrs.get_or_insert_with(|| {
            fields
                .iter()
                .filter_map(|(name, value)| attr_term(name, value))
                .collect()
        })
    }
}

fn keyword(record: &StoredRecord, field: Keyword) -> &str {
    let r = &record.record;
    match field {
        Keyword::App => &r.app,
        Keyword::Host => &r.host,
        Keyword::Stream => &r.stream,
    }
}

/// Whether tantivy indexes a keyword value (it drops longer terms).
fn indexed(value: &str) -> bool {
    value.len() <= MAX_TOKEN_LEN
}

/// The positions of each token of a message, ascending (a position may repeat: camel-case
/// parts share their word's).
struct Positions(HashMap<String, Vec<usize>>);

impl Positions {
    fn of(message: &str) -> Positions {
        let mut map: HashMap<String, Vec<usize>> = HashMap::new();
        ANALYZER.with_borrow_mut(|analyzer| {
            let mut stream = analyzer.token_stream(message);
            while stream.advance() {
                let token = stream.token();
                match map.get_mut(token.text.as_str()) {
                    Some(positions) => positions.push(token.position),
                    None => {
                        map.insert(token.text.clone(), vec![token.position]);
                    }
                }
            }
        });
        Positions(map)
    }

    fn at(&self, word: &str, position: usize) -> bool {
        self.0
            .get(word)
            .is_some_and(|ps| ps.binary_search(&position).is_ok())
    }

    /// Whether `words` occur at consecutive positions.
    fn phrase(&self, words: &[String]) -> bool {
        let Some((first, rest)) = words.split_first() else {
            return false;
        };
        self.0.get(first).is_some_and(|starts| {
            starts
                .iter()
                .any(|&p| rest.iter().enumerate().all(|(i, w)| self.at(w, p + 1 + i)))
        })
    }

    /// Whether `words` occur at consecutive positions, the last one as the prefix of a token.
    fn phrase_prefix(&self, words: &[String]) -> bool {
        let Some((start, rest)) = words.split_last() else {
            return false;
        };
        // As the index: no id completes a prefix.
        let extends =
            |token: &String| token.starts_with(start.as_str()) && !tokenizer::is_id(token);
        if rest.is_empty() {
            return self.0.keys().any(extends);
        }
        let mut ends: Vec<usize> = self
            .0
            .iter()
            .filter(|(token, _)| extends(token))
            .flat_map(|(_, ps)| ps.iter().copied())
            .collect();
        ends.sort_unstable();
        let Some((first, middle)) = rest.split_first() else {
            return false;
        };
        self.0.get(first).is_some_and(|starts| {
            starts.iter().any(|&p| {
                middle
                    .iter()
                    .enumerate()
                    .all(|(i, w)| self.at(w, p + 1 + i))
                    && ends.binary_search(&(p + rest.len())).is_ok()
            })
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::LazyLock;

    use logq_schemas::{Level, Record};
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use tantivy::collector::DocSetCollector;
    use tantivy::{Index, IndexReader, IndexWriter};

    use super::*;
    use crate::index::Fields;
    use crate::query::Query;

    /// A record of `app` with a message, a level and fields; host `h1`, stream `stdout`.
    pub(in crate::query) fn record(
        id: u64,
        app: &str,
        level: Option<Level>,
        message: &str,
        fields: Value,
    ) -> StoredRecord {
        let at: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().expect("ts");
        let fields: BTreeMap<String, Value> = match fields {
            Value::Object(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        StoredRecord {
            id,
            record: Record {
                time: at,
                received: at,
                app: app.into(),
                host: "h1".into(),
                stream: "stdout".into(),
                level,
                format: "plain".into(),
                message: message.into(),
                fields,
            },
        }
    }

    /// A tantivy index with the real schema and tokenizer in a temporary directory.
    pub(in crate::query) struct TestIndex {
        _dir: tempfile::TempDir,
        reader: IndexReader,
        fields: Fields,
        pub records: Vec<StoredRecord>,
    }

    impl TestIndex {
        /// Indexes `records`, in two commits (two segments).
        pub(in crate::query) fn new(records: Vec<StoredRecord>) -> TestIndex {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut b = tantivy::schema::Schema::builder();
            let fields = Fields::add_to(&mut b);
            let index = Index::create_in_dir(dir.path(), b.build()).expect("index");
            tokenizer::register(&index);
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("w");
            let half = records.len() / 2;
            for (i, r) in records.iter().enumerate() {
                writer.add_document(fields.document(r)).expect("add");
                if i + 1 == half {
                    writer.commit().expect("commit");
                }
            }
            writer.commit().expect("commit");
            let reader = index.reader().expect("reader");
            TestIndex {
                _dir: dir,
                reader,
                fields,
                records,
            }
        }

        /// The ids of the records the index returns.
        pub(in crate::query) fn search(&self, query: &Query) -> BTreeSet<u64> {
            let searcher = self.reader.searcher();
            let docs = searcher
                .search(&query.to_tantivy(&self.fields), &DocSetCollector)
                .expect("search");
            docs.into_iter()
                .map(|addr| {
                    let ids = searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("id")
                        .expect("id");
                    ids.first(addr.doc_id).expect("an id")
                })
                .collect()
        }

        /// The ids of the records the matcher accepts.
        pub(in crate::query) fn matching(&self, query: &Query) -> BTreeSet<u64> {
            self.records
                .iter()
                .filter(|r| query.matches(r))
                .map(|r| r.id)
                .collect()
        }

        /// Both answers, asserted equal.
        pub(in crate::query) fn agree(&self, text: &str) -> BTreeSet<u64> {
            let query = Query::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(!query.needs_scan(), "{text:?} needs a scan");
            let matched = self.matching(&query);
            assert_eq!(
                self.search(&query),
                matched,
                "index (left) and matcher (right) disagree on {text:?} = {}",
                query.expr()
            );
            matched
        }
    }

    const LONG_TOKEN: &str = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgdG9rZW4gdmFsdWU";

    fn records() -> Vec<StoredRecord> {
        use Level::*;
        let mut v = vec![
            record(
                1,
                "web",
                Some(Error),
                "ConnectionRefusedError: [Errno 111] Connection refused",
                json!({"pid": 4242}),
            ),
            record(
                2,
                "worker",
                Some(Error),
                "Error: connect ECONNREFUSED 127.0.0.1:9",
                json!({}),
            ),
            record(
                3,
                "web",
                Some(Info),
                "GET /api/users/42 200 12ms",
                json!({"status": 200, "method": "GET", "path": "/api/users/42"}),
            ),
            record(
                4,
                "web",
                Some(Error),
                "POST /api/orders 500 310ms",
                json!({"status": 500, "method": "POST", "duration": 0.31}),
            ),
            record(
                5,
                "web",
                Some(Info),
                "request_id=req-abc123 user=alice login ok",
                json!({"request_id": "req-abc123", "user": "Alice"}),
            ),
            record(
                6,
                "web",
                Some(Warn),
                "request_id=req-abd999 user=bob login failed",
                json!({"request_id": "req-abd999", "cached": true}),
            ),
            record(
                7,
                "proxy",
                Some(Info),
                "client 192.168.0.1 connected",
                json!({}),
            ),
            record(
                8,
                "proxy",
                Some(Info),
                "client 192.168.10.7 disconnected",
                json!({}),
            ),
            record(9, "proxy", None, "client 10.0.0.192 connected", json!({})),
            record(
                10,
                "web",
                Some(Error),
                "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nValueError: bad value",
                json!({}),
            ),
            record(
                11,
                "jvm",
                Some(Error),
                "java.net.ConnectException: Connection timed out",
                json!({}),
            ),
            record(
                12,
                "web",
                Some(Info),
                "HTTPServer started on port 8080",
                json!({"port": 8080}),
            ),
            record(13, "web", None, "héllo wörld ✓ done", json!({})),
            record(
                14,
                "web",
                None,
                "naïve café RÉSUMÉ",
                json!({"note": "Ünïcode"}),
            ),
            record(15, "worker", Some(Warn), "timeout after 30s", json!({})),
            record(16, "worker", Some(Warn), "timeouts exceeded: 3", json!({})),
            record(
                17,
                "worker",
                Some(Info),
                "Timed out waiting for lock",
                json!({}),
            ),
            record(
                18,
                "auth",
                Some(Warn),
                &format!("token={LONG_TOKEN} expired"),
                json!({}),
            ),
            record(19, "web", Some(Debug), "foo_bar baz_qux", json!({})),
            record(
                20,
                "net",
                Some(Info),
                "ipv6Addr fe80::1 assigned",
                json!({}),
            ),
            record(
                21,
                "osm-api",
                Some(Info),
                "deploy osm-api v1.2.3",
                json!({"version": "1.2.3"}),
            ),
            record(22, "osm-worker", Some(Info), "job done in 5s", json!({})),
            record(
                23,
                "nginx",
                None,
                "10.1.2.3 - - GET /index.html 404",
                json!({"status": 404, "method": "GET"}),
            ),
            record(
                24,
                "web",
                Some(Debug),
                "cache miss key=user:42",
                json!({"key": "user:42"}),
            ),
            record(
                25,
                "web",
                Some(Trace),
                "entering fn handle_request",
                json!({}),
            ),
            record(
                26,
                "web",
                Some(Fatal),
                "panic: out of memory",
                json!({"status": "Fatal"}),
            ),
            record(27, "web", None, "error error error", json!({})),
            record(28, "web", Some(Error), "ErrorError in module", json!({})),
            record(
                29,
                "cron",
                Some(Info),
                "12:30:45 scheduled job ran",
                json!({}),
            ),
            record(
                30,
                "web",
                Some(Info),
                "http://example.com/a?b=1 fetched",
                json!({"url": "http://example.com/a?b=1"}),
            ),
            record(
                31,
                "web",
                Some(Error),
                "/usr/bin/env python3 not found",
                json!({}),
            ),
            record(32, "web", None, "AND OR NOT and or not", json!({})),
            record(33, "web", Some(Info), "", json!({"empty": ""})),
            record(
                34,
                "web",
                Some(Info),
                "Connection: refused, connection refused",
                json!({"nested": {"a": 1}, "list": [1]}),
            ),
        ];
        v[6].record.host = "edge-1".into();
        v[7].record.host = "edge-2".into();
        v[0].record.stream = "stderr".into();
        v[22].record.stream = "/var/log/nginx/access.log".into();
        v
    }

    static INDEX: LazyLock<TestIndex> = LazyLock::new(|| TestIndex::new(records()));

    fn ids(list: &[u64]) -> BTreeSet<u64> {
        list.iter().copied().collect()
    }

    #[test]
    fn index_and_matcher_agree_on_every_construct() {
        let cases: &[(&str, &[u64])] = &[
            ("refused", &[1, 34]),
            ("REFUSED", &[1, 34]),
            ("ConnectionRefusedError", &[1]),
            ("connection", &[1, 11, 34]),
            ("econnrefused", &[2]),
            ("\"connection refused\"", &[1, 34]),
            ("\"refused connection\"", &[34]),
            ("\"refused errno\"", &[1]),
            ("\"errno refused\"", &[]),
            ("\"error errno\"", &[1]),
            ("\"connect econnrefused\"", &[2]),
            ("127.0.0.1", &[2]),
            ("192.168.0.1", &[7]),
            ("192.168.*", &[7, 8]),
            ("192.16*", &[7, 8]),
            ("127.0.0*", &[2]),
            ("refused.connection.r*", &[34]),
            ("error.e*", &[1, 27]),
            ("\"errno 111\" -error.err*", &[]),
            ("0.192", &[9]),
            ("req-abc123", &[5]),
            ("req-ab*", &[5, 6]),
            ("request_id:req-abc123", &[5]),
            ("request_id:REQ-ABC123", &[5]),
            ("request_id:req-ab*", &[5, 6]),
            ("timeout*", &[15, 16]),
            ("time*", &[11, 15, 16, 17]),
            ("timed out", &[11, 17]),
            ("\"timed out\"", &[11, 17]),
            ("héllo", &[13]),
            ("HÉLLO wörld", &[13]),
            ("résumé", &[14]),
            ("note:ünïcode", &[14]),
            ("foo_bar", &[19]),
            ("foo", &[19]),
            ("ipv6", &[20]),
            ("addr", &[20]),
            ("fe80::1", &[20]),
            ("http", &[12, 30]),
            ("server", &[12]),
            ("http://example.com", &[30]),
            ("url:http://example.com/a?b=1", &[30]),
            ("12:30:45", &[29]),
            ("/usr/bin/env", &[31]),
            ("valueerror", &[10]),
            ("\"call last file\"", &[10]),
            ("module", &[10, 28]),
            ("error", &[1, 2, 10, 27, 28]),
            ("\"error error\"", &[27]),
            ("errorerror", &[28]),
            ("and or not", &[32]),
            ("a OR b", &[30]),
            ("level:error", &[1, 2, 4, 10, 11, 28, 31]),
            ("level:ERR -error", &[4, 11, 31]),
            ("level:none", &[9, 13, 14, 23, 27, 32]),
            ("level:warning OR level:fatal", &[6, 15, 16, 18, 26]),
            (
                "-level:info -level:error -level:none",
                &[6, 15, 16, 18, 19, 24, 25, 26],
            ),
            ("app:proxy", &[7, 8, 9]),
            ("app:Proxy", &[]),
            ("app:osm-*", &[21, 22]),
            ("app:osm-?pi", &[21]),
            ("app:*er", &[2, 15, 16, 17, 22]),
            ("host:edge-?", &[7, 8]),
            ("host:edge-1", &[7]),
            ("stream:stderr", &[1]),
            ("stream:/var/log/*", &[23]),
            ("status:500", &[4]),
            ("status:5*", &[4]),
            ("status:*", &[3, 4, 23, 26]),
            ("status:fatal", &[26]),
            ("method:get", &[3, 23]),
            ("method:get status:404", &[23]),
            ("cached:true", &[6]),
            ("duration:0.31", &[4]),
            ("key:\"user:42\"", &[24]),
            ("key:user:42", &[24]),
            ("empty:\"\"", &[33]),
            ("nested:*", &[]),
            ("message:connection", &[1, 11, 34]),
            ("connect* -connection", &[2, 7, 9]),
            ("(error OR refused) app:web -level:none", &[1, 10, 28, 34]),
            ("error OR refused app:worker", &[1, 2, 10, 27, 28]),
            ("(error OR refused) AND app:worker", &[2]),
            ("+client -connected", &[8]),
            ("-*", &[]),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, expected)| {
                let got = INDEX.agree(text);
                (got != ids(expected)).then(|| format!("{text:?} finds {got:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn negations_alone_mean_everything_but() {
        let all: BTreeSet<u64> = INDEX.records.iter().map(|r| r.id).collect();
        let but =
            |text: &str| -> BTreeSet<u64> { all.difference(&INDEX.agree(text)).copied().collect() };
        assert_eq!(INDEX.agree("*"), all);
        assert_eq!(INDEX.agree(""), all);
        assert_eq!(INDEX.agree("-connect*"), but("connect*"));
        assert_eq!(
            INDEX.agree("NOT \"connection refused\""),
            but("\"connection refused\"")
        );
        assert_eq!(INDEX.agree("-192.168.*"), but("192.168.*"));
        assert_eq!(
            INDEX.agree("NOT error NOT refused"),
            but("error OR refused")
        );
        assert_eq!(
            INDEX.agree("-(error OR connection OR client)"),
            but("error OR connection OR client")
        );
        assert_eq!(INDEX.agree("-(-error)"), INDEX.agree("error"));
    }

    #[test]
    fn scan_terms_match_text_the_index_drops() {
        let long = Query::parse(&LONG_TOKEN.to_uppercase()).expect("parse");
        assert!(long.needs_scan());
        assert_eq!(INDEX.matching(&long), ids(&[18]));
        let prefix = Query::parse(&format!("\"{}\"", &LONG_TOKEN[..45])).expect("parse");
        assert_eq!(INDEX.matching(&prefix), ids(&[18]));
        let re = Query::parse("/conn\\w+ (refused|timed)/i -app:web").expect("parse");
        assert!(re.needs_scan());
        assert_eq!(INDEX.matching(&re), ids(&[11]));
        let re = Query::parse("/^Error/ OR /Traceback(.|\\n)*ValueError/").expect("parse");
        assert_eq!(INDEX.matching(&re), ids(&[2, 10, 28]));
    }

    #[test]
    fn the_message_is_tokenized_only_for_words() {
        let fields_only = Query::parse("level:error app:web -status:5*").expect("parse");
        let r = &INDEX.records[0];
        let mut candidate = Candidate {
            record: r,
            tokens: None,
            attrs: None,
        };
        assert!(candidate.eval(fields_only.expr()));
        assert!(candidate.tokens.is_none());
        assert!(candidate.eval(Query::parse("refused").expect("parse").expr()));
        assert!(candidate.tokens.is_some());
    }

    #[test]
    fn matchers_are_shared_between_threads() {
        fn shared<T: Clone + std::fmt::Debug + Send + Sync>() {}
        shared::<Matcher>();
        shared::<Query>();
        let q = Query::parse("refused OR client").expect("parse");
        let found: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| INDEX.records.iter().filter(|r| q.matches(r)).count()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(found, [5, 5, 5, 5]);
    }

    /// Terms a generated query is made of: words, phrases, prefixes and fields that the
    /// records above hold, and some they do not.
    const VOCABULARY: &[&str] = &[
        "error",
        "Error",
        "connection",
        "refused",
        "connect",
        "econnrefused",
        "client",
        "192.168.0.1",
        "192.168.*",
        "192*",
        "req-abc123",
        "req*",
        "req-ab*",
        "timeout*",
        "timed",
        "out",
        "\"connection refused\"",
        "\"timed out\"",
        "\"error error\"",
        "héllo",
        "café",
        "http*",
        "server",
        "HTTPServer",
        "foo_bar",
        "ErrorError",
        "e*",
        "x*",
        "module",
        "missing",
        "level:error",
        "level:none",
        "level:warn",
        "level:info",
        "app:web",
        "app:osm-*",
        "app:w?b",
        "host:h1",
        "host:edge-?",
        "stream:stderr",
        "stream:/var/*",
        "status:500",
        "status:5*",
        "status:*",
        "method:get",
        "request_id:req-abc123",
        "message:connection",
        "*",
        "12:30:45",
        "/usr/bin/env",
        "\"call last\"",
        "0.1",
        "127.0.0*",
        "connection.ref*",
        "error.e*",
        "req.abc*",
        "refused.connection.r*",
    ];

    fn term() -> impl Strategy<Value = String> {
        prop::sample::select(VOCABULARY).prop_map(str::to_owned)
    }

    fn query() -> impl Strategy<Value = String> {
        term().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
                inner.clone().prop_map(|a| format!("({a})")),
                inner.clone().prop_map(|a| format!("-({a})")),
                inner.clone().prop_map(|a| format!("NOT ({a})")),
                term().prop_map(|a| format!("-{a}")),
                term().prop_map(|a| format!("+{a}")),
            ]
        })
    }

    /// Strings of query syntax in any order, mostly wrong.
    fn soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            term(),
            prop::sample::select(
                &[
                    "(", ")", "\"", "-", "+", "*", ":", "/", "/i", "\\", "AND", "OR", "NOT", " ",
                    "  ", "é", "✓", "level:", "app:", "a", "\\\"",
                ][..]
            )
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn generated_queries_agree(text in query()) {
            let q = Query::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert!(!q.needs_scan());
            prop_assert_eq!(INDEX.search(&q), INDEX.matching(&q), "{:?} = {}", text, q.expr());
        }

        #[test]
        fn any_query_that_parses_agrees(text in soup()) {
            if let Ok(q) = Query::parse(&text) {
                if !q.needs_scan() {
                    prop_assert_eq!(INDEX.search(&q), INDEX.matching(&q), "{:?} = {}", text, q.expr());
                } else {
                    INDEX.matching(&q);
                }
            }
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            if let Ok(q) = Query::parse(&text) {
                INDEX.records.iter().for_each(|r| { q.matches(r); });
            }
        }

        #[test]
        fn errors_point_into_the_text(text in soup()) {
            if let Err(e) = Query::parse(&text) {
                prop_assert!(e.at <= text.chars().count(), "{:?}: {}", text, e);
            }
        }
    }
}
