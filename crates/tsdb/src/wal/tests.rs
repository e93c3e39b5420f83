//! Tests of the WAL writer, reader and repair.

use std::path::Path;

use proptest::prelude::*;

use super::writer::Fault;
use super::*;

/// Deterministic record contents: incompressible (xorshift) or compressible (a short
/// repeated pattern), starting with the record's index.
pub(crate) fn make_record(index: u64, len: usize, compressible: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..len {
        let b = if compressible {
            (index as u8).wrapping_add((i % 7) as u8)
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        out.push(b);
    }
    let n = len.min(8);
    out[..n].copy_from_slice(&index.to_be_bytes()[..n]);
    out
}

pub(crate) fn read_all(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut r = WalReader::open(dir, None, None)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec.to_vec());
    }
    Ok(out)
}

fn opts(pages: usize, compression: bool) -> WalOptions {
    WalOptions {
        segment_size: pages * PAGE_SIZE,
        compression,
    }
}

fn corruption(e: Error) -> CorruptionError {
    match e {
        Error::WalCorruption(c) => c,
        other => panic!("expected a corruption, got {other}"),
    }
}

#[test]
fn layout_matches_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(
        dir.path(),
        WalOptions::default(),
        WalMetrics::unregistered(),
    )
    .unwrap();
    w.log(&[b"abc"]).unwrap();
    let seg = segment_path(dir.path(), 0);
    // Snappy would not make 3 bytes smaller: a plain full fragment, already written.
    let mut want = vec![0x01, 0x00, 0x03];
    want.extend_from_slice(&crc32c::crc32c(b"abc").to_be_bytes());
    want.extend_from_slice(b"abc");
    assert_eq!(std::fs::read(&seg).unwrap(), want);

    let zeros = vec![0u8; 1000];
    w.log(&[&zeros]).unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    assert_eq!(bytes[10], 0x09, "snappy flag and full kind");
    let len = usize::from(u16::from_be_bytes([bytes[11], bytes[12]]));
    assert_eq!(bytes.len(), 10 + 7 + len);
    assert_eq!(
        snap::raw::Decoder::new()
            .decompress_vec(&bytes[17..])
            .unwrap(),
        zeros
    );

    w.close().unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    assert_eq!(bytes.len(), PAGE_SIZE, "close zero-pads the last page");
    assert_eq!(read_all(dir.path()).unwrap(), vec![b"abc".to_vec(), zeros]);
}

#[test]
fn open_starts_a_new_segment_and_lists_only_segments() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wal::open(
        dir.path(),
        WalOptions::default(),
        WalMetrics::unregistered(),
    )
    .unwrap();
    assert_eq!(w.current_segment(), 0);
    w.close().unwrap();
    let m = WalMetrics::unregistered();
    let w = Wal::open(dir.path(), WalOptions::default(), m.clone()).unwrap();
    assert_eq!(w.current_segment(), 1);
    assert_eq!(m.segment_current.get(), 1);
    assert_eq!(w.segment_range().unwrap(), (0, 1));
    drop(w);
    for name in ["1", "abc", "00000002.tmp", "000000001x"] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    std::fs::create_dir(dir.path().join("checkpoint.00000001")).unwrap();
    std::fs::create_dir(dir.path().join("00000007")).unwrap();
    assert_eq!(segments(dir.path()).unwrap(), vec![0, 1]);
    assert!(segments(&dir.path().join("missing")).unwrap().is_empty());

    std::fs::write(segment_path(dir.path(), 3), b"").unwrap();
    let err = Wal::open(
        dir.path(),
        WalOptions::default(),
        WalMetrics::unregistered(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not sequential"), "{err}");
}

#[test]
fn options_are_validated() {
    assert!(WalOptions::default().validate().is_ok());
    assert!(opts(0, true).validate().is_err());
    let odd = WalOptions {
        segment_size: PAGE_SIZE + 1,
        compression: true,
    };
    assert!(odd.validate().is_err());
}

#[test]
fn records_never_span_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(2, false), WalMetrics::unregistered()).unwrap();
    let small = make_record(1, 40_000, false);
    let big = make_record(2, 3 * PAGE_SIZE, false); // Larger than a whole segment.
    let tail = make_record(3, 10, false);
    w.log(&[&small]).unwrap();
    w.log(&[&big]).unwrap();
    w.log(&[&tail]).unwrap();
    assert_eq!(w.current_segment(), 2);
    w.close().unwrap();
    let sizes: Vec<u64> = (0..3)
        .map(|s| {
            std::fs::metadata(segment_path(dir.path(), s))
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes[0], 2 * PAGE_SIZE as u64);
    assert_eq!(
        sizes[1],
        4 * PAGE_SIZE as u64,
        "oversized segment for the big record"
    );
    assert_eq!(read_all(dir.path()).unwrap(), vec![small, big, tail]);
    let mut r = WalReader::open(dir.path(), Some(1), Some(1)).unwrap();
    assert_eq!(
        r.next_record().unwrap().map(<[u8]>::len),
        Some(3 * PAGE_SIZE)
    );
    assert_eq!(
        r.position(),
        RecordPosition {
            segment: 1,
            offset: 0
        }
    );
    assert!(r.next_record().unwrap().is_none());
}

