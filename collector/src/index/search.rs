//! Search over the index: a query, app and time filters, newest hits first.

use std::ops::Bound;

use jiff::Timestamp;
use logq_schemas::StoredRecord;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{SegmentReader, Term};
use thiserror::Error;

use super::{LogIndex, nanos};

/// A hot hit: its sort key (event time, id) and its app.
pub type HotHit = ((i64, u64), String);

/// The most hits one search returns.
pub const MAX_LIMIT: usize = 1_000_000;

/// A search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Query text in the index's query syntax; empty or `*` matches everything.
    pub query: String,
    /// Only these apps (any of them); empty means all.
    pub apps: Vec<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: usize,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Newest first (event time, then id).
    pub hits: Vec<StoredRecord>,
    /// How many records match in all.
    pub total: u64,
}

/// Why a search failed.
#[derive(Debug, Error)]
pub enum SearchError {
    #[error("invalid query: {0}")]
    BadQuery(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("search failed: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("stored record {0} is unreadable")]
    Corrupt(u64),
}

/// Sort key of a document: (event time, id); larger is newer.
pub(crate) fn time_id_key(seg: &SegmentReader) -> impl FnMut(tantivy::DocId) -> (i64, u64) + use<> {
    let time = seg.fast_fields().i64("time").expect("time is a fast field");
    let id = seg.fast_fields().u64("id").expect("id is a fast field");
    move |doc| {
        (
            time.first(doc).unwrap_or(i64::MIN),
            id.first(doc).unwrap_or(0),
        )
    }
}

impl SearchRequest {
    /// Refuses a limit out of range.
    pub fn check(&self) -> Result<(), SearchError> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(SearchError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        Ok(())
    }
}

/// The query of `req` against an index with the fields `message`, `app` and `time` (the hot
/// index and every split), leaving out each app's records with ids up to `sealed[app]`.
pub(crate) fn build_query(
    index: &tantivy::Index,
    req: &SearchRequest,
    sealed: &std::collections::BTreeMap<String, u64>,
) -> Result<Box<dyn Query>, SearchError> {
    let schema = index.schema();
    let field = |name: &str| schema.get_field(name).map_err(SearchError::Index);
    let (message, app, time, id) = (
        field("message")?,
        field("app")?,
        field("time")?,
        field("id")?,
    );
    let text = req.query.trim();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !text.is_empty() && text != "*" {
        let mut parser = QueryParser::new(
            schema.clone(),
            vec![message],
            super::tokenizer::for_queries(),
        );
        parser.set_conjunction_by_default();
        let q = parser
            .parse_query(text)
            .map_err(|e| SearchError::BadQuery(e.to_string()))?;
        clauses.push((Occur::Must, q));
    }
    if !req.apps.is_empty() {
        let any: Vec<(Occur, Box<dyn Query>)> = req
            .apps
            .iter()
            .map(|a| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(app, a),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    if req.since.is_some() || req.until.is_some() {
        let lower = req.since.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(time, nanos(t)))
        });
        let upper = req.until.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(time, nanos(t)))
        });
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    for (a, through) in sealed {
        let q: Vec<(Occur, Box<dyn Query>)> = vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(app, a),
                    IndexRecordOption::Basic,
                )),
            ),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Included(Term::from_field_u64(id, *through)),
                )),
            ),
        ];
        clauses.push((Occur::MustNot, Box::new(BooleanQuery::new(q))));
    }
    if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

impl LogIndex {
    /// The newest `req.limit` hot records matching `req` (leaving out sealed ones) as their
    /// sort keys (event time, id) and apps, and the number of matches. Blocking.
    pub fn search_hot(
        &self,
        req: &SearchRequest,
        sealed: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(Vec<HotHit>, u64), SearchError> {
        req.check()?;
        let query = build_query(&self.index, req, sealed)?;
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(req.limit).order_by(|seg: &SegmentReader| time_id_key(seg));
        let (docs, total) = searcher.search(&query, &(top, Count))?;
        let mut hits = Vec::with_capacity(docs.len());
        let mut name = String::new();
        for (key, addr) in docs {
            let apps = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .str("app")?
                .ok_or(SearchError::Corrupt(key.1))?;
            let ord = apps
                .term_ords(addr.doc_id)
                .next()
                .ok_or(SearchError::Corrupt(key.1))?;
            name.clear();
            apps.ord_to_str(ord, &mut name)
                .map_err(|_| SearchError::Corrupt(key.1))?;
            hits.push((key, name.clone()));
        }
        Ok((hits, total as u64))
    }
}
