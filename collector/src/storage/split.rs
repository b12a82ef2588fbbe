//! Splits: the tantivy index of one sealed segment, built from the segment alone (so it can
//! always be rebuilt). The message is indexed but not stored; a hit points at its frame and
//! slot in the segment.

use std::path::Path;

use tantivy::collector::{Count, TopDocs};
use tantivy::directory::Directory;
use tantivy::query::Query;
use tantivy::schema::{FAST, Field, Schema};
use tantivy::{Index, IndexReader, ReloadPolicy, SegmentReader};

use super::frame_filter::{self, FrameFilter};
use super::segment::SegmentFile;
use crate::index::{IndexError, time_id_key};

/// Where a hit lives, with its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitHit {
    pub time: i64,
    pub id: u64,
    pub frame: u32,
    pub slot: u32,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    common: crate::index::Fields,
    frame: Field,
    slot: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        common: crate::index::Fields::add_to(&mut b),
        frame: b.add_u64_field("frame", FAST),
        slot: b.add_u64_field("slot", FAST),
    };
    (b.build(), fields)
}

/// An open split.
#[derive(Clone)]
pub struct Split {
    pub index: Index,
    pub fields: crate::index::Fields,
    reader: IndexReader,
    /// The ids of each frame (see [`frame_filter`]).
    pub frames: std::sync::Arc<FrameFilter>,
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Split").finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Split {
    /// Builds the split of `segment` in `dir` (via a temporary directory renamed into place).
    pub fn build(dir: &Path, segment: &SegmentFile) -> Result<Split, IndexError> {
        let tmp = dir.with_extension("split.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let (schema, f) = schema();
        // The store holds no text, but an entry per document (its offset, 4 bytes): zstd
        // packs those far better than lz4.
        let settings = tantivy::IndexSettings {
            docstore_compression: tantivy::store::Compressor::Zstd(Default::default()),
            ..Default::default()
        };
        let index = Index::builder()
            .schema(schema)
            .settings(settings)
            .create_in_dir(&tmp)?;
        crate::index::tokenizer::register(&index);
        let mut writer = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
        let mut filter = frame_filter::Builder::default();
        for frame in 0..segment.footer.frames.len() {
            let records = segment.frame(frame).map_err(|e| {
                IndexError::Payload(format!("cannot read the segment to index it: {e}"))
            })?;
            filter.frame(&records);
            for (slot, stored) in records.iter().enumerate() {
                let mut doc = f.common.document(stored);
                doc.add_u64(f.frame, frame as u64);
                doc.add_u64(f.slot, slot as u64);
                writer.add_document(doc)?;
            }
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        drop(index);
        filter.write(&tmp).map_err(io(&tmp))?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(io(parent))?;
        }
        Split::open(dir, segment.footer.frames.len())
    }

    /// Opens a built split of a segment of `frames` frames.
    pub fn open(dir: &Path, frames: usize) -> Result<Split, IndexError> {
        let index = Index::open_in_dir(dir)?;
        crate::index::tokenizer::register(&index);
        let expected = schema().0;
        if index.schema() != expected {
            return Err(IndexError::Payload(format!(
                "split {} has another schema",
                dir.display()
            )));
        }
        // tantivy opens some of a segment's files only when a query needs them (positions,
        // for a phrase): a file gone would fail searches later, so it is looked for now.
        use tantivy::index::SegmentComponent as C;
        for meta in index.searchable_segment_metas()? {
            let mut files = [
                C::Postings,
                C::Positions,
                C::FastFields,
                C::FieldNorms,
                C::Terms,
            ]
            .map(|c| meta.relative_path(c))
            .to_vec();
            if meta.has_deletes() {
                files.push(meta.relative_path(C::Delete));
            }
            if let Some(file) = files.into_iter().find(|f| !dir.join(f).is_file()) {
                return Err(IndexError::Payload(format!(
                    "split {} lacks its file {}",
                    dir.display(),
                    file.display()
                )));
            }
        }
        // Splits written before frame filters have none: rebuilt like a damaged one.
        // Mapped by a directory of its own: the index's checks for tantivy's footer.
        let filter_bytes = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| e.to_string())
            .and_then(|d| {
                d.open_read(Path::new(frame_filter::FILE_NAME))
                    .map_err(|e| e.to_string())
            })
            .and_then(|f| f.read_bytes().map_err(|e| e.to_string()))
            .map_err(|e| {
                IndexError::Payload(format!(
                    "split {} lacks its frame filter: {e}",
                    dir.display()
                ))
            })?;
        let frames = FrameFilter::open(filter_bytes, frames)
            .map_err(|e| IndexError::Payload(format!("split {}: {e}", dir.display())))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let fields = crate::index::Fields::of(&expected)?;
        Ok(Split {
            index,
            fields,
            reader,
            frames: std::sync::Arc::new(frames),
        })
    }

    /// The newest `limit` hits of `query` (by event time, then id) and the number of matches.
    pub fn search(
        &self,
        query: &dyn Query,
        limit: usize,
    ) -> Result<(Vec<SplitHit>, u64), tantivy::TantivyError> {
        let searcher = self.reader.searcher();
        if limit == 0 {
            return Ok((Vec::new(), searcher.search(query, &Count)? as u64));
        }
        let top = TopDocs::with_limit(limit).order_by(|seg: &SegmentReader| time_id_key(seg));
        let (docs, total) = searcher.search(query, &(top, Count))?;
        let mut hits = Vec::with_capacity(docs.len());
        for ((time, id), addr) in docs {
            let seg = searcher.segment_reader(addr.segment_ord);
            let frame = seg.fast_fields().u64("frame")?;
            let slot = seg.fast_fields().u64("slot")?;
            hits.push(SplitHit {
                time,
                id,
                frame: frame.first(addr.doc_id).unwrap_or(0) as u32,
                slot: slot.first(addr.doc_id).unwrap_or(0) as u32,
            });
        }
        Ok((hits, total as u64))
    }
}

impl Split {
    /// The counts per bucket of `query`'s matches.
    pub fn histogram(
        &self,
        query: &dyn Query,
        buckets: &crate::index::histogram::Buckets,
    ) -> Result<Vec<u64>, tantivy::TantivyError> {
        self.reader.searcher().search(
            query,
            &crate::index::histogram::TimeHistogram(buckets.clone()),
        )
    }
}

/// Bytes a directory's files take.
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