#[test]
fn torn_record_is_reported_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(
        dir.path(),
        WalOptions::default(),
        WalMetrics::unregistered(),
    )
    .unwrap();
    let a = make_record(1, 100, false);
    let b = make_record(2, 50_000, false);
    w.log(&[&a, &b]).unwrap();
    drop(w);
    let seg = segment_path(dir.path(), 0);
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(PAGE_SIZE as u64).unwrap(); // Cut after B's first fragment.
    drop(f);
    let mut r = WalReader::open(dir.path(), None, None).unwrap();
    assert_eq!(r.next_record().unwrap().unwrap(), &a[..]);
    let c = corruption(r.next_record().unwrap_err());
    assert_eq!((c.segment, c.offset), (0, 107));
    assert!(c.reason.contains("torn"), "{}", c.reason);

    std::fs::write(segment_path(dir.path(), 1), b"later").unwrap();
    repair(&c).unwrap();
    assert_eq!(segments(dir.path()).unwrap(), vec![0]);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), PAGE_SIZE as u64);
    assert_eq!(read_all(dir.path()).unwrap(), vec![a]);
}

#[test]
fn bad_fragments_are_corruption_at_the_last_good_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, false), WalMetrics::unregistered()).unwrap();
    let recs: Vec<Vec<u8>> = (0..3).map(|i| make_record(i, 20, false)).collect();
    let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    w.log(&refs).unwrap();
    w.close().unwrap();
    let seg = segment_path(dir.path(), 0);
    let clean = std::fs::read(&seg).unwrap();
    // Offsets: records at 0, 27, 54; padding from 81.
    // (offset, xor mask, expected reason); record 1's type byte is 0x01 (full).
    let cases: [(usize, u8, &str); 6] = [
        (27, 0x02, "middle fragment outside"),
        (27, 0x20, "type byte"),
        (27, 0x18, "type byte"),
        (28, 0xff, "fragment length"),
        (40, 0x55, "checksum"),
        (5000, 0x01, "non-zero"),
    ];
    for (at, mask, why) in cases {
        let mut bytes = clean.clone();
        bytes[at] ^= mask;
        std::fs::write(&seg, &bytes).unwrap();
        let mut r = WalReader::open(dir.path(), None, None).unwrap();
        let mut got = 0;
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => got += 1,
                Ok(None) => panic!("damage at {at} not detected"),
                Err(e) => break corruption(e),
            }
        };
        assert!(err.reason.contains(why), "at {at}: {}", err.reason);
        let want = if at < 81 { 1 } else { 3 };
        assert_eq!(got, want, "at {at}");
        assert_eq!(err.offset, 27 * want as u64);
    }
}

#[test]
fn failed_write_or_fsync_refuses_later_writes() {
    for fault in [Fault::Write, Fault::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let m = WalMetrics::unregistered();
        let mut w = Wal::open(dir.path(), WalOptions::default(), m.clone()).unwrap();
        w.log(&[b"ok"]).unwrap();
        w.fault = Some(fault);
        let first = match fault {
            Fault::Write => w.log(&[b"lost"]),
            Fault::Sync => w.sync(),
        };
        assert!(first.is_err());
        w.fault = None;
        assert!(w.failure().is_some());
        let e = w.log(&[b"after"]).unwrap_err();
        assert!(e.to_string().contains("refuses writes"), "{e}");
        assert!(w.sync().is_err());
        assert!(w.next_segment().is_err());
        assert!(w.close().is_err());
        assert_eq!(
            m.writes_failed_total.get(),
            u64::from(fault == Fault::Write) + 1
        );
    }
}

#[test]
fn truncate_deletes_older_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let m = WalMetrics::unregistered();
    let mut w = Wal::open(dir.path(), WalOptions::default(), m.clone()).unwrap();
    for _ in 0..4 {
        w.log(&[b"x"]).unwrap();
        w.next_segment().unwrap();
    }
    w.truncate(2).unwrap();
    assert_eq!(segments(dir.path()).unwrap(), vec![2, 3, 4]);
    w.truncate(100).unwrap();
    assert_eq!(
        segments(dir.path()).unwrap(),
        vec![4],
        "the active segment stays"
    );
    assert_eq!(m.truncations_total.get(), 2);
    assert_eq!(w.segment_range().unwrap(), (4, 4));
}

