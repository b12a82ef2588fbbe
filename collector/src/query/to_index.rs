//! [`Expr`] to a tantivy query over an index with [`Fields`] (the hot index or a split).
//!
//! Each construct maps to the query that finds exactly what the matcher finds: words and
//! phrases to term and phrase queries over the message, prefixes to a term automaton (or a
//! phrase prefix with no cap on the words it expands to), fields to their terms, and the
//! operators to boolean queries. Scan terms (`Expr::Scan`, `Expr::Regex`) have no index form;
//! callers check [`Expr::needs_scan`] first.

use tantivy::postings::Postings;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScorer, EnableScoring, Explanation, Occur, PhraseQuery, Query,
    RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TERMINATED, Term};

use super::parse::{Expr, Keyword, prefix_pattern};
use crate::index::Fields;

/// The query of `expr` over an index with `fields`.
///
/// `expr` must not [need a scan](Expr::needs_scan); callers check first and match records one
/// by one with [`super::Query::matches`] instead. A scan term that gets here anyway (a `/regex/`
/// or a word longer than the index keeps) becomes a query that matches every record: the
/// result is then a superset when no scan term is negated, and wrong otherwise.
pub fn to_tantivy(expr: &Expr, fields: &Fields) -> Box<dyn Query> {
    match expr {
        Expr::All | Expr::Scan(_) | Expr::Regex(_) => Box::new(AllQuery),
        Expr::Phrase(tokens) => match tokens.as_slice() {
            [one] => term(fields.message, one),
            _ => Box::new(ForwardSeeks(PhraseQuery::new(
                tokens
                    .iter()
                    .map(|t| Term::from_field_text(fields.message, t))
                    .collect(),
            ))),
        },
        Expr::Prefix(tokens) => match tokens.as_slice() {
            [one] => prefix(fields.message, one),
            _ => Box::new(CompletePhrasePrefix {
                terms: tokens
                    .iter()
                    .map(|t| Term::from_field_text(fields.message, t))
                    .collect(),
            }),
        },
        Expr::Level(level) => term(fields.level, level.map_or("none", |l| l.as_str())),
        Expr::Keyword { field, value } => term(keyword(fields, *field), value),
        Expr::KeywordGlob { field, glob } => regex(keyword(fields, *field), &glob.pattern),
        Expr::Attr(t) => term(fields.attrs, t),
        Expr::AttrPrefix(p) => prefix(fields.attrs, p),
        Expr::Not(e) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery)),
            (Occur::MustNot, to_tantivy(e, fields)),
        ])),
        Expr::And(es) => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = es
                .iter()
                .map(|e| match e {
                    Expr::Not(inner) => (Occur::MustNot, to_tantivy(inner, fields)),
                    e => (Occur::Must, to_tantivy(e, fields)),
                })
                .collect();
            // Tantivy matches nothing for a boolean query of exclusions alone.
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Expr::Or(es) => Box::new(BooleanQuery::new(
            es.iter()
                .map(|e| (Occur::Should, to_tantivy(e, fields)))
                .collect(),
        )),
    }
}

