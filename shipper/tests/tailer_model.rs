//! Model-based property test of the tailer: random sequences of appends, partial appends,
//! rename rotations, copytruncates (by writers with and without O_APPEND), delete + recreate,
//! acknowledgements, and shipper crashes with restarts, on real files. The model: every line
//! written is delivered exactly once, in order within its file, except lines of a file that
//! left its path while no running tailer could have known it (those may be lost; never
//! doubled).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use logq_shipper::source::fingerprint;
use logq_shipper::source::tailer::{TailConfig, Tailer};
use logq_shipper::source::target::{Target, Targets};
use logq_shipper::source::{Placement, SeekHandle, SourceEvent};
use proptest::prelude::*;
use tokio::sync::mpsc;

const SLOTS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Append {
        slot: usize,
        n: usize,
    },
    Partial {
        slot: usize,
    },
    Rename {
        slot: usize,
    },
    CopyTruncate {
        slot: usize,
    },
    /// copytruncate's two halves with time between them: lines appended after the copy are
    /// lost on disk at the truncation (unless the tailer read them first).
    Copy {
        slot: usize,
    },
    Truncate {
        slot: usize,
    },
    DeleteRecreate {
        slot: usize,
    },
    Step {
        ack: bool,
    },
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        6 => (slot.clone(), 1..12usize).prop_map(|(slot, n)| Op::Append { slot, n }),
        2 => slot.clone().prop_map(|slot| Op::Partial { slot }),
        2 => slot.clone().prop_map(|slot| Op::Rename { slot }),
        2 => slot.clone().prop_map(|slot| Op::CopyTruncate { slot }),
        1 => slot.clone().prop_map(|slot| Op::Copy { slot }),
        1 => slot.clone().prop_map(|slot| Op::Truncate { slot }),
        1 => slot.prop_map(|slot| Op::DeleteRecreate { slot }),
        6 => any::<bool>().prop_map(|ack| Op::Step { ack }),
        1 => Just(Op::Crash),
    ]
}

/// One generation of a file slot: an inode's content from its creation (or truncation).
#[derive(Debug, Default)]
struct Generation {
    lines: Vec<u64>,
    first_line: Option<String>,
    /// A tailer instance running now has had it at its path during a step.
    held: bool,
    /// How it left its path, if it did.
    left: Option<Left>,
    lost_allowed: bool,
    /// Lines in it when it was last copied (without truncation).
    copied: Option<usize>,
    /// Lines that may be lost on their own (appended between a copy and a truncation).
    lost_lines: HashSet<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Still on disk beside its path (renamed, or its content copied by copytruncate).
    Beside,
    Deleted,
}

/// The writer of one slot: appends through its own descriptor.
#[derive(Debug)]
struct Writer {
    path: PathBuf,
    file: File,
    /// Without O_APPEND, the writer's offset survives a truncation (leaving NUL bytes).
    append: bool,
    offset: u64,
    partial: Option<String>,
    generation: usize,
}

impl Writer {
    fn open(path: &Path, append: bool) -> File {
        File::options()
            .create(true)
            .append(append)
            .write(true)
            .open(path)
            .expect("open for writing")
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.append {
            use std::io::Write;
            (&self.file).write_all(bytes).expect("append");
        } else {
            self.file.write_all_at(bytes, self.offset).expect("write");
        }
        self.offset += bytes.len() as u64;
    }
}

/// A stream registered with the current tailer: its handle, placement generation, and the
/// lines received but not acknowledged.
type Registered = (SeekHandle, u64, Vec<(u64, String)>);

struct Harness {
    dir: tempfile::TempDir,
    tailer: Tailer,
    rx: mpsc::Receiver<SourceEvent>,
    writers: Vec<Writer>,
    /// Every generation, by (slot, generation).
    generations: BTreeMap<(usize, usize), Generation>,
    next_line: u64,
    rotations: u64,
    /// Streams registered with the current tailer: handle, generation, unacked lines.
    streams: HashMap<String, Registered>,
    /// What the "collector" stored: acked position per stream.
    acked: HashMap<String, u64>,
    /// The "checkpoint": streams registered and not released, with their path.
    checkpoint: BTreeMap<String, PathBuf>,
    /// Lines delivered (acked), in order.
    delivered: Vec<String>,
    placements: u64,
}

