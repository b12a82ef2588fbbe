//! Segment throughput (collector/src/storage/segment.rs), with the collector's default frame
//! size and zstd level (`StorageConfig::default()`). The records: every format's fixture lines
//! (tests/data/formats/<format>/*.log) parsed by their format, repeated to 16 MiB of raw
//! segment bytes (records as JSON lines, what the frames compress).
//!
//! - `segment/write`: create, push every record, finish (last frame, footer, fsync), as the
//!   collector seals a segment. Throughput in raw bytes.
//! - `segment/read`: open (footer checked), then decompress and parse every frame's records.
//!   Throughput in raw bytes. The file is in the page cache: this is decompression and JSON,
//!   not the disk.
//! - `segment/read_frame`: one frame's records from an open segment, as a search hit reads
//!   them. Throughput in that frame's raw bytes.
//!
//! `cargo bench -p logq-tests --bench segment` (add `-- --quick` for a rough number fast).

mod common;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use logq_collector::config::StorageConfig;
use logq_collector::normalize::format::Context;
use logq_collector::normalize::formats::ALL;
use logq_collector::storage::segment::{SegmentFile, SegmentWriter};
use logq_schemas::{Record, StoredRecord};

/// Raw bytes of records in the segment.
const RAW_BYTES: usize = 16 << 20;

/// One record per fixture line, format by format, repeated until their JSON lines make
/// `RAW_BYTES`; ids ascending from 1 as the collector assigns them.
fn records() -> Vec<StoredRecord> {
    let received: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
    let cx = Context::utc(received);
    let mut one_pass = Vec::new();
    for format in ALL {
        for line in common::fixture(format.name())
            .lines()
            .filter(|l| !l.is_empty())
        {
            let parsed = format.parse(line, &cx).unwrap_or_default();
            one_pass.push(Record {
                time: parsed.time.unwrap_or(received),
                received,
                app: "web".into(),
                host: "web-1".into(),
                stream: "stdout".into(),
                level: parsed.level,
                format: format.name().into(),
                message: line.to_owned(),
                fields: parsed.fields.into_map(),
            });
        }
    }
    let mut out = Vec::new();
    let mut bytes = 0;
    for (id, record) in (1..).zip(one_pass.iter().cycle()) {
        if bytes >= RAW_BYTES {
            break;
        }
        let r = StoredRecord {
            id,
            record: record.clone(),
        };
        bytes += serde_json::to_vec(&r).expect("json").len() + 1;
        out.push(r);
    }
    out
}

fn write(path: &Path, records: &[StoredRecord], storage: &StorageConfig) -> u64 {
    let mut w = SegmentWriter::create(
        path,
        "web",
        storage.frame_bytes as usize,
        storage.zstd_level,
    )
    .expect("create");
    for r in records {
        w.push(r).expect("push");
    }
    w.finish().expect("finish").1
}

fn segment(c: &mut Criterion) {
    let storage = StorageConfig::default();
    let records = records();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.seg");
    let file_bytes = write(&path, &records, &storage);
    let seg = SegmentFile::open(&path).expect("open");
    let raw_bytes = seg.footer.raw_bytes;
    eprintln!(
        "segment: {} records, {} raw bytes in {} frames, {} bytes on disk (frame_bytes {}, \
         zstd level {})",
        records.len(),
        raw_bytes,
        seg.footer.frames.len(),
        file_bytes,
        storage.frame_bytes,
        storage.zstd_level
    );

    let mut group = c.benchmark_group("segment");
    // Tens of milliseconds an iteration: one iteration a sample, or 10 samples overrun 3 s.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(raw_bytes));
    let scratch = dir.path().join("write.seg");
    group.bench_function("write", |b| {
        b.iter_batched(
            || {
                // The writer creates a new file; the last iteration's goes first, untimed.
                let _ = std::fs::remove_file(&scratch);
                scratch.clone()
            },
            |p| write(&p, black_box(&records), &storage),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("read", |b| {
        b.iter(|| {
            let seg = SegmentFile::open(black_box(&path)).expect("open");
            let mut n = 0;
            for i in 0..seg.footer.frames.len() {
                n += seg.frame(i).expect("frame").len();
            }
            n
        })
    });
    // A frame from the middle: a full one, not the short last frame.
    let mid = seg.footer.frames.len() / 2;
    group.throughput(Throughput::Bytes(u64::from(seg.footer.frames[mid].raw_len)));
    group.bench_function("read_frame", |b| {
        b.iter(|| seg.frame(black_box(mid)).expect("frame").len())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = segment
}
criterion_main!(benches);