fn keyword(fields: &Fields, k: Keyword) -> Field {
    match k {
        Keyword::App => fields.app,
        Keyword::Host => fields.host,
        Keyword::Stream => fields.stream,
    }
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// Terms of `field` that start with `start`.
fn prefix(field: Field, start: &str) -> Box<dyn Query> {
    regex(field, &prefix_pattern(start))
}

/// Terms of `field` that `pattern` matches whole. The parser has compiled every pattern that
/// reaches here but those of message prefixes, a word shorter than 40 bytes and `.*`.
fn regex(field: Field, pattern: &str) -> Box<dyn Query> {
    match RegexQuery::from_pattern(pattern, field) {
        Ok(q) => Box::new(q),
        Err(e) => {
            tracing::error!(pattern, error = %e, "a checked pattern failed to compile");
            Box::new(tantivy::query::EmptyQuery)
        }
    }
}

/// A phrase whose last word is a prefix, expanded to every word that starts with it.
///
/// Tantivy's [`tantivy::query::PhrasePrefixQuery`] expands the prefix to at most
/// `max_expansions` words per segment (50 by default), and opens the postings of all of them
/// at once (about 2 KiB each), so no cap is both exact and bounded. This one finds, per
/// segment, the documents where the phrase before the prefix occurs and where the last word
/// must be, then reads the postings of the words that start with the prefix one at a time.
/// Memory: those documents and one postings list; time: as a prefix query over the same words.
#[derive(Debug, Clone)]
struct CompletePhrasePrefix {
    /// At least two; the last one is the prefix.
    terms: Vec<Term>,
}

impl Query for CompletePhrasePrefix {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(CompletePhrasePrefixWeight {
            terms: self.terms.clone(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for t in &self.terms[..self.terms.len().saturating_sub(1)] {
            visitor(t, true);
        }
    }
}

struct CompletePhrasePrefixWeight {
    terms: Vec<Term>,
}

impl CompletePhrasePrefixWeight {
    /// The documents of `reader`'s segment that match, ascending.
    fn matching(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let Some((prefix, phrase)) = self.terms.split_last() else {
            return Ok(Vec::new());
        };
        let index = reader.inverted_index(prefix.field())?;
        let Some(candidates) = Candidates::of(&index, phrase)? else {
            return Ok(Vec::new());
        };
        let mut matched = vec![false; candidates.docs.len()];
        let start = prefix.serialized_value_bytes();
        let mut range = index.terms().range().ge(start);
        if let Some(end) = prefix_end(start) {
            range = range.lt(end);
        }
        let mut words = range.into_stream()?;
        let mut positions = Vec::new();
        while words.advance() {
            let mut postings = index.read_postings_from_terminfo(
                words.value(),
                IndexRecordOption::WithFreqsAndPositions,
            )?;
            // Leapfrog between the candidates and this word's documents.
            let (mut c, mut doc) = (0, postings.doc());
            while doc != TERMINATED && c < candidates.docs.len() {
                let want = candidates.docs[c];
                if doc < want {
                    doc = postings.seek(want);
                } else if doc > want {
                    c += candidates.docs[c..].partition_point(|&d| d < doc);
                } else {
                    if !matched[c] {
                        postings.positions(&mut positions);
                        let ends = candidates.ends(c);
                        matched[c] = positions.iter().any(|p| ends.binary_search(p).is_ok());
                    }
                    c += 1;
                    doc = postings.advance();
                }
            }
        }
        Ok(candidates
            .docs
            .iter()
            .zip(matched)
            .filter_map(|(&doc, m)| m.then_some(doc))
            .collect())
    }
}

/// The documents where a phrase occurs, each with the positions right after an occurrence.
struct Candidates {
    docs: Vec<DocId>,
    /// `ends[bounds[i]..bounds[i + 1]]` are those of `docs[i]`, ascending.
    bounds: Vec<usize>,
    ends: Vec<u32>,
}

impl Candidates {
    /// `None` when a word of `phrase` is not in the segment.
    fn of(index: &InvertedIndexReader, phrase: &[Term]) -> tantivy::Result<Option<Candidates>> {
        let mut postings = Vec::with_capacity(phrase.len());
        for term in phrase {
            match index.read_postings(term, IndexRecordOption::WithFreqsAndPositions)? {
                Some(p) => postings.push(p),
                None => return Ok(None),
            }
        }
        // The rarest word leads the walk over the documents holding them all.
        let Some(lead) = (0..postings.len()).min_by_key(|&i| postings[i].size_hint()) else {
            return Ok(None);
        };
        let mut out = Candidates {
            docs: Vec::new(),
            bounds: vec![0],
            ends: Vec::new(),
        };
        let (mut starts, mut next) = (Vec::new(), Vec::new());
        let mut doc = postings[lead].doc();
        'docs: while doc != TERMINATED {
            for p in &mut postings {
                if p.doc() < doc {
                    p.seek(doc);
                }
                if p.doc() > doc {
                    doc = p.doc();
                    continue 'docs;
                }
            }
            postings[0].positions(&mut starts);
            for (i, p) in (1u32..).zip(&mut postings[1..]) {
                p.positions(&mut next);
                starts.retain(|s| next.binary_search(&s.saturating_add(i)).is_ok());
            }
            if !starts.is_empty() {
                let len = u32::try_from(phrase.len()).unwrap_or(u32::MAX);
                out.docs.push(doc);
                out.ends
                    .extend(starts.iter().map(|s| s.saturating_add(len)));
                out.bounds.push(out.ends.len());
            }
            doc = postings[lead].advance();
        }
        Ok(Some(out))
    }

    fn ends(&self, i: usize) -> &[u32] {
        &self.ends[self.bounds[i]..self.bounds[i + 1]]
    }
}

/// The smallest byte string greater than every string that starts with `start`, if any.
fn prefix_end(start: &[u8]) -> Option<Vec<u8>> {
    let mut end = start.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Weight for CompletePhrasePrefixWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(
            SortedDocs {
                docs: self.matching(reader)?,
                next: 0,
            },
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching(reader)?.binary_search(&doc).is_ok() {
            Ok(Explanation::new("phrase prefix", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document #{doc} does not match"
            )))
        }
    }
}

/// Documents found up front, ascending.
struct SortedDocs {
    docs: Vec<DocId>,
    /// Index of the current document.
    next: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.next = (self.next + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.next += self.docs[self.next..].partition_point(|&d| d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.next).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len()).unwrap_or(u32::MAX)
    }
}

