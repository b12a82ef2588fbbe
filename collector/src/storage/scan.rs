//! The scan fallback's ranking: what the index cannot answer (a regular expression, a word
//! longer than the index keeps) is matched record by record (see `Store::find`), and the
//! newest matches are kept here.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use logq_schemas::StoredRecord;

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

    /// Both sets of matches in one: the newest of both, the totals added.
    pub fn merge(mut self, other: Newest) -> Newest {
        let total = self.total + other.total;
        for Reverse((key, Ordered(record))) in other.heap {
            self.push(key, record);
        }
        self.total = total;
        self
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn merged_keeps_the_newest_of_both_and_counts_all() {
        let mut a = Newest::new(2);
        let mut b = Newest::new(2);
        for id in [5u64, 1] {
            a.push((0, id), crate::storage::segment::tests::record(id, "x"));
        }
        for id in [9u64, 3, 2] {
            b.push((0, id), crate::storage::segment::tests::record(id, "x"));
        }
        let merged = a.merge(b);
        assert_eq!(merged.total, 5);
        let ids: Vec<u64> = merged.into_newest_first().iter().map(|r| r.id).collect();
        assert_eq!(ids, [9, 5]);
    }
}
