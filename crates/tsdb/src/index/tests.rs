//! Unit tests of the index writer and reader: versions, TOC layout, alignment, an empty
//! index, and lookups across the 32-value sampling of the postings offset table.

use std::path::Path;

use super::postings::IndexReader;
use super::*;
use crate::bytes::shared;
use crate::error::Error;
use crate::labels::Labels;

/// Writes an index of `n` series `{__name__="m", i="NNNN"}` and returns its bytes.
fn index_bytes(n: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    let mut symbols: Vec<String> = (0..n).map(|i| format!("{i:04}")).collect();
    symbols.extend(["__name__".into(), "i".into(), "m".into()]);
    symbols.sort();
    let mut w = Writer::new(&path, &symbols).expect("writer");
    for i in 0..n {
        let l = Labels::from_pairs(&[("__name__", "m"), ("i", &format!("{i:04}"))]);
        let c = SeriesChunk {
            min_t: i as i64,
            max_t: i as i64 + 10,
            chunk_ref: 8 + i as u64 * 20,
        };
        w.add_series(&l, &[c]).expect("series");
    }
    w.finish().expect("finish");
    std::fs::read(&path).expect("read")
}

fn open(b: Vec<u8>) -> crate::error::Result<Reader> {
    Reader::new(shared(b), Path::new("blk/index"))
}

#[test]
fn toc_layout_and_alignment_match_prometheus_3_7() {
    let b = index_bytes(100);
    let r = open(b.clone()).expect("open");
    let toc = r.toc();
    assert_eq!(toc.symbols, HEADER_LEN as u64);
    assert_eq!(toc.label_indices, toc.postings, "no label indices");
    assert_eq!(
        toc.label_indices_table, toc.postings_offset_table,
        "no label offset table"
    );
    assert_eq!(&b[..5], &[0xBA, 0xAA, 0xD7, 0x00, 2]);
    let ids: Vec<u32> = r.all_series().expect("all").iter().collect();
    assert_eq!(ids.len(), 100);
    for (i, id) in ids.iter().enumerate() {
        assert!(u64::from(*id) * SERIES_ALIGN >= toc.series);
        let e = r.series(*id).expect("series");
        assert_eq!(
            e.chunks,
            [SeriesChunk {
                min_t: i as i64,
                max_t: i as i64 + 10,
                chunk_ref: 8 + i as u64 * 20
            }]
        );
    }
}

#[test]
fn lookups_cross_the_sampled_values() {
    // 100 values of `i`: samples at 0, 32, 64, 96 and the last (99).
    let r = open(index_bytes(100)).expect("open");
    for i in 0..100 {
        let p = r.postings("i", &format!("{i:04}")).expect("postings");
        assert_eq!(p.len(), 1, "value {i}");
        let id = p.iter().next().expect("one");
        assert_eq!(
            r.series_labels(id).expect("labels").get("i"),
            Some(&*format!("{i:04}"))
        );
    }
    for missing in ["", "0", "00000", "0100", "zzz", "0031x"] {
        assert!(
            r.postings("i", missing).expect("postings").is_empty(),
            "{missing:?}"
        );
    }
    assert_eq!(r.label_values("i").expect("values").len(), 100);
    assert!(r.label_values("nope").expect("values").is_empty());
    let names: Vec<String> = r
        .label_names()
        .expect("names")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, ["__name__", "i"]);
    let matched = r
        .postings_for_label_matching("i", "003", &mut |v| v.ends_with('7'))
        .expect("scan");
    assert_eq!(matched.len(), 1);
}

#[test]
fn an_empty_index_opens() {
    let r = open(index_bytes(0)).expect("open");
    assert!(r.all_series().expect("all").is_empty());
    assert!(r.label_names().expect("names").is_empty());
}

#[test]
fn versions_other_than_2_and_3_are_refused() {
    let mut b = index_bytes(3);
    b[4] = 3;
    open(b.clone()).expect("version 3 reads as 2");
    b[4] = 1;
    match open(b.clone()) {
        Err(Error::Corruption {
            path,
            offset: 4,
            reason,
        }) => {
            assert_eq!(path, Path::new("blk/index"));
            assert!(reason.contains("version 1"), "{reason}");
        }
        other => panic!("version 1 must be refused: {other:?}"),
    }
    b[4] = 9;
    assert!(open(b).is_err());
}

#[test]
fn series_ids_outside_the_series_section_are_errors() {
    let r = open(index_bytes(3)).expect("open");
    for id in [0, 1, u32::MAX] {
        assert!(
            matches!(r.series(id), Err(Error::Corruption { .. })),
            "id {id}"
        );
    }
    assert!(r.symbol(r.symbol_count()).is_err());
}
