//! Torn writes and damaged bytes in the WAL: replay repairs, keeps exactly the intact
//! records before the damage, and the WAL takes new records afterwards.

use std::path::{Path, PathBuf};

use tsdb::wal::{self, PAGE_SIZE, Wal, WalMetrics, WalOptions};

/// A scratch directory, in memory when the machine has `/dev/shm` (thousands of
/// replays with fsyncs run here).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new().prefix("wal-torn-").tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("temp dir")
}

/// Record `i`: its index, then incompressible (xorshift) or compressible bytes.
fn record(i: u64, len: usize) -> Vec<u8> {
    let mut out = i.to_be_bytes().to_vec();
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len.max(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(if i.is_multiple_of(3) {
            b'a' + (out.len() % 5) as u8
        } else {
            x as u8
        });
    }
    out
}

/// `(start, end)` of every record in a segment, parsed from the fragment headers
/// independently of the crate's reader.
fn record_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let (mut spans, mut pos, mut start) = (Vec::new(), 0, 0);
    while pos < bytes.len() {
        if bytes[pos] == 0 {
            pos += PAGE_SIZE - pos % PAGE_SIZE;
            continue;
        }
        let kind = bytes[pos] & 7;
        let len = usize::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]]));
        if kind == 1 || kind == 2 {
            start = pos;
        }
        pos += 7 + len;
        if kind == 1 || kind == 4 {
            spans.push((start, pos));
        }
    }
    spans
}

/// A WAL of two segments, left as a killed process leaves it (not closed), whose last
/// segment spans several pages and whose last page starts with the end of a record.
struct Fixture {
    recs: Vec<Vec<u8>>,
    seg0: Vec<u8>,
    seg1: Vec<u8>,
    /// Records of segment 1 as (index into `recs`, start, end).
    spans1: Vec<(usize, usize, usize)>,
    last_page: usize,
}

fn opts() -> WalOptions {
    WalOptions {
        segment_size: 4 * PAGE_SIZE,
        compression: true,
    }
}

fn fixture() -> Fixture {
    let dir = scratch();
    let mut w = Wal::open(dir.path(), opts(), WalMetrics::unregistered()).unwrap();
    let mut recs = Vec::new();
    let sizes = [100, 3000, 17, 45_000, 0, 800, 12_000, 260, 7];
    let seg1 = wal::segment_path(dir.path(), 1);
    let seg1_len = || {
        std::fs::metadata(&seg1)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    };
    let log = |w: &mut Wal, recs: &mut Vec<Vec<u8>>, len: usize| {
        let r = record(recs.len() as u64, len);
        w.log(&[&r]).unwrap();
        recs.push(r);
    };
    let mut i = 0;
    // A short segment 0 (replayed thousands of times below), then segment 1.
    while i < sizes.len() {
        log(&mut w, &mut recs, sizes[i]);
        i += 1;
    }
    w.next_segment().unwrap();
    while seg1_len() < 3 * PAGE_SIZE - 8000 {
        log(&mut w, &mut recs, sizes[i % sizes.len()].min(3000));
        i += 1;
    }
    if recs.len() % 3 == 0 {
        log(&mut w, &mut recs, 50); // So that the next record is an incompressible one.
    }
    log(&mut w, &mut recs, 12_000);
    while seg1_len() < 3 * PAGE_SIZE + 10_000 {
        log(&mut w, &mut recs, 100 + (i * 131) % 600);
        i += 1;
    }
    assert_eq!(w.current_segment(), 1);
    drop(w); // Killed: no close, no padding.
    let seg0 = std::fs::read(wal::segment_path(dir.path(), 0)).unwrap();
    let seg1 = std::fs::read(&seg1).unwrap();
    let n0 = record_spans(&seg0).len();
    let spans1: Vec<(usize, usize, usize)> = record_spans(&seg1)
        .into_iter()
        .enumerate()
        .map(|(k, (s, e))| (n0 + k, s, e))
        .collect();
    assert_eq!(n0 + spans1.len(), recs.len());
    let last_page = seg1.len() / PAGE_SIZE * PAGE_SIZE;
    assert!(seg1.len() - last_page >= 10_000);
    assert!(spans1.iter().filter(|&&(_, s, _)| s >= last_page).count() >= 6);
    assert!(
        spans1
            .iter()
            .any(|&(_, s, e)| s < last_page && e > last_page),
        "a record continues into the last page"
    );
    Fixture {
        recs,
        seg0,
        seg1,
        spans1,
        last_page,
    }
}

/// Writes the fixture with segment 1 replaced by `seg1`.
fn materialize(f: &Fixture, seg1: &[u8]) -> tempfile::TempDir {
    let dir = scratch();
    std::fs::write(wal::segment_path(dir.path(), 0), &f.seg0).unwrap();
    std::fs::write(wal::segment_path(dir.path(), 1), seg1).unwrap();
    dir
}

fn replay_all(dir: &Path, m: &WalMetrics) -> (Vec<Vec<u8>>, wal::ReplayStats) {
    let mut got = Vec::new();
    let stats = wal::replay(
        dir,
        None,
        |r| {
            got.push(r.to_vec());
            Ok(())
        },
        m,
        wal::OnDamage::Repair,
    )
    .unwrap();
    (got, stats)
}

