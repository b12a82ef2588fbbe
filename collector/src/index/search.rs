//! Search over the index: a query, app and time filters, newest hits first.

use logq_schemas::StoredRecord;
use tantivy::SegmentReader;
use tantivy::collector::{Count, TopDocs};
use thiserror::Error;

use super::histogram::{Buckets, TimeHistogram};
use super::{LogIndex, SearchRequest};

/// A hot hit: its sort key (event time, id) and its app.
pub type HotHit = ((i64, u64), String);

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
    /// A split failed a search; it is rebuilt from its segment in the background.
    #[error(
        "the index of segment {seq} is damaged ({error}); it is being rebuilt from the segment: \
         try again in a few seconds"
    )]
    Repairing { seq: u64, error: String },
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

impl LogIndex {
    /// The newest `req.limit` hot records matching `req` (leaving out sealed ones) as their
    /// sort keys (event time, id) and apps, and the number of matches. Blocking.
    pub fn search_hot(
        &self,
        req: &SearchRequest,
        sealed: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(Vec<HotHit>, u64), SearchError> {
        req.check()?;
        let query = req.to_tantivy(&self.fields, sealed);
        let searcher = self.reader.searcher();
        if req.limit == 0 {
            return Ok((Vec::new(), searcher.search(&query, &Count)? as u64));
        }
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

    /// How many of `app`'s records with ids above `after` and below `below` the hot index
    /// holds (as committed). Blocking.
    pub fn count_ids(&self, app: &str, after: Option<u64>, below: u64) -> Result<u64, SearchError> {
        let query = super::request::ids_between(&self.fields, app, after, below);
        Ok(self.reader.searcher().search(&query, &Count)? as u64)
    }

    /// Counts the hot records matching `req` (leaving out sealed ones) into `buckets`.
    pub fn histogram_hot(
        &self,
        req: &SearchRequest,
        sealed: &std::collections::BTreeMap<String, u64>,
        buckets: &mut Buckets,
    ) -> Result<(), SearchError> {
        let query = req.to_tantivy(&self.fields, sealed);
        let counts = self
            .reader
            .searcher()
            .search(&query, &TimeHistogram(buckets.clone()))?;
        buckets.add(&counts);
        Ok(())
    }
}
