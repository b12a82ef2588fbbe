//! What sealing needs from the hot index: per-app statistics of the records not sealed yet,
//! and those records in id order.

use std::collections::BTreeMap;
use std::ops::Bound;

use logq_schemas::StoredRecord;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, Term};

use super::search::load;
use super::{LogIndex, SearchError};

/// One app's unsealed records in the hot index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotStats {
    pub records: u64,
    /// Message bytes.
    pub bytes: u64,
    /// Oldest receive time, nanoseconds.
    pub oldest_received: i64,
    pub max_id: u64,
}

struct StatsCollector;
struct StatsSegment {
    bytes: tantivy::columnar::Column<u64>,
    received: tantivy::columnar::Column<i64>,
    id: tantivy::columnar::Column<u64>,
    stats: HotStats,
}

impl Collector for StatsCollector {
    type Fruit = HotStats;
    type Child = StatsSegment;

    fn for_segment(&self, _: SegmentOrdinal, seg: &SegmentReader) -> tantivy::Result<StatsSegment> {
        let ff = seg.fast_fields();
        Ok(StatsSegment {
            bytes: ff.u64("bytes")?,
            received: ff.i64("received")?,
            id: ff.u64("id")?,
            stats: HotStats {
                oldest_received: i64::MAX,
                ..HotStats::default()
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HotStats>) -> tantivy::Result<HotStats> {
        Ok(fruits.into_iter().fold(
            HotStats {
                oldest_received: i64::MAX,
                ..HotStats::default()
            },
            |a, b| HotStats {
                records: a.records + b.records,
                bytes: a.bytes + b.bytes,
                oldest_received: a.oldest_received.min(b.oldest_received),
                max_id: a.max_id.max(b.max_id),
            },
        ))
    }
}

impl SegmentCollector for StatsSegment {
    type Fruit = HotStats;

    fn collect(&mut self, doc: DocId, _: Score) {
        let s = &mut self.stats;
        s.records += 1;
        s.bytes += self.bytes.first(doc).unwrap_or(0);
        s.oldest_received = s
            .oldest_received
            .min(self.received.first(doc).unwrap_or(i64::MAX));
        s.max_id = s.max_id.max(self.id.first(doc).unwrap_or(0));
    }

    fn harvest(self) -> HotStats {
        self.stats
    }
}

/// Collects (id, address) of every match.
struct IdsCollector;
struct IdsSegment {
    ord: SegmentOrdinal,
    id: tantivy::columnar::Column<u64>,
    out: Vec<(u64, DocAddress)>,
}

impl Collector for IdsCollector {
    type Fruit = Vec<(u64, DocAddress)>;
    type Child = IdsSegment;

    fn for_segment(&self, ord: SegmentOrdinal, seg: &SegmentReader) -> tantivy::Result<IdsSegment> {
        Ok(IdsSegment {
            ord,
            id: seg.fast_fields().u64("id")?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(u64, DocAddress)>>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for IdsSegment {
    type Fruit = Vec<(u64, DocAddress)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let id = self.id.first(doc).unwrap_or(0);
        self.out.push((id, DocAddress::new(self.ord, doc)));
    }

    fn harvest(self) -> Self::Fruit {
        self.out
    }
}

impl LogIndex {
    /// `app`'s records with ids in (`after`, `through`].
    fn app_range(&self, app: &str, after: Option<u64>, through: Bound<u64>) -> Box<dyn Query> {
        let f = self.fields;
        let lower = after.map_or(Bound::Unbounded, |a| {
            Bound::Excluded(Term::from_field_u64(f.id, a))
        });
        let upper = match through {
            Bound::Included(t) => Bound::Included(Term::from_field_u64(f.id, t)),
            _ => Bound::Unbounded,
        };
        let term: Box<dyn Query> = Box::new(TermQuery::new(
            Term::from_field_text(f.app, app),
            IndexRecordOption::Basic,
        ));
        if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
            // tantivy refuses a range with no bound at all.
            return term;
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, term),
            (Occur::Must, Box::new(RangeQuery::new(lower, upper))),
        ]))
    }

    /// Apps present in the hot index.
    pub fn app_names(&self) -> Result<Vec<String>, SearchError> {
        let searcher = self.reader.searcher();
        let mut names = std::collections::BTreeSet::new();
        for seg in searcher.segment_readers() {
            let inverted = seg.inverted_index(self.fields.app)?;
            let mut terms = inverted
                .terms()
                .stream()
                .map_err(tantivy::TantivyError::from)?;
            while terms.advance() {
                names.insert(String::from_utf8_lossy(terms.key()).into_owned());
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Statistics of each app's records with ids above `sealed[app]`.
    pub fn hot_stats(
        &self,
        sealed: &BTreeMap<String, u64>,
    ) -> Result<BTreeMap<String, HotStats>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = BTreeMap::new();
        for app in self.app_names()? {
            let q = self.app_range(&app, sealed.get(&app).copied(), Bound::Unbounded);
            let stats = searcher.search(&q, &StatsCollector)?;
            if stats.records > 0 {
                out.insert(app, stats);
            }
        }
        Ok(out)
    }

    /// Calls `each` with `app`'s records with ids in (`after`, `through`], in id order.
    pub fn for_each_record(
        &self,
        app: &str,
        after: Option<u64>,
        through: u64,
        mut each: impl FnMut(StoredRecord) -> Result<(), SearchError>,
    ) -> Result<(), SearchError> {
        let searcher = self.reader.searcher();
        let q = self.app_range(app, after, Bound::Included(through));
        let mut ids = searcher.search(&q, &IdsCollector)?;
        ids.sort_unstable_by_key(|(id, _)| *id);
        for (id, addr) in ids {
            each(load(&searcher, self.fields.record, addr, id)?)?;
        }
        Ok(())
    }

    /// Every hot record matching `req`'s apps and time range (its query text is ignored),
    /// leaving out sealed ones, for which `keep` holds; with sort keys. For the scan fallback.
    pub fn scan_hot(
        &self,
        req: &super::SearchRequest,
        sealed: &BTreeMap<String, u64>,
        mut keep: impl FnMut(&StoredRecord) -> bool,
    ) -> Result<Vec<super::search::HotHit>, SearchError> {
        let filter = super::SearchRequest {
            query: String::new(),
            ..req.clone()
        };
        let q = super::build_query(&self.index, &filter, sealed)?;
        let searcher = self.reader.searcher();
        let ids = searcher.search(&q, &IdsCollector)?;
        let mut out = Vec::new();
        for (id, addr) in ids {
            let r = load(&searcher, self.fields.record, addr, id)?;
            if keep(&r) {
                out.push(((super::nanos(r.record.time), r.id), r));
            }
        }
        Ok(out)
    }
}
