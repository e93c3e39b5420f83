//! Fuzz target: arbitrary bytes as a chunk segment file never panic. Chunks are read at
//! references taken from the input and sequentially, and iterated as XOR chunks; reads
//! fail, if at all, with a corruption error, and iteration with a decode error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{SampleIterator, ValueType, XorIterator};
use tsdb::chunks::{Chunk, Reader};

fn iterate(c: &Chunk) {
    let mut it = XorIterator::new(&*c.data);
    let mut n = 0usize;
    while it.next() == ValueType::Float {
        n += 1;
        assert!(n <= 65_535, "more samples than a chunk header can count");
    }
    if let Some(e) = it.err() {
        assert!(matches!(e, tsdb::Error::Decode { .. }), "unexpected error kind: {e:?}");
    }
}

fn corruption(r: tsdb::Result<Chunk>) {
    match r {
        Ok(c) => iterate(&c),
        Err(tsdb::Error::Corruption { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = std::path::Path::new("fuzz/chunks");
    let seg = (dir.join("000001"), tsdb::bytes::shared(data.to_vec()));
    let r = match Reader::from_segments(dir, vec![seg]) {
        Ok(r) => r,
        Err(tsdb::Error::Corruption { .. }) => return,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    };
    // References from the input's tail, plus every small offset.
    for w in data.rchunks_exact(8).take(16) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        corruption(r.chunk(u64::from_be_bytes(b)));
    }
    for off in 0..data.len().min(64) as u64 {
        corruption(r.chunk(off));
    }
    for c in r.segment_chunks(0) {
        corruption(c.map(|(_, c)| c));
    }
});
