//! Frame codec throughput (schemas/src/codec.rs): encode and decode of one shipper batch frame
//! of 1,000 lines, 100 from each format's fixtures (tests/data/formats/<format>/*.log).
//! Throughput is in bytes of the encoded frame, length prefix included.
//!
//! - `codec/encode`: `FrameCodec::encode` into a reused buffer, as the shipper's transport does.
//! - `codec/decode`: `FrameCodec::decode` of the whole frame from a fresh buffer.
//!
//! `cargo bench -p logq-tests --bench codec` (add `-- --quick` for a rough number fast).

mod common;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logq_collector::normalize::formats::ALL;
use logq_schemas::{Batch, Frame, FrameCodec, Line};
use tokio_util::codec::{Decoder, Encoder};

/// Lines in the batch, taken evenly from every format.
const LINES: usize = 1000;

/// A batch as the shipper sends it: the first `LINES / formats` lines of each format (cycled
/// when a fixture has fewer), positions as byte offsets after each newline.
fn batch() -> Frame {
    let per_format = LINES / ALL.len();
    let mut lines = Vec::with_capacity(LINES);
    let mut end = 0u64;
    for format in ALL {
        let text = common::fixture(format.name());
        for l in text
            .lines()
            .filter(|l| !l.is_empty())
            .cycle()
            .take(per_format)
        {
            end += l.len() as u64 + 1;
            lines.push(Line {
                end,
                text: l.to_owned(),
                split: false,
                time: None,
            });
        }
    }
    Frame::Batch(Batch {
        stream: "file:1f2e3d4c5b6a7988".into(),
        read_at: "2026-11-23T10:00:00Z".parse().expect("ts"),
        lines,
    })
}

fn codec(c: &mut Criterion) {
    let frame = batch();
    let codec = FrameCodec::default();
    let encoded = codec
        .encode_to_vec(&frame)
        .expect("the batch fits in a frame");
    let Frame::Batch(b) = &frame else {
        unreachable!("batch() builds a batch")
    };
    eprintln!(
        "codec: {} lines, {} bytes of text, {} bytes encoded",
        b.lines.len(),
        b.lines.iter().map(|l| l.text.len()).sum::<usize>(),
        encoded.len()
    );

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| {
        let mut codec = codec;
        let mut buf = BytesMut::with_capacity(encoded.len());
        b.iter(|| {
            buf.clear();
            codec.encode(black_box(&frame), &mut buf).expect("encode");
            buf.len()
        })
    });
    group.bench_function("decode", |b| {
        let mut codec = codec;
        b.iter_batched(
            || BytesMut::from(&encoded[..]),
            |mut buf| {
                codec
                    .decode(black_box(&mut buf))
                    .expect("decode")
                    .expect("a whole frame")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = codec
}
criterion_main!(benches);