#[test]
fn replay_repairs_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(1, true), WalMetrics::unregistered()).unwrap();
    let recs: Vec<Vec<u8>> = (0..10)
        .map(|i| make_record(i, 20_000, i % 2 == 0))
        .collect();
    for r in &recs {
        w.log(&[r]).unwrap();
    }
    drop(w);
    let n = segments(dir.path()).unwrap().len();
    assert!(n > 3);
    // Damage a byte in the middle of segment 1: segments 2.. go too.
    let seg1 = segment_path(dir.path(), 1);
    let mut bytes = std::fs::read(&seg1).unwrap();
    let first_len = {
        let mut r = WalReader::open(dir.path(), Some(1), Some(1)).unwrap();
        r.next_record().unwrap().unwrap().len()
    };
    assert!(first_len > 0);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&seg1, &bytes).unwrap();
    let m = WalMetrics::unregistered();
    let mut got = Vec::new();
    let push = |r: &[u8]| {
        got.push(r.to_vec());
        Ok(())
    };
    let stats = replay(dir.path(), None, push, &m, OnDamage::Repair).unwrap();
    assert_eq!(m.corruptions_total.get(), 1);
    assert_eq!(stats.corruption.as_ref().map(|c| c.segment), Some(1));
    assert_eq!(got, recs[..got.len()].to_vec());
    assert_eq!(segments(dir.path()).unwrap(), vec![0, 1]);
    let again = read_all(dir.path()).unwrap();
    assert_eq!(again, got);

    // A record the callback cannot decode is treated as corrupt too.
    let m = WalMetrics::unregistered();
    let mut seen = 0;
    let stats = replay(
        dir.path(),
        None,
        |_| {
            seen += 1;
            if seen == 2 {
                Err(Error::decode("test record", "bad"))
            } else {
                Ok(())
            }
        },
        &m,
        OnDamage::Repair,
    )
    .unwrap();
    assert_eq!(stats.records, 1);
    assert_eq!(m.corruptions_total.get(), 1);
    assert_eq!(read_all(dir.path()).unwrap().len(), 1);
}

#[derive(Debug, Clone)]
struct Spec {
    len: usize,
    compressible: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    let len = prop_oneof![
        Just(0usize),
        1usize..64,
        (PAGE_SIZE - 200)..(PAGE_SIZE + 200),
        0usize..(3 * PAGE_SIZE + 5000),
    ];
    (len, any::<bool>()).prop_map(|(len, compressible)| Spec { len, compressible })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn wal_round_trip(
        specs in proptest::collection::vec(spec(), 0..24),
        batch in 1usize..5,
        pages in 1usize..4,
        compression in any::<bool>(),
        reopen_at in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<Vec<u8>> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| make_record(i as u64, s.len, s.compressible))
            .collect();
        let reopen = reopen_at.index(recs.len() + 1);
        let o = opts(pages, compression);
        let mut w = Wal::open(dir.path(), o.clone(), WalMetrics::unregistered()).unwrap();
        for (i, chunk) in recs.chunks(batch).enumerate() {
            if i * batch >= reopen && (i * batch) < reopen + batch && i > 0 {
                w.close().unwrap();
                w = Wal::open(dir.path(), o.clone(), WalMetrics::unregistered()).unwrap();
            }
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            w.log(&refs).unwrap();
        }
        // Readable before close (short last page) and after.
        prop_assert_eq!(&read_all(dir.path()).unwrap(), &recs);
        w.close().unwrap();
        prop_assert_eq!(&read_all(dir.path()).unwrap(), &recs);
        for s in segments(dir.path()).unwrap() {
            let len = std::fs::metadata(segment_path(dir.path(), s)).unwrap().len();
            prop_assert_eq!(len % PAGE_SIZE as u64, 0);
        }
    }

    #[test]
    fn reader_never_panics_on_damage(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), opts(4, true), WalMetrics::unregistered()).unwrap();
        let recs: Vec<Vec<u8>> =
            (0..12).map(|i| make_record(i, (i as usize * 3001) % 40_000, i % 3 == 0)).collect();
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        w.log(&refs).unwrap();
        drop(w);
        let seg = segment_path(dir.path(), 0);
        let mut bytes = std::fs::read(&seg).unwrap();
        let mut first_damage = bytes.len();
        for (at, x) in &flips {
            let at = at.index(bytes.len());
            bytes[at] ^= x;
            first_damage = first_damage.min(at);
        }
        if let Some(c) = cut {
            let c = c.index(bytes.len());
            bytes.truncate(c);
            first_damage = first_damage.min(c);
        }
        std::fs::write(&seg, &bytes).unwrap();
        let mut r = WalReader::open(dir.path(), None, None).unwrap();
        let mut got = Vec::new();
        while let Ok(Some(rec)) = r.next_record() {
            let rec = rec.to_vec();
            got.push((r.position().offset as usize, rec));
        }
        // A record followed by one that starts before the damage lies before it.
        for (i, w) in got.windows(2).enumerate() {
            if w[1].0 <= first_damage {
                prop_assert_eq!(&w[0].1, &recs[i]);
            }
        }
    }
}
