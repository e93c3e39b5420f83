//! Fuzz target: decoding arbitrary bytes as an XOR chunk never panics, and iteration
//! ends (at most the header's sample count) with either no error or a decode error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{SampleIterator, ValueType, XorIterator};

fuzz_target!(|data: &[u8]| {
    let mut it = XorIterator::new(data);
    let mut n = 0usize;
    while it.next() == ValueType::Float {
        n += 1;
        assert!(n <= 65_535, "more samples than a chunk header can count");
    }
    if let Some(e) = it.err() {
        assert!(matches!(e, tsdb::Error::Decode { .. }), "unexpected error kind: {e:?}");
    }
    let mut it = XorIterator::new(data);
    let _ = it.seek(i64::from_le_bytes(data.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8])));
});
