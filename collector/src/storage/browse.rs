//! Reading an app's records in id order rather than by query: the records after a cursor (live
//! tail) and the records around one record (search context, `logq search -C`).

use std::sync::Arc;

use logq_schemas::StoredRecord;
use serde::Serialize;

use super::active::ActiveView;
use super::{Sealed, Store};
use crate::index::Names;

/// How many frames (about 1 MiB of records each) context reads on either side of its record
/// at most, so that a stream that fell silent long ago does not read the app's whole history.
const MAX_CONTEXT_FRAMES: usize = 16;

/// A record with the records of its app and stream just before and after it, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Context {
    pub before: Vec<StoredRecord>,
    pub hit: StoredRecord,
    pub after: Vec<StoredRecord>,
}

/// One frame of an app in id order: in a sealed segment, or in the active segment's snapshot
/// (its written frames, then its tail).
enum Chunk {
    Sealed(Arc<Sealed>, usize),
    Active(Arc<ActiveView>, usize),
    Tail(Arc<ActiveView>),
}

impl Chunk {
    fn ids(&self) -> (u64, u64) {
        match self {
            Chunk::Sealed(s, i) => {
                let f = &s.file.footer.frames[*i];
                (f.first_id, f.last_id)
            }
            Chunk::Active(v, i) => (v.frames[*i].first_id, v.frames[*i].last_id),
            Chunk::Tail(v) => (
                v.tail.first().map_or(u64::MAX, |r| r.id),
                v.tail.last().map_or(0, |r| r.id),
            ),
        }
    }
}

impl Store {
    /// The records with ids in `[from, below)` of the apps `apps` passes, ascending by id, at
    /// most `max` of them (the lowest ids). Blocking.
    pub fn records_between(
        &self,
        apps: &Names,
        from: u64,
        below: u64,
        max: usize,
    ) -> Vec<StoredRecord> {
        let mut out = Vec::new();
        if below <= from {
            return out;
        }
        // The segments' own inclusive bounds.
        let through = below - 1;
        let wanted = |id: u64| id >= from && id < below;
        let sealed: Vec<Arc<Sealed>> = {
            let active = self.active.lock().expect("active lock");
            for (app, segment) in active.iter().filter(|(app, _)| apps.matches(app)) {
                if let Err(e) = segment.records_in(from, below, &mut out) {
                    tracing::error!(%app, error = %e, "an active segment's frame is unreadable; left out of the tail");
                }
            }
            // Taken before the active lock is let go: a record sealed meanwhile is in one or
            // the other, never in neither.
            let st = self.state.read().expect("store lock");
            st.sealed
                .values()
                .filter(|s| apps.matches(&s.meta.app))
                .filter(|s| s.meta.last_id >= from && s.meta.first_id <= through)
                .cloned()
                .collect()
        };
        for s in sealed {
            for (i, f) in s.file.footer.frames.iter().enumerate() {
                if f.last_id >= from && f.first_id <= through {
                    out.extend(self.read_frame(&s, i).into_iter().filter(|r| wanted(r.id)));
                }
            }
        }
        out.sort_unstable_by_key(|r| r.id);
        out.dedup_by_key(|r| r.id);
        out.truncate(max);
        out
    }

    /// Record `id` of `app` with up to `before` and `after` records of the same app and stream
    /// around it; `None` when the app does not hold it (any more). Blocking.
    pub fn context(&self, app: &str, id: u64, before: usize, after: usize) -> Option<Context> {
        let chunks = self.chunks_of(app);
        let at = chunks.partition_point(|c| c.ids().1 < id);
        let read = |i: usize| -> Vec<StoredRecord> {
            match &chunks[i] {
                Chunk::Sealed(s, f) => self.read_frame(s, *f),
                Chunk::Active(v, f) => v.frame(*f).unwrap_or_else(|e| {
                    tracing::error!(%app, error = %e, "an active segment's frame is unreadable; left out of the context");
                    Vec::new()
                }),
                Chunk::Tail(v) => v.tail.clone(),
            }
        };
        if at == chunks.len() {
            return None;
        }
        let here = read(at);
        let k = here.binary_search_by_key(&id, |r| r.id).ok()?;
        let hit = here[k].clone();
        let same = |r: &&StoredRecord| r.record.stream == hit.record.stream;

        let mut earlier: Vec<StoredRecord> = here[..k]
            .iter()
            .rev()
            .filter(same)
            .take(before)
            .cloned()
            .collect();
        let mut i = at;
        while earlier.len() < before && i > 0 && at - i < MAX_CONTEXT_FRAMES {
            i -= 1;
            let need = before - earlier.len();
            earlier.extend(read(i).iter().rev().filter(same).take(need).cloned());
        }
        earlier.reverse();

        let mut later: Vec<StoredRecord> = here[k + 1..]
            .iter()
            .filter(same)
            .take(after)
            .cloned()
            .collect();
        let mut i = at;
        while later.len() < after && i + 1 < chunks.len() && i - at < MAX_CONTEXT_FRAMES {
            i += 1;
            let need = after - later.len();
            later.extend(read(i).iter().filter(same).take(need).cloned());
        }
        Some(Context {
            before: earlier,
            hit,
            after: later,
        })
    }

