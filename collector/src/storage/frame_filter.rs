//! Frame filters: for each frame of a sealed segment, the keys of the ids it holds (the words
//! and field values the index leaves out, see [`tokenizer::is_id`]), so that a search for an
//! id reads only the frames that hold it instead of every frame.
//!
//! A key is the low 24 bits of the xxh3 of the id, lowercased (a field's id value is keyed as
//! a word of the message: `request_id:abc123…` reads the frames holding `abc123…`). With about
//! 20,000 ids in a frame of 1 MiB, a frame without the id is read anyway about once in 800
//! (at 10 GiB, a dozen frames of ten thousand): a miss costs time, never a match. Three bytes
//! a key rather than four took a quarter off the filters.
//!
//! File `frames.filter` in the segment's split directory (derived, like the split, and rebuilt
//! with it), little-endian: magic `LQFF`, version (u32, 1), frame count `n` (u32), `n + 1`
//! offsets (u32, in keys, ascending), the keys (3 bytes each, ascending within each frame), and the
//! xxh3 of all that (u64). The file is mapped, not read: the sum is checked once, at the first
//! search that needs it.
//!
//! [`tokenizer::is_id`]: crate::index::tokenizer::is_id

use std::path::Path;
use std::sync::OnceLock;

use logq_schemas::StoredRecord;
use tantivy::directory::OwnedBytes;
use xxhash_rust::xxh3::xxh3_64;

use crate::index::{attr_id_value, attr_term, tokenizer};

/// The file's name in a split directory.
pub const FILE_NAME: &str = "frames.filter";
const MAGIC: &[u8; 4] = b"LQFF";
const VERSION: u32 = 1;
const HEADER: usize = 12;
const KEY_BYTES: usize = 3;

/// The key of an id (already lowercased).
pub fn key(id: &str) -> u32 {
    (xxh3_64(id.as_bytes()) & 0x00ff_ffff) as u32
}

/// The keys of a record's ids, unsorted, possibly repeated: those of its message and the
/// values of its id fields (as words: most are in the message too, and are one key).
pub fn record_keys(stored: &StoredRecord) -> impl Iterator<Item = u32> + '_ {
    let r = &stored.record;
    tokenizer::ids(&r.message).map(|id| key(&id)).chain(
        r.fields
            .iter()
            .filter_map(|(name, value)| attr_term(name, value))
            .filter_map(|t| attr_id_value(&t).map(key)),
    )
}

/// Builds the filter frame by frame.
#[derive(Debug, Default)]
pub struct Builder {
    offsets: Vec<u32>,
    keys: Vec<u32>,
    frame: Vec<u32>,
}