/// Reopens the repaired WAL, appends, and checks a second replay sees old + new.
fn append_and_replay(dir: &Path, old: &[Vec<u8>]) {
    let mut w = Wal::open(dir, opts(), WalMetrics::unregistered()).unwrap();
    let new = [b"new-1".to_vec(), record(10_000, 40_000), Vec::new()];
    let refs: Vec<&[u8]> = new.iter().map(Vec::as_slice).collect();
    w.log(&refs).unwrap();
    drop(w);
    let m = WalMetrics::unregistered();
    let (got, stats) = replay_all(dir, &m);
    assert_eq!(stats.corruption, None);
    assert_eq!(got.len(), old.len() + new.len());
    assert!(got[..old.len()] == *old && got[old.len()..] == new);
}

/// Records expected after damage at `at` in segment 1: all of segment 0 and the
/// records of segment 1 that end at or before `at`.
fn expected(f: &Fixture, at: usize) -> Vec<Vec<u8>> {
    let n = f.spans1.iter().filter(|&&(_, _, e)| e <= at).count();
    f.recs[..f.spans1[0].0 + n].to_vec()
}

#[test]
fn wal_torn_tail_at_every_offset_of_the_last_page() {
    let f = fixture();
    let mut corrupted = 0;
    for cut in f.last_page..=f.seg1.len() {
        let dir = materialize(&f, &f.seg1[..cut]);
        let m = WalMetrics::unregistered();
        let (got, stats) = replay_all(dir.path(), &m);
        let want = expected(&f, cut);
        assert!(
            got == want,
            "cut at {cut}: {} records, want {}",
            got.len(),
            want.len()
        );
        let torn = f.spans1.iter().any(|&(_, s, e)| s < cut && cut < e);
        assert_eq!(m.corruptions_total.get(), u64::from(torn), "cut at {cut}");
        assert_eq!(stats.corruption.is_some(), torn, "cut at {cut}");
        if let Some(c) = &stats.corruption {
            assert_eq!(c.segment, 1);
            corrupted += 1;
        }
        append_and_replay(dir.path(), &want);
    }
    let offsets = f.seg1.len() - f.last_page + 1;
    eprintln!("checked {offsets} cut offsets, {corrupted} of them inside a record");
    assert!(corrupted > offsets / 2);
}

#[test]
fn wal_flipped_byte_at_every_offset_of_the_last_page() {
    let f = fixture();
    for at in f.last_page..f.seg1.len() {
        let mut bytes = f.seg1.clone();
        bytes[at] ^= 0xff;
        let dir = materialize(&f, &bytes);
        let m = WalMetrics::unregistered();
        let (got, stats) = replay_all(dir.path(), &m);
        let want = expected(&f, at);
        assert!(
            got == want,
            "flip at {at}: {} records, want {}",
            got.len(),
            want.len()
        );
        assert_eq!(m.corruptions_total.get(), 1, "flip at {at}");
        assert_eq!(stats.corruption.map(|c| c.segment), Some(1));
        // Reopen and append after every 4th repair (all of them are done for cuts).
        if at % 4 == 0 {
            append_and_replay(dir.path(), &want);
        }
    }
    eprintln!("checked {} flipped bytes", f.seg1.len() - f.last_page);
}

#[test]
fn wal_damage_in_an_older_segment_drops_later_segments() {
    let dir = scratch();
    let o = WalOptions {
        segment_size: 2 * PAGE_SIZE,
        compression: false,
    };
    let mut w = Wal::open(dir.path(), o, WalMetrics::unregistered()).unwrap();
    let recs: Vec<Vec<u8>> = (0..40).map(|i| record(i, 5000)).collect();
    for r in &recs {
        w.log(&[r]).unwrap();
    }
    w.close().unwrap();
    assert!(wal::segments(dir.path()).unwrap().len() >= 4);
    // Damage the third record of segment 1 (records never span segments).
    let seg1: PathBuf = wal::segment_path(dir.path(), 1);
    let mut bytes = std::fs::read(&seg1).unwrap();
    let spans = record_spans(&bytes);
    let n0 = record_spans(&std::fs::read(wal::segment_path(dir.path(), 0)).unwrap()).len();
    let (start, end) = spans[2];
    bytes[(start + end) / 2] ^= 0x01;
    std::fs::write(&seg1, &bytes).unwrap();

    let m = WalMetrics::unregistered();
    let (got, stats) = replay_all(dir.path(), &m);
    assert_eq!(got, recs[..n0 + 2].to_vec());
    assert_eq!(m.corruptions_total.get(), 1);
    let c = stats.corruption.unwrap();
    assert_eq!((c.segment, c.offset), (1, spans[1].1 as u64));
    // Prometheus's policy: nothing after the damage is kept, not even later segments.
    assert_eq!(wal::segments(dir.path()).unwrap(), vec![0, 1]);
    append_and_replay(dir.path(), &got);
}
