//! Matches per time bucket (`logq search --histogram`, the page's chart): bucket widths a
//! person reads at a glance (1s, 5m, 1h, 1d, ...), counted from the `time` fast field.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

const SECOND: i64 = 1_000_000_000;
/// Bucket widths, seconds.
const WIDTHS: &[i64] = &[
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    2 * 60,
    5 * 60,
    10 * 60,
    15 * 60,
    30 * 60,
    3600,
    2 * 3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    2 * 86_400,
    7 * 86_400,
    30 * 86_400,
    365 * 86_400,
];
/// The most buckets asked for.
pub const MAX_BUCKETS: usize = 1000;

/// Counts over consecutive buckets of equal width, in nanoseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// Start of the first bucket (a multiple of `width`).
    pub start: i64,
    pub width: i64,
    pub counts: Vec<u64>,
}

impl Buckets {
    /// At most `max` buckets (1..=MAX_BUCKETS) of the narrowest width in [`WIDTHS`] that covers
    /// `[since, until]` (nanoseconds), aligned to multiples of the width.
    pub fn covering(since: i64, until: i64, max: usize) -> Buckets {
        let max = max.clamp(1, MAX_BUCKETS) as i64;
        let until = until.max(since);
        let fits = |w: i64| (until - since.div_euclid(w) * w) / w < max;
        let year = 365 * 86_400 * SECOND;
        let width = WIDTHS
            .iter()
            .map(|w| w * SECOND)
            .find(|w| fits(*w))
            // Whole years beyond; i64 nanoseconds span under 600 years, so this ends soon.
            .unwrap_or_else(|| (1..).map(|k| k * year).find(|w| fits(*w)).unwrap_or(year));
        let start = since.div_euclid(width) * width;
        let n = ((until - start) / width + 1) as usize;
        Buckets {
            start,
            width,
            counts: vec![0; n],
        }
    }

    /// Counts one event at `time` when it falls in the buckets.
    pub fn count(&mut self, time: i64) {
        if let Some(i) = self.slot(time) {
            self.counts[i] += 1;
        }
    }

    fn slot(&self, time: i64) -> Option<usize> {
        let i = time.checked_sub(self.start)?.div_euclid(self.width);
        usize::try_from(i).ok().filter(|i| *i < self.counts.len())
    }

    /// Adds counts of the same buckets.
    pub fn add(&mut self, counts: &[u64]) {
        for (c, n) in self.counts.iter_mut().zip(counts) {
            *c += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A tantivy collector of [`Buckets`] over the `time` fast field; its fruit is the counts.
#[derive(Debug)]
pub struct TimeHistogram(pub Buckets);

impl Collector for TimeHistogram {
    type Fruit = Vec<u64>;
    type Child = SegmentHistogram;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentHistogram> {
        let mut buckets = self.0.clone();
        buckets.counts.iter_mut().for_each(|c| *c = 0);
        Ok(SegmentHistogram {
            time: segment.fast_fields().i64("time")?,
            buckets,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; self.0.counts.len()];
        for f in fruits {
            for (t, n) in total.iter_mut().zip(f) {
                *t += n;
            }
        }
        Ok(total)
    }
}

/// [`TimeHistogram`] over one segment.
pub struct SegmentHistogram {
    time: Column<i64>,
    buckets: Buckets,
}

impl std::fmt::Debug for SegmentHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentHistogram")
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

impl SegmentCollector for SegmentHistogram {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(t) = self.time.first(doc) {
            self.buckets.count(t);
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.buckets.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60 * SECOND;

    #[test]
    fn widths_are_round_and_cover_the_range() {
        let day = 86_400 * SECOND;
        let b = Buckets::covering(10 * day + 7 * SECOND, 11 * day, 60);
        assert_eq!(b.width, 30 * MINUTE);
        assert_eq!(b.start, 10 * day);
        assert_eq!(b.counts.len(), 49);
        let b = Buckets::covering(0, 90 * SECOND, 100);
        assert_eq!((b.width, b.counts.len()), (SECOND, 91));
        let b = Buckets::covering(5, 5, 10);
        assert_eq!((b.width, b.counts.len()), (SECOND, 1));
        let years = Buckets::covering(0, 250 * 365 * day, 10);
        assert!(years.counts.len() <= 10 && years.width >= 365 * day);
    }

    #[test]
    fn counts_fall_in_their_bucket_and_outside_is_ignored() {
        let mut b = Buckets::covering(0, 3 * MINUTE - 1, 3);
        assert_eq!(b.width, MINUTE);
        for t in [0, MINUTE - 1, MINUTE, 2 * MINUTE + 5, -1, 3 * MINUTE] {
            b.count(t);
        }
        assert_eq!(b.counts, [2, 1, 1]);
        assert_eq!(b.total(), 4);
    }
}
