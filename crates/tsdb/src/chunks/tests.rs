//! Round trips of chunk segment files, file cuts and damaged segments.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::bytes::{SharedBytes, shared};
use crate::error::Error;

fn write_all(dir: &std::path::Path, size: u64, chunks: &[Vec<u8>]) -> Vec<u64> {
    let mut w = Writer::with_segment_size(dir, size).expect("writer");
    let refs = chunks
        .iter()
        .map(|c| w.write_chunk(1, c).expect("write"))
        .collect();
    w.finish().expect("finish");
    refs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn chunks_round_trip_across_file_cuts(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40),
        size in 8u64..2000,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let refs = write_all(dir.path(), size, &chunks);
        let r = Reader::open(dir.path()).expect("open");
        for (c, &rf) in chunks.iter().zip(&refs) {
            let got = r.chunk(rf).expect("chunk");
            prop_assert_eq!(got.encoding, 1);
            prop_assert_eq!(&*got.data, c.as_slice());
        }
        // Refs increase; a segment is cut only when the next record would overflow it.
        prop_assert!(refs.windows(2).all(|w| w[0] < w[1]));
        for seg in 0..r.segments() {
            let len = std::fs::metadata(dir.path().join(segment_name(seg))).expect("stat").len();
            let records = r.segment_chunks(seg).count() as u64;
            prop_assert!(len <= size || records == 1, "segment {} has {} bytes", seg, len);
        }
        let walked: Vec<u64> = (0..r.segments())
            .flat_map(|s| r.segment_chunks(s).map(|c| c.expect("record").0).collect::<Vec<_>>())
            .collect();
        prop_assert_eq!(walked, refs);
    }
}

#[test]
fn refs_name_the_zero_based_file_index_and_the_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = vec![0u8; 20];
    // Each record is 1 + 1 + 20 + 4 = 26 bytes; 8 + 2 * 26 = 60 fits, a third does not.
    let refs = write_all(dir.path(), 60, &[c.clone(), c.clone(), c]);
    assert_eq!(refs, [8, 34, 1 << 32 | 8]);
    assert!(dir.path().join("000001").exists() && dir.path().join("000002").exists());
}

#[test]
fn damage_is_an_error_naming_the_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refs = write_all(
        dir.path(),
        DEFAULT_SEGMENT_SIZE,
        &[vec![7u8; 30], vec![9u8; 30]],
    );
    let path = dir.path().join("000001");
    let good = std::fs::read(&path).expect("read");
    let open = |b: Vec<u8>| Reader::from_segments(dir.path(), vec![(path.clone(), shared(b))]);

    // A flipped data byte in the second chunk: the first still reads.
    let mut b = good.clone();
    b[refs[1] as usize + 5] ^= 1;
    let r = open(b).expect("header intact");
    r.chunk(refs[0]).expect("first chunk intact");
    match r.chunk(refs[1]) {
        Err(Error::Corruption {
            path: p, offset, ..
        }) => {
            assert_eq!(p, path);
            assert_eq!(offset, refs[1]);
        }
        other => panic!("expected corruption, got {other:?}"),
    }

    // Truncated anywhere: opening or reading fails, never panics.
    for cut in 0..good.len() {
        if let Ok(r) = open(good[..cut].to_vec()) {
            assert!(r.chunk(refs[1]).is_err(), "cut at {cut}");
        }
    }

    // A bad header, an unknown segment index, offsets inside the header or past the end.
    let mut b = good.clone();
    b[4] = 2;
    assert!(open(b).is_err());
    let r = open(good.clone()).expect("open");
    for bad in [1u64 << 32 | 8, 0, 3, good.len() as u64, u32::MAX as u64] {
        assert!(r.chunk(bad).is_err(), "ref {bad:#x}");
    }
}

#[test]
fn from_segments_works_on_owned_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refs = write_all(dir.path(), DEFAULT_SEGMENT_SIZE, &[vec![1, 2, 3]]);
    let bytes: SharedBytes = Arc::new(std::fs::read(dir.path().join("000001")).expect("read"));
    let r =
        Reader::from_segments(dir.path(), vec![(dir.path().join("000001"), bytes)]).expect("open");
    assert_eq!(&*r.chunk(refs[0]).expect("chunk").data, &[1, 2, 3]);
}

#[test]
fn records_parse_from_a_window_holding_only_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chunks = [vec![7u8; 300], vec![1, 2, 3]];
    let refs = write_all(dir.path(), 1 << 20, &chunks);
    let seg = std::fs::read(dir.path().join(segment_name(0))).expect("read");
    let path = std::path::Path::new("blk/chunks/000001");
    for (c, &r) in chunks.iter().zip(&refs) {
        let at = split_ref(r).1 as usize;
        // The length prefix alone says how much to fetch.
        let prefix = &seg[at..(at + MAX_LEN_PREFIX).min(seg.len())];
        let want = record_len(prefix, path, at as u64).expect("len");
        let window = &seg[at..at + want as usize];
        let rec = parse_record(window, path, at as u64).expect("record");
        assert_eq!(rec.len as u64, want);
        assert_eq!(rec.encoding, 1);
        assert_eq!(&window[rec.data.clone()], c.as_slice());
        // One byte short: an error naming the path and the record's offset, no panic.
        let err = parse_record(&window[..window.len() - 1], path, at as u64).expect_err("short");
        assert!(
            matches!(&err, Error::Corruption { path: p, offset, .. } if p == path && *offset == at as u64),
            "{err}"
        );
    }
    check_segment_header(&seg, path).expect("header");
    assert!(check_segment_header(&seg[..5], path).is_err());
}
