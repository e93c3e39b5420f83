//! Tests of checkpoint creation, listing and deletion.

use super::*;
use crate::labels::Labels;
use crate::record::{
    Histogram, MetricType, RefExemplar, RefHistogramSample, RefSample, RefSeries, Tombstone,
};
use crate::wal::{OnDamage, replay_with_checkpoint, segments};

/// A decoded record entry, for comparing replays.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Ser(u64, String),
    Smp(u64, i64, u64),
    Hist(u64, i64),
    Tomb(u64, i64, i64),
    Ex(u64, i64),
    Meta(u64, String),
}

fn decode(rec: &[u8], out: &mut Vec<Entry>) -> Result<()> {
    let syms = SymbolTable::new();
    match record::record_type(rec) {
        RecordType::Series => {
            let mut v = Vec::new();
            record::decode_series(rec, &syms, &mut v)?;
            out.extend(
                v.into_iter()
                    .map(|s| Entry::Ser(s.series_ref, s.labels.to_string())),
            );
        }
        RecordType::Samples => {
            let mut v = Vec::new();
            record::decode_samples(rec, &mut v)?;
            out.extend(
                v.into_iter()
                    .map(|s| Entry::Smp(s.series_ref, s.t, s.v.to_bits())),
            );
        }
        RecordType::HistogramSamples => {
            let mut v = Vec::new();
            record::decode_histogram_samples(rec, &mut v)?;
            out.extend(v.into_iter().map(|h| Entry::Hist(h.series_ref, h.t)));
        }
        RecordType::Tombstones => {
            let mut v = Vec::new();
            record::decode_tombstones(rec, &mut v)?;
            out.extend(
                v.into_iter()
                    .map(|t| Entry::Tomb(t.series_ref, t.mint, t.maxt)),
            );
        }
        RecordType::Exemplars => {
            let mut v = Vec::new();
            record::decode_exemplars(rec, &syms, &mut v)?;
            out.extend(v.into_iter().map(|e| Entry::Ex(e.series_ref, e.t)));
        }
        RecordType::Metadata => {
            let mut v = Vec::new();
            record::decode_metadata(rec, &mut v)?;
            out.extend(v.into_iter().map(|m| Entry::Meta(m.series_ref, m.help)));
        }
        t => panic!("unexpected record type {t:?}"),
    }
    Ok(())
}

fn series(r: u64, name: &str) -> RefSeries {
    RefSeries {
        series_ref: r,
        labels: Labels::from_pairs(&[("__name__", name)]),
    }
}

fn meta(r: u64, help: &str) -> RefMetadata {
    RefMetadata {
        series_ref: r,
        metric_type: MetricType::Gauge,
        unit: String::new(),
        help: help.into(),
    }
}

/// Writes one segment per call of `segment`, each holding the given records.
struct Builder {
    wal: Wal,
}

impl Builder {
    fn segment(&mut self, recs: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        self.wal.log(&refs).unwrap();
        self.wal.next_segment().unwrap();
    }
}

fn enc<T>(f: fn(&[T], &mut Vec<u8>), items: &[T]) -> Vec<u8> {
    let mut b = Vec::new();
    f(items, &mut b);
    b
}

fn samples(items: &[(u64, i64)]) -> Vec<u8> {
    let v: Vec<RefSample> = items
        .iter()
        .map(|&(series_ref, t)| RefSample {
            series_ref,
            t,
            v: t as f64,
        })
        .collect();
    enc(record::encode_samples, &v)
}