fn config(dir: &Path) -> TailConfig {
    TailConfig {
        targets: Targets::fixed(vec![Target::tail(
            &format!("{}/*.log", dir.display()),
            "model",
            None,
        )]),
        max_line_bytes: 64 * 1024,
        partial_flush: Duration::from_secs(3600),
        rotate_wait: Duration::ZERO,
        max_source_bytes: None,
        scan_interval: Duration::ZERO,
    }
}

impl Harness {
    fn new(append_modes: [bool; SLOTS]) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, rx) = mpsc::channel(1 << 16);
        let tailer = Tailer::new(config(dir.path()), Vec::new(), tx);
        let mut h = Harness {
            tailer,
            rx,
            writers: Vec::new(),
            generations: BTreeMap::new(),
            next_line: 0,
            rotations: 0,
            streams: HashMap::new(),
            acked: HashMap::new(),
            checkpoint: BTreeMap::new(),
            delivered: Vec::new(),
            placements: 0,
            dir,
        };
        for (slot, append) in append_modes.into_iter().enumerate() {
            let path = h.dir.path().join(format!("app{slot}.log"));
            let file = Writer::open(&path, append);
            h.writers.push(Writer {
                path,
                file,
                append,
                offset: 0,
                partial: None,
                generation: 0,
            });
            h.generations.insert((slot, 0), Generation::default());
        }
        h
    }

    fn line_text(slot: usize, generation: usize, n: u64) -> String {
        format!(
            "slot{slot} gen{generation} line {n:08} {}",
            "x".repeat((n % 7) as usize * 9)
        )
    }

    fn append(&mut self, slot: usize, count: usize) {
        self.finish_partial(slot);
        let mut bytes = Vec::new();
        for _ in 0..count {
            let w = &self.writers[slot];
            let n = self.next_line;
            self.next_line += 1;
            let text = Self::line_text(slot, w.generation, n);
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(b'\n');
            let g = self
                .generations
                .get_mut(&(slot, w.generation))
                .expect("generation");
            g.lines.push(n);
            g.first_line.get_or_insert(text);
        }
        self.writers[slot].write(&bytes);
    }

    fn partial(&mut self, slot: usize) {
        self.finish_partial(slot);
        let w = &self.writers[slot];
        let n = self.next_line;
        self.next_line += 1;
        let text = Self::line_text(slot, w.generation, n);
        let (head, tail) = text.split_at(text.len() / 2);
        let g = self
            .generations
            .get_mut(&(slot, w.generation))
            .expect("generation");
        g.lines.push(n);
        g.first_line.get_or_insert(text.clone());
        let head = head.to_owned();
        self.writers[slot].partial = Some(tail.to_owned());
        self.writers[slot].write(head.as_bytes());
    }

    fn finish_partial(&mut self, slot: usize) {
        if let Some(tail) = self.writers[slot].partial.take() {
            self.writers[slot].write(format!("{tail}\n").as_bytes());
        }
    }

    fn registered(&self, slot: usize, generation: usize) -> bool {
        let Some(first) = &self.generations[&(slot, generation)].first_line else {
            return false;
        };
        let fp = fingerprint::fingerprint(format!("{first}\n").as_bytes()).expect("fp");
        let id = format!("file:{:016x}", fp.0);
        self.checkpoint.contains_key(&id)
    }

    /// The current generation leaves its path (or its content moves to a copy): mark its
    /// lines as allowed to be lost when nothing could have followed it.
    fn leave(&mut self, slot: usize, recoverable: bool, how: Left) {
        let key = (slot, self.writers[slot].generation);
        let g = self.generations.get_mut(&key).expect("gen");
        g.left = Some(how);
        if !recoverable {
            g.lost_allowed = true;
        }
    }

    fn new_generation(&mut self, slot: usize) {
        let w = &mut self.writers[slot];
        w.generation += 1;
        self.generations
            .insert((slot, w.generation), Generation::default());
    }

    fn rename(&mut self, slot: usize) {
        self.finish_partial(slot);
        let generation = self.writers[slot].generation;
        let recoverable =
            self.generations[&(slot, generation)].held || self.registered(slot, generation);
        self.leave(slot, recoverable, Left::Beside);
        self.rotations += 1;
        let path = self.writers[slot].path.clone();
        let to = PathBuf::from(format!("{}.{}", path.display(), self.rotations));
        std::fs::rename(&path, to).expect("rename");
        let append = self.writers[slot].append;
        self.writers[slot].file = Writer::open(&path, append);
        self.writers[slot].offset = 0;
        self.new_generation(slot);
    }

    fn copytruncate(&mut self, slot: usize) {
        self.finish_partial(slot);
        let generation = self.writers[slot].generation;
        let recoverable = self.registered(slot, generation)
            && (self.generations[&(slot, generation)].held || self.tailer_is_fresh());
        self.leave(slot, recoverable, Left::Beside);
        self.rotations += 1;
        let path = self.writers[slot].path.clone();
        let to = PathBuf::from(format!("{}.{}", path.display(), self.rotations));
        std::fs::copy(&path, to).expect("copy");
        File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(0)
            .expect("truncate");
        self.new_generation(slot);
    }

    fn copy_only(&mut self, slot: usize) {
        self.finish_partial(slot);
        self.rotations += 1;
        let path = self.writers[slot].path.clone();
        let to = PathBuf::from(format!("{}.{}", path.display(), self.rotations));
        std::fs::copy(&path, to).expect("copy");
        let key = (slot, self.writers[slot].generation);
        let g = self.generations.get_mut(&key).expect("gen");
        g.copied = Some(g.lines.len());
    }

    fn truncate_only(&mut self, slot: usize) {
        self.finish_partial(slot);
        let generation = self.writers[slot].generation;
        let registered = self.registered(slot, generation);
        let g = self.generations.get_mut(&(slot, generation)).expect("gen");
        match g.copied {
            Some(k) if registered => {
                g.left = Some(Left::Beside);
                g.lost_lines.extend(g.lines[k..].iter().copied());
            }
            _ => {
                g.left = Some(Left::Deleted);
                g.lost_allowed = true;
            }
        }
        let path = self.writers[slot].path.clone();
        File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(0)
            .expect("truncate");
        self.new_generation(slot);
    }

    fn delete_recreate(&mut self, slot: usize) {
        self.finish_partial(slot);
        let generation = self.writers[slot].generation;
        let recoverable = self.generations[&(slot, generation)].held;
        self.leave(slot, recoverable, Left::Deleted);
        let path = self.writers[slot].path.clone();
        std::fs::remove_file(&path).expect("delete");
        let append = self.writers[slot].append;
        self.writers[slot].file = Writer::open(&path, append);
        self.writers[slot].offset = 0;
        self.new_generation(slot);
    }

    /// Whether the current tailer has not scanned yet (it will resume checkpoint streams).
    fn tailer_is_fresh(&self) -> bool {
        self.generations.values().all(|g| !g.held)
    }

    fn step(&mut self, ack: bool) {
        for (slot, w) in self.writers.iter().enumerate() {
            if let Some(g) = self.generations.get_mut(&(slot, w.generation)) {
                g.held = true;
            }
        }
        for _ in 0..50 {
            let more = self.tailer.step(true).expect("tailer running");
            let events = self.events();
            if !more && events == 0 {
                break;
            }
        }
        if ack {
            self.ack_all();
        }
    }

    fn events(&mut self) -> usize {
        let mut n = 0;
        while let Ok(ev) = self.rx.try_recv() {
            n += 1;
            match ev {
                SourceEvent::Register { info, seek } => {
                    let start = self.acked.get(&info.id).copied().unwrap_or(0);
                    self.placements += 1;
                    seek.set_acked(start);
                    seek.set(Placement::At {
                        generation: self.placements,
                        position: start,
                    });
                    // As the core keeps it: the path the file was found through.
                    let path = seek.path().expect("a file stream has a path");
                    self.checkpoint.insert(info.id.clone(), PathBuf::from(path));
                    self.streams
                        .insert(info.id, (seek, self.placements, Vec::new()));
                }
                SourceEvent::Lines {
                    stream,
                    generation,
                    lines,
                    ..
                } => {
                    let (_, g, pending) = self.streams.get_mut(&stream).expect("registered");
                    assert_eq!(*g, generation, "lines of a stale placement");
                    pending.extend(lines.into_iter().map(|l| {
                        assert!(!l.split, "no line is split here: {:?}", l.text);
                        (l.end, l.text)
                    }));
                }
                SourceEvent::Release { stream } => {
                    if let Some((_, _, pending)) = self.streams.remove(&stream) {
                        assert!(pending.is_empty(), "released with unacked lines");
                    }
                    self.checkpoint.remove(&stream);
                }
                SourceEvent::End { stream } => panic!("a file stream ended: {stream}"),
            }
        }
        n
    }

    fn ack_all(&mut self) {
        let mut ids: Vec<&String> = self.streams.keys().collect();
        ids.sort();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in ids {
            let (seek, _, pending) = self.streams.get_mut(&id).expect("stream");
            if let Some((end, _)) = pending.last() {
                let end = *end;
                self.delivered
                    .extend(pending.drain(..).map(|(_, text)| text));
                seek.set_acked(end);
                self.acked.insert(id.clone(), end);
            }
        }
    }

    /// kill -9: unacked lines are gone with the process; a new tailer resumes from the
    /// collector's positions and the checkpoint's streams.
    fn crash(&mut self) {
        let (tx, rx) = mpsc::channel(1 << 16);
        let resume = self
            .checkpoint
            .iter()
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect();
        self.tailer = Tailer::new(config(self.dir.path()), resume, tx);
        self.rx = rx;
        self.streams.clear();
        let registered: Vec<bool> = self
            .generations
            .keys()
            .map(|(slot, generation)| self.registered(*slot, *generation))
            .collect();
        for (g, registered) in self.generations.values_mut().zip(registered) {
            g.held = false;
            // The descriptors died with the process: a deleted file is gone, and a file beside
            // its path is found again only through the checkpoint.
            match g.left {
                Some(Left::Deleted) => g.lost_allowed = true,
                Some(Left::Beside) if !registered => g.lost_allowed = true,
                _ => {}
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Append { slot, n } => self.append(slot, n),
            Op::Partial { slot } => self.partial(slot),
            Op::Rename { slot } => self.rename(slot),
            Op::CopyTruncate { slot } => self.copytruncate(slot),
            Op::Copy { slot } => self.copy_only(slot),
            Op::Truncate { slot } => self.truncate_only(slot),
            Op::DeleteRecreate { slot } => self.delete_recreate(slot),
            Op::Step { ack } => self.step(ack),
            Op::Crash => self.crash(),
        }
    }

    /// Finishes partial lines, lets the tailer catch up, and checks the model.
    fn check(mut self) {
        for slot in 0..SLOTS {
            self.finish_partial(slot);
        }
        for _ in 0..5 {
            self.step(true);
        }
        let mut seen = HashSet::new();
        let mut last_in_generation: HashMap<(usize, usize), u64> = HashMap::new();
        for text in &self.delivered {
            assert!(seen.insert(text.clone()), "delivered twice: {text}");
            let parts: Vec<&str> = text.split_whitespace().collect();
            let slot: usize = parts[0][4..].parse().expect("slot");
            let generation: usize = parts[1][3..].parse().expect("gen");
            let n: u64 = parts[3].parse().expect("n");
            if let Some(prev) = last_in_generation.insert((slot, generation), n) {
                assert!(
                    prev < n,
                    "out of order in slot {slot} gen {generation}: {prev} then {n}"
                );
            }
        }
        for ((slot, generation), g) in &self.generations {
            for n in &g.lines {
                let text = Self::line_text(*slot, *generation, *n);
                assert!(
                    seen.contains(&text) || g.lost_allowed || g.lost_lines.contains(n),
                    "never delivered: {text:?} (delivered {} lines)",
                    self.delivered.len()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_line_once_in_order(
        ops in prop::collection::vec(op(), 1..100),
        append_modes in any::<[bool; SLOTS]>(),
    ) {
        let mut h = Harness::new(append_modes);
        for op in &ops {
            h.apply(op);
        }
        h.check();
    }
}

/// The scenario the model found hardest, kept as a plain regression test: a copytruncate by
/// a writer without O_APPEND (NUL bytes at the head of the new content) right after a crash.
#[test]
fn copytruncate_without_append_after_a_crash() {
    let mut h = Harness::new([false, true]);
    h.append(0, 5);
    h.step(true);
    h.append(0, 3);
    h.step(false);
    h.crash();
    h.copytruncate(0);
    h.append(0, 4);
    h.check();
}

/// Found by the logrotate test: the tailer read lines appended after logrotate's copy, then
/// the truncation sent it to a copy shorter than what it had read; it must neither stall
/// nor read the copy again as a new stream.
#[test]
fn truncation_after_reading_past_the_copy() {
    let mut h = Harness::new([true, true]);
    h.append(0, 5);
    h.step(true);
    h.copy_only(0);
    h.append(0, 3);
    h.step(true);
    h.truncate_only(0);
    h.append(0, 4);
    h.check();
}

/// Found by the model: after a copytruncate, new content of exactly the length already read
/// looked like "nothing new"; the head check now runs at the end of a file too.
#[test]
fn copytruncate_to_the_same_length() {
    let mut h = Harness::new([true, true]);
    h.append(0, 7);
    h.step(false);
    h.copytruncate(0);
    h.append(0, 7);
    h.check();
}
