//! The scan fallback: a regular expression over message text, for what the index cannot
//! answer (a substring inside a token, a pattern). The query is `/PATTERN/` or `/PATTERN/i`
//! (case-insensitive). Segments are pruned by app and time first, then every frame of the rest
//! is decompressed and matched; the hot index is scanned the same way.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use logq_schemas::StoredRecord;
use regex::{Regex, RegexBuilder};

use crate::index::{SearchError, SearchRequest, nanos};

/// Largest compiled pattern accepted.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The regex of a `/PATTERN/flags` query, or None when the query is not one.
pub fn regex_of(query: &str) -> Option<Result<Regex, SearchError>> {
    let q = query.trim();
    let rest = q.strip_prefix('/')?;
    let end = rest.rfind('/')?;
    let (pattern, flags) = (&rest[..end], &rest[end + 1..]);
    if pattern.is_empty() || !flags.chars().all(|c| c == 'i') {
        return None;
    }
    Some(
        RegexBuilder::new(pattern)
            .case_insensitive(flags.contains('i'))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| SearchError::BadQuery(format!("regular expression: {e}"))),
    )
}

/// Keeps the newest `limit` matches (by event time, then id) and counts them all.
#[derive(Debug)]
pub struct Newest {
    limit: usize,
    heap: BinaryHeap<Reverse<((i64, u64), Ordered)>>,
    pub total: u64,
}

/// A record ordered by nothing but its place in the heap's key.
#[derive(Debug)]
pub struct Ordered(pub StoredRecord);

impl PartialEq for Ordered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Newest {
    pub fn new(limit: usize) -> Newest {
        Newest {
            limit,
            heap: BinaryHeap::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, key: (i64, u64), record: StoredRecord) {
        self.total += 1;
        if self.heap.len() < self.limit {
            self.heap.push(Reverse((key, Ordered(record))));
        } else if self.heap.peek().is_some_and(|Reverse((k, _))| *k < key) {
            self.heap.pop();
            self.heap.push(Reverse((key, Ordered(record))));
        }
    }

    /// The kept records, newest first.
    pub fn into_newest_first(self) -> Vec<StoredRecord> {
        let mut v: Vec<((i64, u64), StoredRecord)> = self
            .heap
            .into_iter()
            .map(|Reverse((k, Ordered(r)))| (k, r))
            .collect();
        v.sort_unstable_by_key(|(k, _)| Reverse(*k));
        v.into_iter().map(|(_, r)| r).collect()
    }
}

/// Whether a record passes `req`'s apps and time range and the regex.
pub fn matches(req: &SearchRequest, re: &Regex, r: &StoredRecord) -> bool {
    let t = nanos(r.record.time);
    (req.apps.is_empty() || req.apps.contains(&r.record.app))
        && req.since.is_none_or(|s| t >= nanos(s))
        && req.until.is_none_or(|u| t <= nanos(u))
        && re.is_match(&r.record.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slash_delimited_queries_are_regexes() {
        assert!(regex_of("ECONNREFUSED").is_none());
        assert!(
            regex_of("/usr/bin").is_none(),
            "a path is not a regex: flags must be i"
        );
        let re = regex_of("/conn.*refused/i").expect("regex").expect("valid");
        assert!(re.is_match("connect ECONNREFUSED"));
        let re = regex_of("/Refused$/").expect("regex").expect("valid");
        assert!(!re.is_match("refused") && re.is_match("Refused"));
        assert!(matches!(
            regex_of("/(unclosed/"),
            Some(Err(SearchError::BadQuery(_)))
        ));
    }

    #[test]
    fn newest_keeps_the_top_and_counts_all() {
        let mut n = Newest::new(2);
        for id in [5u64, 1, 9, 3] {
            let r = crate::storage::segment::tests::record(id, "x");
            n.push((0, id), r);
        }
        assert_eq!(n.total, 4);
        let ids: Vec<u64> = n.into_newest_first().iter().map(|r| r.id).collect();
        assert_eq!(ids, [9, 5]);
    }
}