    /// `app`'s frames in id order: its sealed segments', then its active segment's.
    fn chunks_of(&self, app: &str) -> Vec<Chunk> {
        let (view, mut sealed) = {
            let active = self.active.lock().expect("active lock");
            let view = active.get(app).and_then(|s| match s.view() {
                Ok(v) => Some(Arc::new(v)),
                Err(e) => {
                    tracing::error!(%app, error = %e, "cannot read the active segment for context");
                    None
                }
            });
            let st = self.state.read().expect("store lock");
            let sealed: Vec<Arc<Sealed>> = st
                .sealed
                .values()
                .filter(|s| s.meta.app == app)
                .cloned()
                .collect();
            (view, sealed)
        };
        sealed.sort_by_key(|s| s.meta.first_id);
        let mut chunks: Vec<Chunk> = sealed
            .into_iter()
            .flat_map(|s| (0..s.file.footer.frames.len()).map(move |i| Chunk::Sealed(s.clone(), i)))
            .collect();
        if let Some(v) = view {
            chunks.extend((0..v.frames.len()).map(|i| Chunk::Active(v.clone(), i)));
            if !v.tail.is_empty() {
                chunks.push(Chunk::Tail(v));
            }
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use jiff::Timestamp;

    use super::*;
    use crate::config::{RetentionConfig, StorageConfig};
    use crate::index::tests::{batch, index_batches};

    /// Records `first..first + n` of `app`, one per second, even ids on stdout and odd ones on
    /// stderr, in `store`'s active segment.
    fn fill(dir: &Path, store: &Arc<Store>, app: &str, first: u64, n: u64) {
        let t0: Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
        let batches = (first..first + n)
            .map(|id| {
                let at = (t0 + jiff::SignedDuration::from_secs(id as i64)).to_string();
                let mut b = batch(id, app, &at, &[&format!("line {id}")]);
                let stream = if id % 2 == 0 { "stdout" } else { "stderr" };
                let meta = &mut Arc::make_mut(&mut b.batch).meta;
                meta.stream = stream.into();
                meta.key = format!("{app}/{stream}");
                b
            })
            .collect();
        index_batches(&dir.join("hot"), store.clone(), batches);
    }

    fn open(dir: &Path) -> Arc<Store> {
        let storage = StorageConfig {
            frame_bytes: 4096,
            ..StorageConfig::default()
        };
        let (store, _) = Store::open(
            dir,
            storage,
            RetentionConfig::default(),
            Arc::new(|_: &Path| None),
        )
        .expect("store");
        Arc::new(store)
    }

    fn ids(records: &[StoredRecord]) -> Vec<u64> {
        records.iter().map(|r| r.id).collect()
    }

    /// `web` holds 0..250 sealed (many frames) and 250..400 active; `api` 400..420 active.
    fn store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        fill(dir.path(), &store, "web", 0, 250);
        store.seal("web").expect("seal").expect("sealed");
        fill(dir.path(), &store, "web", 250, 150);
        fill(dir.path(), &store, "api", 400, 20);
        (dir, store)
    }

    #[test]
    fn records_between_cross_from_sealed_to_active_in_id_order() {
        let (_dir, store) = store();
        let all = Names::default();
        assert_eq!(
            ids(&store.records_between(&all, 245, 255, 100)),
            (245..255).collect::<Vec<_>>()
        );
        assert_eq!(
            ids(&store.records_between(&all, 395, 405, 100)),
            (395..405).collect::<Vec<_>>()
        );
        assert_eq!(
            ids(&store.records_between(&Names::new(["api"]).expect("names"), 395, 405, 100)),
            (400..405).collect::<Vec<_>>()
        );
        assert_eq!(ids(&store.records_between(&all, 0, 1000, 3)), [0, 1, 2]);
        assert!(store.records_between(&all, 10, 10, 100).is_empty());
        assert_eq!(
            store.records_between(&all, 0, u64::MAX, usize::MAX).len(),
            420
        );
    }

    #[test]
    fn context_stays_in_the_stream_and_crosses_segments() {
        let (_dir, store) = store();
        let c = store.context("web", 250, 3, 3).expect("held");
        assert_eq!(
            (ids(&c.before), c.hit.id, ids(&c.after)),
            (vec![244, 246, 248], 250, vec![252, 254, 256])
        );
        let c = store.context("web", 249, 2, 2).expect("held");
        assert_eq!(
            (ids(&c.before), ids(&c.after)),
            (vec![245, 247], vec![251, 253])
        );
        let c = store.context("web", 1, 5, 0).expect("held");
        assert!(c.before.is_empty() && c.after.is_empty());
        let c = store.context("web", 397, 0, 10).expect("held");
        assert_eq!(ids(&c.after), [399], "the end of the app");
        let c = store.context("web", 120, 60, 0).expect("held");
        assert_eq!(ids(&c.before), (0..60).map(|i| i * 2).collect::<Vec<_>>());
        assert!(
            store.context("web", 405, 1, 1).is_none(),
            "another app's id"
        );
        assert!(store.context("nope", 1, 1, 1).is_none());
    }
}