/// A query whose scorers only ever seek forward.
///
/// Tantivy's phrase scorers assert (in debug builds) that `seek_danger` never targets a
/// document before their current one, yet exclusions and intersections call it so on a fresh
/// scorer, which already stands on its first match (`-"a b"` panics). The default
/// `seek_danger` this wrapper keeps seeks only forward; its answers are the same.
#[derive(Debug, Clone)]
struct ForwardSeeks<Q>(Q);

impl<Q: Query + Clone> Query for ForwardSeeks<Q> {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ForwardSeeksWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ForwardSeeksWeight(Box<dyn Weight>);

impl Weight for ForwardSeeksWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardSeeksScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// A scorer with the default `seek_danger` (see [`ForwardSeeks`]).
struct ForwardSeeksScorer(Box<dyn Scorer>);

impl DocSet for ForwardSeeksScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for ForwardSeeksScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::query::Query;
    use crate::query::matcher::tests::{TestIndex, record};

    #[test]
    fn prefix_end_is_the_next_string_after_all_extensions() {
        assert_eq!(prefix_end(b"aaa"), Some(b"aab".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn sorted_docs_advance_and_seek() {
        let mut docs = SortedDocs {
            docs: vec![2, 5, 9],
            next: 0,
        };
        assert_eq!((docs.doc(), docs.size_hint()), (2, 3));
        assert_eq!(docs.seek(2), 2);
        assert_eq!(docs.seek(3), 5);
        assert_eq!(docs.advance(), 9);
        assert_eq!(docs.advance(), TERMINATED);
        assert_eq!(docs.advance(), TERMINATED);
        assert_eq!(docs.seek(TERMINATED), TERMINATED);
    }

    fn ids(range: std::ops::Range<u64>) -> std::collections::BTreeSet<u64> {
        range.collect()
    }

    #[test]
    fn phrase_prefixes_expand_to_every_word_of_a_segment() {
        // Tantivy's own cap is 50 words per segment.
        let records = (0..120)
            .map(|i| record(i, "web", None, &format!("id req{i:04} done"), json!({})))
            .collect();
        let index = TestIndex::new(records);
        assert_eq!(index.agree("id.req*"), ids(0..120));
        assert_eq!(index.agree("id.req00*"), ids(0..100));
        assert_eq!(
            index.agree("\"id req0100\" OR id.req011*"),
            [100].into_iter().chain(110..120).collect()
        );
        assert_eq!(index.agree("id.x*"), ids(0..0));
        assert_eq!(index.agree("-id.req*"), ids(0..0));
        assert_eq!(index.agree("done -id.req01*"), ids(0..100));
    }

    #[test]
    fn excluded_and_intersected_phrases_do_not_trip_tantivy_assertions() {
        // A fresh phrase scorer stands on its first match, past the first document: tantivy
        // asserts in debug builds when an exclusion asks it about an earlier one.
        let records = (0..40)
            .map(|i| {
                let text = if i % 7 == 6 {
                    "connection refused now"
                } else {
                    "connection ok"
                };
                record(i, "web", None, text, json!({ "n": i % 3 }))
            })
            .collect();
        let index = TestIndex::new(records);
        let refused: std::collections::BTreeSet<u64> = (0..40).filter(|i| i % 7 == 6).collect();
        assert_eq!(index.agree("\"connection refused\""), refused);
        assert_eq!(
            index.agree("-\"connection refused\"").len(),
            40 - refused.len()
        );
        assert_eq!(
            index.agree("connection -connection.ref*").len(),
            40 - refused.len()
        );
        assert_eq!(
            index.agree("n:0 \"refused now\""),
            refused.iter().copied().filter(|i| i % 3 == 0).collect()
        );
        assert_eq!(
            index.agree("n:1 -(ok \"connection ok\")"),
            index.agree("n:1 refused")
        );
    }

    #[test]
    fn scan_terms_become_everything_for_the_caller_to_verify() {
        let records = vec![
            record(1, "web", None, "a", json!({})),
            record(2, "web", None, "b", json!({})),
        ];
        let index = TestIndex::new(records);
        let q = Query::parse("/a/ OR b").expect("parse");
        assert!(q.needs_scan());
        assert_eq!(index.search(&q), ids(1..3));
        assert_eq!(index.matching(&q), ids(1..3));
        let q = Query::parse("b -/a/").expect("parse");
        assert_eq!(
            index.search(&q),
            ids(0..0),
            "a superset only outside negations"
        );
        assert_eq!(index.matching(&q), ids(2..3));
    }
}