impl Builder {
    /// Adds the next frame's records.
    pub fn frame<'r>(&mut self, records: impl IntoIterator<Item = &'r StoredRecord>) {
        self.frame.clear();
        for r in records {
            self.frame.extend(record_keys(r));
        }
        self.frame.sort_unstable();
        self.frame.dedup();
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.keys.extend_from_slice(&self.frame);
        self.offsets
            .push(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
    }

    /// The file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let frames = (self.offsets.len() - 1) as u32;
        let mut out =
            Vec::with_capacity(HEADER + 4 * self.offsets.len() + KEY_BYTES * self.keys.len() + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&frames.to_le_bytes());
        for v in &self.offsets {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for k in &self.keys {
            out.extend_from_slice(&k.to_le_bytes()[..KEY_BYTES]);
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Writes the file into `dir` (synced).
    pub fn write(self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.join(FILE_NAME))?;
        f.write_all(&self.finish())?;
        f.sync_all()
    }
}

/// An open filter.
#[derive(Debug)]
pub struct FrameFilter {
    bytes: OwnedBytes,
    frames: usize,
    /// Whether the checksum holds, once checked.
    intact: OnceLock<bool>,
}

impl FrameFilter {
    /// Opens the filter of a segment of `frames` frames from its bytes: the header and the
    /// offsets are checked now, the sum at first use.
    pub fn open(bytes: OwnedBytes, frames: usize) -> Result<FrameFilter, String> {
        let b = bytes.as_slice();
        if b.len() < HEADER + 4 + 8 || &b[..4] != MAGIC {
            return Err("not a frame filter".into());
        }
        let version = u32_at(b, 4);
        if version != VERSION {
            return Err(format!(
                "frame filter version {version}, expected {VERSION}"
            ));
        }
        let n = u32_at(b, 8) as usize;
        if n != frames {
            return Err(format!(
                "frame filter of {n} frames, the segment has {frames}"
            ));
        }
        let keys_at = HEADER + 4 * (n + 1);
        let Some(keys) = b.len().checked_sub(keys_at + 8).map(|k| k / KEY_BYTES) else {
            return Err("frame filter truncated".into());
        };
        let mut last = 0;
        for i in 0..=n {
            let o = u32_at(b, HEADER + 4 * i);
            if o < last || o as usize > keys {
                return Err("frame filter offsets out of order".into());
            }
            last = o;
        }
        if last as usize != keys || keys_at + KEY_BYTES * keys + 8 != b.len() {
            return Err("frame filter truncated".into());
        }
        Ok(FrameFilter {
            bytes,
            frames: n,
            intact: OnceLock::new(),
        })
    }

    /// Whether the checksum holds (computed once).
    pub fn intact(&self) -> bool {
        *self.intact.get_or_init(|| {
            let b = self.bytes.as_slice();
            let (body, sum) = b.split_at(b.len() - 8);
            xxh3_64(body) == u64::from_le_bytes(sum.try_into().expect("8 bytes"))
        })
    }

    /// Whether `frame` may hold every key of one of `groups`. A frame out of range may.
    pub fn may_hold(&self, frame: usize, groups: &[Vec<u32>]) -> bool {
        if frame >= self.frames {
            return true;
        }
        let b = self.bytes.as_slice();
        let from = u32_at(b, HEADER + 4 * frame) as usize;
        let to = u32_at(b, HEADER + 4 * (frame + 1)) as usize;
        let keys_at = HEADER + 4 * (self.frames + 1);
        let keys = &b[keys_at + KEY_BYTES * from..keys_at + KEY_BYTES * to];
        groups
            .iter()
            .any(|g| g.iter().all(|&k| sorted_keys_hold(keys, k)))
    }
}

/// Whether `keys` (3 bytes each, strictly ascending) hold `k`. The keys are hashes, spread
/// evenly: guessing where `k` would be from its value (interpolation search) takes about four
/// looks into a frame's 20,000 keys where halving takes fifteen, each far from the last. A
/// request id's search at 10 GiB asks the filter of every frame (about 10,000): halving was a
/// quarter of its time. Should the guesses stop closing in, the rest is halved.
fn sorted_keys_hold(keys: &[u8], k: u32) -> bool {
    const GUESSES: usize = 8;
    let at = |i: usize| {
        let a = KEY_BYTES * i;
        u32::from_le_bytes([keys[a], keys[a + 1], keys[a + 2], 0])
    };
    // The keys in `lo..hi` are in `low..high`.
    let (mut lo, mut hi) = (0, keys.len() / KEY_BYTES);
    let (mut low, mut high) = (0u32, 1u32 << 24);
    let mut guesses = 0;
    while lo < hi {
        if k < low || k >= high {
            return false;
        }
        let mid = if guesses < GUESSES {
            guesses += 1;
            let share = u64::from(k - low) * (hi - lo) as u64 / u64::from(high - low);
            (lo + share as usize).min(hi - 1)
        } else {
            lo + (hi - lo) / 2
        };
        let got = at(mid);
        match got.cmp(&k) {
            std::cmp::Ordering::Less => (lo, low) = (mid + 1, got + 1),
            std::cmp::Ordering::Greater => (hi, high) = (mid, got),
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::segment::tests::record;

    fn filter_of(frames: &[&[&str]]) -> FrameFilter {
        let records: Vec<Vec<StoredRecord>> = frames
            .iter()
            .map(|msgs| {
                msgs.iter()
                    .enumerate()
                    .map(|(i, m)| record(i as u64, m))
                    .collect()
            })
            .collect();
        let mut b = Builder::default();
        for f in &records {
            b.frame(f);
        }
        FrameFilter::open(OwnedBytes::new(b.finish()), frames.len()).expect("open")
    }

    #[test]
    fn a_frame_is_kept_when_it_holds_every_key_of_a_group() {
        let f = filter_of(&[
            &["GET /orders/9533278 by req f6fadfa7e5c15b62", "fine"],
            &["pid 69122 exited", "ok"],
            &[],
        ]);
        assert!(f.intact());
        let g = |ids: &[&str]| vec![ids.iter().map(|i| key(i)).collect::<Vec<_>>()];
        assert!(f.may_hold(0, &g(&["9533278"])));
        assert!(f.may_hold(0, &g(&["9533278", "f6fadfa7e5c15b62"])));
        assert!(!f.may_hold(0, &g(&["9533278", "69122"])));
        assert!(!f.may_hold(1, &g(&["9533278"])));
        assert!(f.may_hold(1, &g(&["69122"])));
        assert!(!f.may_hold(2, &g(&["69122"])));
        let either = [g(&["9533278"]), g(&["69122"])].concat();
        assert!(f.may_hold(0, &either) && f.may_hold(1, &either));
        // Words are not ids: not in the filter.
        assert!(!f.may_hold(0, &g(&["orders"])));
    }

    proptest::proptest! {
        /// Regression guard for the interpolation search: it finds exactly the keys a set
        /// holds, however the keys are spread (bunched, at the ends of the range, few).
        #[test]
        fn the_key_search_finds_exactly_the_keys_held(
            mut held in proptest::collection::vec(
                proptest::prop_oneof![0u32..1 << 24, 0u32..64, (1u32 << 24) - 64..1 << 24],
                0..300,
            ),
            asked in proptest::collection::vec(0u32..1 << 24, 0..50),
        ) {
            held.sort_unstable();
            held.dedup();
            let bytes: Vec<u8> = held
                .iter()
                .flat_map(|k| k.to_le_bytes()[..KEY_BYTES].to_vec())
                .collect();
            for k in asked.iter().chain(&held).chain(&[0, (1 << 24) - 1]) {
                proptest::prop_assert_eq!(
                    sorted_keys_hold(&bytes, *k),
                    held.binary_search(k).is_ok(),
                    "key {}", k
                );
            }
        }
    }

    #[test]
    fn a_damaged_filter_is_refused_or_found_out_by_its_sum() {
        let mut b = Builder::default();
        b.frame(&[record(1, "order 9533278")]);
        let bytes = b.finish();
        let open = |b: Vec<u8>, n| FrameFilter::open(OwnedBytes::new(b), n);
        assert!(open(bytes[..bytes.len() - 3].to_vec(), 1).is_err());
        assert!(open(bytes.clone(), 2).is_err());
        let mut flipped = bytes.clone();
        flipped[HEADER + 8] ^= 0x40;
        let f = open(flipped, 1).expect("the offsets still hold");
        assert!(!f.intact());
        assert!(open(bytes, 1).expect("open").intact());
    }
}
