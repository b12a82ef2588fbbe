//! The query language of `logq search`, `logq tail`, the API and the browser page.
//!
//! ```text
//! ECONNREFUSED                 a word (case-insensitive; camel-case parts match too)
//! "connect ECONNREFUSED"       a phrase: these words next to each other, in order
//! timeout*                     a prefix (only at the end of a word)
//! a b    a AND b               both (AND is implied)
//! a OR b                       either
//! -a     NOT a                 not
//! (a OR b) -c                  grouping
//! level:error  status:500      field filters: level, app, host, stream, or any field the
//! request_id:"abc def"         format yields (status, method, path, request_id, pid, ...)
//! status:5*  stream:/var/*     a prefix of a field's value
//! app:osm-*  host:web-?        app and host also take `*` and `?` anywhere
//! /conn.*refused/i             a regular expression over the message (scans the text)
//! *                            everything
//! ```
//!
//! Words are split as the index splits the message, into runs of letters and digits:
//! `192.168.0.1`, `req-abc123` and `/usr/bin/env` are phrases of their parts, `192.168.*` is a
//! phrase whose last part is a prefix, and a word without letters or digits (`---`) is refused.
//! `AND`, `OR` and `NOT` are operators in capitals only; `NOT` binds tighter than `AND`, and
//! `AND` than `OR`; a query of negations alone means everything but them. In `"..."`, `\"` is a
//! quote.
//!
//! `name:value` is a field filter when the name is `[A-Za-z_][A-Za-z0-9_.]*` and the value does
//! not start with `//` or `:` (`http://x`, `std::io`, `fe80::1` and `12:30:45` are words).
//! Names ignore case. `level:` takes the names and aliases of levels (`err`, `warning`) and
//! `none` for records without one. App, host and stream values are exact (case-sensitive);
//! other fields' values ignore case and are indexed up to
//! [`MAX_ATTR_VALUE_BYTES`](crate::index::MAX_ATTR_VALUE_BYTES) bytes. A quoted value is
//! taken literally (no `*` or `?`). `message:` takes a word, prefix or phrase.
//!
//! A query is parsed once ([`Query::parse`]); the index answers it ([`Query::to_tantivy`]) unless
//! it holds a regular expression or a word longer than the index keeps ([`Query::needs_scan`]);
//! then, and for live tail, each record is matched directly ([`Query::matches`]). Both paths
//! agree on every query (see the tests). A long word is matched as case-insensitive text of
//! the message.

mod matcher;
mod parse;
mod prefilter;
mod to_index;

use logq_schemas::StoredRecord;
use thiserror::Error;

use crate::index::Fields;

pub use parse::{
    Expr, Glob, Keyword, MAX_DEPTH, MAX_QUERY_BYTES, Pattern, Substring, glob_pattern,
};
pub use prefilter::Prefilter;

/// Why a query text is refused; the message names what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} (at character {at} of the query)")]
pub struct QueryError {
    pub message: String,
    /// Character offset (0-based) in the query text.
    pub at: usize,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    expr: Expr,
    matcher: matcher::Matcher,
}

impl Query {
    /// Parses `text`; empty or `*` matches everything.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let expr = parse::parse(text)?;
        let matcher = matcher::Matcher::new(&expr);
        Ok(Query { expr, matcher })
    }

    /// The query that matches everything.
    pub fn all() -> Query {
        Query::parse("*").expect("`*` parses")
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether it matches every record.
    pub fn is_all(&self) -> bool {
        matches!(self.expr, Expr::All)
    }

    /// Whether the index cannot answer it (a regular expression, or a word longer than the
    /// index keeps), so that records must be matched one by one.
    pub fn needs_scan(&self) -> bool {
        self.expr.needs_scan()
    }

    /// The query over an index with `fields` (hot index or split). Only for a query that does
    /// not [need a scan](Query::needs_scan): in one that does, each scan term becomes a query
    /// that matches every record, so the hits would have to be verified with
    /// [`matches`](Query::matches) (and are incomplete if a scan term is negated).
    pub fn to_tantivy(&self, fields: &Fields) -> Box<dyn tantivy::query::Query> {
        to_index::to_tantivy(&self.expr, fields)
    }

    /// For a scan: the lines of a frame that may hold a match, when literals tell them.
    pub fn prefilter(&self) -> Option<Prefilter> {
        Prefilter::of(&self.expr)
    }

    /// For a scan: groups of frame-filter keys, a frame holding a match holds every key of
    /// one (see [`crate::storage::frame_filter`]); `None` when the query's ids do not tell.
    pub fn frame_keys(&self) -> Option<Vec<Vec<u32>>> {
        prefilter::frame_keys(&self.expr)
    }

    /// Whether `record` matches, exactly as the index would answer.
    pub fn matches(&self, record: &StoredRecord) -> bool {
        self.matcher.matches(record)
    }
}