#[test]
fn checkpoint_keeps_live_series_and_recent_data() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path();
    let opts = WalOptions::default();
    let wal = Wal::open(wal_dir, opts.clone(), WalMetrics::unregistered()).unwrap();
    let mut b = Builder { wal };
    let (a, bb, c) = (1u64, 2u64, 3u64);
    let hist = |series_ref, t| RefHistogramSample {
        series_ref,
        t,
        h: Histogram::default(),
    };
    // Segment 0.
    b.segment(&[
        enc(record::encode_series, &[series(a, "a"), series(bb, "b")]),
        samples(&[(a, 10), (bb, 20), (a, 150)]),
        enc(record::encode_metadata, &[meta(a, "old a"), meta(bb, "b")]),
    ]);
    // Segment 1.
    b.segment(&[
        enc(record::encode_series, &[series(c, "c")]),
        samples(&[(c, 90), (c, 100), (bb, 200)]),
        enc(
            record::encode_tombstones,
            &[
                Tombstone {
                    series_ref: a,
                    mint: 0,
                    maxt: 50,
                },
                Tombstone {
                    series_ref: c,
                    mint: 0,
                    maxt: 120,
                },
                Tombstone {
                    series_ref: bb,
                    mint: 0,
                    maxt: 500,
                },
            ],
        ),
        enc(
            record::encode_histogram_samples,
            &[hist(a, 99), hist(c, 101), hist(bb, 300)],
        ),
    ]);
    // Segment 2.
    let ex = |series_ref, t| RefExemplar {
        series_ref,
        t,
        v: 1.0,
        labels: Labels::empty(),
    };
    b.segment(&[
        enc(record::encode_exemplars, &[ex(a, 5), ex(c, 500)]),
        enc(record::encode_metadata, &[meta(a, "new a")]),
        enc(
            record::encode_mmap_markers,
            &[record::RefMmapMarker {
                series_ref: a,
                mmap_ref: 1,
            }],
        ),
    ]);
    // Segment 3, not folded in.
    b.segment(&[samples(&[(bb, 1), (a, 2)])]);
    b.wal.close().unwrap();
    assert_eq!(segments(wal_dir).unwrap(), vec![0, 1, 2, 3, 4]);

    let keep = |r: u64| r == a || r == c;
    let syms = SymbolTable::new();
    // A stale temporary checkpoint from a crash is replaced.
    std::fs::create_dir_all(wal_dir.join("checkpoint.00000002.tmp/junk")).unwrap();
    let stats = checkpoint(wal_dir, 0, 2, &keep, 100, &syms, &opts).unwrap();
    assert_eq!((stats.total_series, stats.dropped_series), (3, 1));
    assert_eq!((stats.total_samples, stats.dropped_samples), (9, 6));
    assert_eq!((stats.total_tombstones, stats.dropped_tombstones), (3, 2));
    assert_eq!((stats.total_exemplars, stats.dropped_exemplars), (2, 1));
    assert_eq!((stats.total_metadata, stats.dropped_metadata), (3, 2));
    assert!(!wal_dir.join("checkpoint.00000002.tmp").exists());
    let (cp, index) = last_checkpoint(wal_dir).unwrap().unwrap();
    assert_eq!((cp, index), (wal_dir.join("checkpoint.00000002"), 2));

    let mut fresh = Wal::open(wal_dir, opts.clone(), WalMetrics::unregistered()).unwrap();
    fresh.truncate(3).unwrap();
    drop(fresh);
    assert_eq!(segments(wal_dir).unwrap(), vec![3, 4, 5]);

    let mut got = Vec::new();
    let stats = replay_with_checkpoint(
        wal_dir,
        |r| decode(r, &mut got),
        &WalMetrics::unregistered(),
        OnDamage::Repair,
    )
    .unwrap();
    assert_eq!(stats.checkpoint, Some(2));
    assert_eq!(stats.segments, Some((3, 5)));
    use Entry::*;
    let want = vec![
        Ser(a, r#"{__name__="a"}"#.into()),
        Smp(a, 150, 150f64.to_bits()),
        Ser(c, r#"{__name__="c"}"#.into()),
        Smp(c, 100, 100f64.to_bits()),
        Tomb(c, 0, 120),
        Hist(c, 101),
        Ex(c, 500),
        Meta(a, "new a".into()),
        // Segment 3, whole.
        Smp(bb, 1, 1f64.to_bits()),
        Smp(a, 2, 2f64.to_bits()),
    ];
    assert_eq!(got, want);

    // A second checkpoint folds the first one in; the first is then deleted.
    let err = checkpoint(wal_dir, 4, 4, &keep, 100, &syms, &opts).unwrap_err();
    assert!(err.to_string().contains("gap"), "{err}");
    checkpoint(wal_dir, 0, 3, &|r| r == c, 0, &syms, &opts).unwrap();
    delete_checkpoints(wal_dir, 3).unwrap();
    let names: Vec<_> = list_checkpoints(wal_dir)
        .unwrap()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(names, vec![3]);
    let mut got = Vec::new();
    let m = WalMetrics::unregistered();
    replay_with_checkpoint(wal_dir, |r| decode(r, &mut got), &m, OnDamage::Repair).unwrap();
    let want_c: Vec<Entry> = want
        .iter()
        .filter(|e| matches!(e, Ser(r, _) | Smp(r, ..) | Tomb(r, ..) | Hist(r, _) | Ex(r, _) if *r == c))
        .cloned()
        .collect();
    assert_eq!(got, want_c);
    assert_eq!(m.corruptions_total.get(), 0);
}

#[test]
fn corruption_in_the_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_size: crate::wal::PAGE_SIZE,
        compression: false,
    };
    let mut wal = Wal::open(dir.path(), opts.clone(), WalMetrics::unregistered()).unwrap();
    wal.log(&[&samples(&[(1, 1)])]).unwrap();
    wal.next_segment().unwrap();
    wal.close().unwrap();
    let seg = crate::wal::segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&seg, bytes).unwrap();
    let err = checkpoint(dir.path(), 0, 0, &|_| true, 0, &SymbolTable::new(), &opts).unwrap_err();
    assert!(matches!(err, Error::WalCorruption(_)), "{err}");
    assert!(last_checkpoint(dir.path()).unwrap().is_none());
    assert!(!dir.path().join("checkpoint.00000000.tmp").exists());
}

#[test]
fn checkpoint_names_must_be_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checkpoint.00000001"), b"").unwrap();
    assert!(last_checkpoint(dir.path()).is_err());
    assert!(
        last_checkpoint(&dir.path().join("missing"))
            .unwrap()
            .is_none()
    );
}
