//! Tests of the XOR chunk: hand-checked bytes, edge cases, and property tests.

use super::*;
use crate::chunkenc::bstream::BitWriter;
use proptest::prelude::*;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;

fn encode(samples: &[(i64, u64)]) -> XorAppender {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, f64::from_bits(v));
    }
    app
}

/// Decodes every sample as (t, value bits), with the error if iteration failed.
fn decode(b: &[u8]) -> (Vec<(i64, u64)>, Option<String>) {
    let mut it = XorIterator::new(b);
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        assert_eq!(t, it.at_t());
        out.push((t, v.to_bits()));
    }
    (out, it.err().map(|e| e.to_string()))
}

/// Bits of payload written by an appender.
fn payload_bits(app: &XorAppender) -> usize {
    (app.bytes().len() - HEADER_LEN) * 8 - usize::from(app.count)
}

#[test]
fn empty_chunk() {
    let app = XorAppender::new();
    assert_eq!(app.bytes(), [0, 0]);
    assert_eq!(app.num_samples(), 0);
    assert_eq!(xor_num_samples(app.bytes()), 0);
    assert_eq!(decode(app.bytes()), (vec![], None));
    let mut it = XorIterator::new(app.into_bytes());
    assert_eq!(it.seek(i64::MIN), ValueType::None);
    assert!(it.err().is_none());
}

#[test]
fn golden_bytes() {
    // Worked by hand from the format: t0 = 1000 is zig-zag 2000 = uvarint d0 0f; 1.0 is
    // 3ff0…; Δ = 1000 is e8 07; an equal value is one 0 bit; then dod 0 (`0`) and 2.0,
    // whose XOR with 1.0 is 0x7ff0… (lz 1, tz 52, 11 bits): `11 00001 001011 11111111111`.
    let app = encode(&[
        (1000, 1f64.to_bits()),
        (2000, 1f64.to_bits()),
        (3000, 2f64.to_bits()),
    ]);
    assert_eq!(
        app.bytes(),
        [
            0, 3, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, 0x30, 0x97, 0xff, 0xc0
        ]
    );
    assert_eq!(xor_num_samples(app.bytes()), 3);
}

#[test]
fn first_sample_timestamps_at_the_extremes() {
    for t in [
        0,
        -1,
        1,
        -1_700_000_000_000,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ] {
        let samples = [
            (t, 42f64.to_bits()),
            (t.wrapping_add(15_000), 43f64.to_bits()),
        ];
        let app = encode(&samples);
        assert_eq!(decode(app.bytes()), (samples.to_vec(), None), "t0 = {t}");
    }
    // -1 is the one-byte varint 0x01.
    assert_eq!(encode(&[(-1, 0)]).bytes()[2], 0x01);
}

#[test]
fn wrapping_timestamp_deltas() {
    let samples = [
        (i64::MAX, 1),
        (i64::MIN, 2),
        (i64::MAX, 3),
        (0, 4),
        (i64::MIN, 5),
        (-7, 6),
    ];
    let app = encode(&samples);
    assert_eq!(decode(app.bytes()), (samples.to_vec(), None));
}

#[test]
fn dod_bucket_boundaries() {
    // (dod, bits the timestamp takes): the buckets are asymmetric, +2^(w-1) fits, -2^(w-1) does not.
    let cases: [(i64, usize); 14] = [
        (0, 1),
        (1, 16),
        (-1, 16),
        (8192, 16),
        (-8191, 16),
        (-8192, 20),
        (8193, 20),
        (65536, 20),
        (-65535, 20),
        (-65536, 24),
        (65537, 24),
        (524_288, 24),
        (-524_287, 24),
        (-524_288, 68),
    ];
    for (dod, bits) in cases
        .into_iter()
        .chain([(524_289, 68), (i64::MAX, 68), (i64::MIN, 68)])
    {
        let t2 = 2_000i64.wrapping_add(dod);
        let samples = [(0, 7), (1000, 7), (t2, 7)];
        let two = encode(&samples[..2]);
        let three = encode(&samples);
        // The equal value costs one more bit.
        assert_eq!(
            payload_bits(&three) - payload_bits(&two),
            bits + 1,
            "dod {dod}"
        );
        assert_eq!(decode(three.bytes()), (samples.to_vec(), None), "dod {dod}");
    }
}

#[test]
fn sixty_four_significant_bits_are_written_as_zero() {
    // XOR = 0x8000_0000_0000_0001: no leading or trailing zeros.
    let samples = [(0, 0), (1, 0x8000_0000_0000_0001)];
    let app = encode(&samples);
    let mut r = BitReader::new(&app.bytes()[HEADER_LEN..]);
    r.read_bits(8).expect("t0");
    r.read_bits(64).expect("v0");
    r.read_bits(8).expect("Δ");
    assert_eq!(r.read_bits(2), Some(0b11));
    assert_eq!(r.read_bits(5), Some(0), "leading");
    assert_eq!(r.read_bits(6), Some(0), "64 significant bits written as 0");
    assert_eq!(r.read_bits(64), Some(0x8000_0000_0000_0001));
    assert_eq!(decode(app.bytes()), (samples.to_vec(), None));
}

#[test]
fn leading_zeros_are_clamped_to_31() {
    // XOR = 1: 63 leading zeros, stored as 31 with 33 significant bits.
    let samples = [(0, 1f64.to_bits()), (1, 1f64.to_bits() ^ 1)];
    let app = encode(&samples);
    let mut r = BitReader::new(&app.bytes()[HEADER_LEN..]);
    r.read_bits(8).expect("t0");
    r.read_bits(64).expect("v0");
    r.read_bits(8).expect("Δ");
    assert_eq!(r.read_bits(2 + 5 + 6), Some((0b11 << 11) | (31 << 6) | 33));
    assert_eq!(decode(app.bytes()), (samples.to_vec(), None));
}

#[test]
fn window_reuse() {
    // The second XOR fits inside the first one's window: `10` + window bits.
    let a = 1f64.to_bits();
    let samples = [(0, a), (1, a ^ 0xff00), (2, a ^ 0x0f00)];
    let two = encode(&samples[..2]);
    let three = encode(&samples);
    // XOR 0xff00 has 48 leading zeros, clamped to 31: the window is (31, 8).
    let sig = 64 - 31 - 8;
    assert_eq!(payload_bits(&three) - payload_bits(&two), 1 + 2 + sig);
    assert_eq!(decode(three.bytes()), (samples.to_vec(), None));
}

#[test]
fn special_values_keep_their_bits() {
    let values = [
        STALE_NAN,
        NORMAL_NAN,
        STALE_NAN,
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        f64::NAN.to_bits(),
        (-f64::NAN).to_bits(),
        0x7ff0_0000_0000_0001, // signalling NaN
        0,
        (-0.0f64).to_bits(),
        STALE_NAN,
        STALE_NAN,
        f64::MIN_POSITIVE.to_bits(),
        1, // subnormal
        f64::MAX.to_bits(),
    ];
    let samples: Vec<(i64, u64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64 * 15_000, v))
        .collect();
    let app = encode(&samples);
    assert_eq!(decode(app.bytes()), (samples, None));
}

#[test]
fn identical_values_cost_two_bits_per_sample() {
    let samples: Vec<(i64, u64)> = (0..120).map(|i| (i * 15_000, 3.5f64.to_bits())).collect();
    let app = encode(&samples);
    // 8 + 64 bits, then 16 + 1, then 2 bits per sample.
    assert_eq!(payload_bits(&app), 72 + 17 + 118 * 2);
    assert_eq!(decode(app.bytes()), (samples, None));
}

#[test]
fn iterator_stops_at_the_header_count() {
    let samples = [(0, 1), (10, 1), (20, 1)];
    let mut b = encode(&samples).into_bytes();
    // The padding bits after sample 3 look like more dod-0/equal samples.
    b.extend_from_slice(&[0, 0, 0]);
    assert_eq!(decode(&b), (samples.to_vec(), None));
}

#[test]
fn short_and_corrupt_input_is_an_error() {
    for b in [&[][..], &[0][..]] {
        let mut it = XorIterator::new(b);
        assert!(matches!(it.err(), Some(Error::Decode { .. })));
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(it.seek(0), ValueType::None);
    }
    let samples: Vec<(i64, u64)> = (0..50)
        .map(|i| (i * 15_013 + i * i, (i as f64).sqrt().to_bits()))
        .collect();
    let b = encode(&samples).into_bytes();
    for cut in HEADER_LEN..b.len() - 1 {
        let (got, err) = decode(&b[..cut]);
        assert!(err.is_some(), "cut at {cut}");
        assert!(got.len() < samples.len());
        assert_eq!(got[..], samples[..got.len()]);
    }
    // A header claiming more samples than the bytes hold.
    let mut more = b.clone();
    more[..2].copy_from_slice(&500u16.to_be_bytes());
    let (got, err) = decode(&more);
    assert!(err.expect("error").contains("invalid xor chunk"));
    assert!(got.len() >= samples.len());
    // A window whose leading zeros and significant bits exceed 64 bits.
    let mut w = BitWriter::from_parts(vec![0, 2], 0);
    w.write_bits(0, 8);
    w.write_bits(0, 64);
    w.write_bits(0, 8);
    w.write_bits((0b11 << 11) | (31 << 6) | 40, 13);
    w.write_bits(0, 40);
    let (_, err) = decode(w.bytes());
    assert!(err.expect("error").contains("exceeds 64 bits"));
    // A varint that overflows.
    let (_, err) = decode(&[
        0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ]);
    assert!(err.expect("error").contains("overflows"));
}

#[test]
fn seek_moves_forward_only() {
    let samples: Vec<(i64, u64)> = (0..10).map(|i| (i * 10, i as u64)).collect();
    let b = encode(&samples).into_bytes();
    let mut it = XorIterator::new(&b);
    assert_eq!(it.seek(i64::MIN), ValueType::Float);
    assert_eq!(it.at_t(), 0);
    assert_eq!(it.seek(35), ValueType::Float);
    assert_eq!(it.at_t(), 40);
    assert_eq!(it.seek(40), ValueType::Float);
    assert_eq!(it.at_t(), 40);
    assert_eq!(it.seek(0), ValueType::Float);
    assert_eq!(it.at_t(), 40);
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at(), (50, f64::from_bits(5)));
    assert_eq!(it.seek(90), ValueType::Float);
    assert_eq!(it.seek(91), ValueType::None);
    // Exhausted stays exhausted, even for an earlier time.
    assert_eq!(it.seek(0), ValueType::None);
    assert_eq!(it.next(), ValueType::None);
    assert!(it.err().is_none());
}

#[test]
fn reopen_continues_bit_exactly_once_a_window_exists() {
    let samples: Vec<(i64, u64)> = (0..60)
        .map(|i| {
            (
                i * 15_000 + (i % 7) * 3,
                (100.0 + (i as f64) * 0.25).to_bits(),
            )
        })
        .collect();
    let full = encode(&samples);
    for split in 2..samples.len() {
        let mut app =
            XorAppender::from_bytes(encode(&samples[..split]).into_bytes()).expect("valid chunk");
        for &(t, v) in &samples[split..] {
            app.append(t, f64::from_bits(v));
        }
        assert_eq!(app.bytes(), full.bytes(), "split at {split}");
    }
    // Reopening an empty chunk is a fresh appender.
    let app = XorAppender::from_bytes(vec![0, 0, 0xff]).expect("valid chunk");
    assert_eq!(app.bytes(), [0, 0]);
    assert_eq!(app.leading, NO_WINDOW);
}

#[test]
fn reopen_reproduces_prometheus_window_quirk() {
    // One sample, then a changed value: a fresh appender opens a window (13 + 11 bits);
    // a reopened one starts from the reader's (0, 0) window and writes `10` + 64 bits.
    let samples = [(0, 1f64.to_bits()), (15_000, 2f64.to_bits())];
    let fresh = encode(&samples);
    let mut reopened =
        XorAppender::from_bytes(encode(&samples[..1]).into_bytes()).expect("valid chunk");
    reopened.append(15_000, 2.0);
    let base = 72 + 16;
    assert_eq!(payload_bits(&fresh), base + 13 + 11);
    assert_eq!(payload_bits(&reopened), base + 2 + 64);
    assert_eq!(decode(reopened.bytes()), (samples.to_vec(), None));
    // Same with all values equal so far.
    let same = [(0, 5), (1, 5), (2, 5), (3, 6)];
    let mut reopened =
        XorAppender::from_bytes(encode(&same[..3]).into_bytes()).expect("valid chunk");
    reopened.append(3, f64::from_bits(6));
    assert_eq!(
        payload_bits(&reopened),
        payload_bits(&encode(&same[..3])) + 1 + 2 + 64
    );
    assert_eq!(decode(reopened.bytes()), (same.to_vec(), None));
}

#[test]
fn reopen_drops_trailing_garbage_and_rejects_corruption() {
    let samples = [
        (0, 1f64.to_bits()),
        (15_000, 2f64.to_bits()),
        (30_000, 3f64.to_bits()),
    ];
    let clean = encode(&samples);
    let mut dirty = clean.bytes().to_vec();
    let last = dirty.len() - 1;
    dirty[last] |= (1u8 << clean.count) - 1; // Set the padding bits.
    dirty.extend_from_slice(&[0xde, 0xad]);
    let mut a = XorAppender::from_bytes(dirty).expect("valid chunk");
    let mut b = clean.clone();
    assert_eq!(a.bytes(), b.bytes());
    a.append(45_000, 4.0);
    b.append(45_000, 4.0);
    assert_eq!(a.bytes(), b.bytes());

    assert!(XorAppender::from_bytes(vec![]).is_err());
    assert!(XorAppender::from_bytes(vec![0, 9, 1]).is_err());
    // A full chunk cannot take another sample.
    let mut full = XorAppender::new();
    for i in 0..u16::MAX {
        full.append(i64::from(i), 1.0);
    }
    assert!(XorAppender::from_bytes(full.bytes().to_vec()).is_err());
    let mut almost = full.into_bytes();
    almost[..2].copy_from_slice(&(u16::MAX - 1).to_be_bytes());
    assert!(XorAppender::from_bytes(almost).is_ok());
}

#[test]
fn appender_stays_small() {
    assert!(
        std::mem::size_of::<XorAppender>() <= 56,
        "{}",
        std::mem::size_of::<XorAppender>()
    );
}

/// Value generator: raw bits, or a repeat of the previous value (`None`).
fn value_strategy() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        3 => any::<u64>().prop_map(Some),
        2 => Just(None),
        1 => Just(Some(STALE_NAN)),
        1 => Just(Some(NORMAL_NAN)),
        1 => prop_oneof![Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(0.0), Just(-0.0)]
            .prop_map(|v| Some(v.to_bits())),
        // Counters and gauges: few changing bits.
        3 => (0u32..10_000).prop_map(|v| Some(f64::from(v).to_bits())),
        2 => (-1e6f64..1e6).prop_map(|v| Some(v.to_bits())),
    ]
}

/// Timestamps: arbitrary (wrapping), or increasing with small, large or negative jitter.
fn timestamps_strategy(n: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        proptest::collection::vec(any::<i64>(), n),
        (
            any::<i64>(),
            proptest::collection::vec(
                prop_oneof![
                    4 => Just(15_000i64),
                    4 => 14_000i64..16_000,
                    2 => 0i64..600_000,
                    1 => 0i64..(1 << 40),
                    1 => (-(1i64 << 40))..(1 << 40),
                ],
                n,
            )
        )
            .prop_map(|(start, deltas)| {
                let mut t = start;
                deltas
                    .into_iter()
                    .map(|d| {
                        t = t.wrapping_add(d);
                        t
                    })
                    .collect()
            }),
    ]
}

fn samples_strategy() -> impl Strategy<Value = Vec<(i64, u64)>> {
    (0usize..300)
        .prop_flat_map(|n| {
            (
                timestamps_strategy(n),
                proptest::collection::vec(value_strategy(), n),
            )
        })
        .prop_map(|(ts, vs)| {
            let mut prev = 0u64;
            ts.into_iter()
                .zip(vs)
                .map(|(t, v)| {
                    prev = v.unwrap_or(prev);
                    (t, prev)
                })
                .collect()
        })
}

/// Sorted samples with distinct timestamps, for seek tests.
fn sorted_samples_strategy() -> impl Strategy<Value = Vec<(i64, u64)>> {
    (
        -(1i64 << 50)..(1i64 << 50),
        proptest::collection::vec((1i64..100_000, value_strategy()), 0..200),
    )
        .prop_map(|(start, deltas)| {
            let (mut t, mut prev) = (start, 0u64);
            deltas
                .into_iter()
                .map(|(d, v)| {
                    t += d;
                    prev = v.unwrap_or(prev);
                    (t, prev)
                })
                .collect()
        })
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Next,
    Seek(i64),
}

proptest! {
    #[test]
    fn round_trip(samples in samples_strategy(), split in any::<prop::sample::Index>()) {
        let app = encode(&samples);
        prop_assert_eq!(app.num_samples(), samples.len());
        let (got, err) = decode(app.bytes());
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &samples);

        // Reopening at any point and appending the rest decodes the same; the bytes are
        // identical unless the reopen window quirk applies (no window opened yet).
        let split = split.index(samples.len() + 1);
        let head = encode(&samples[..split]);
        let window_opened = head.leading != NO_WINDOW;
        let mut reopened = XorAppender::from_bytes(head.into_bytes()).expect("valid chunk");
        for &(t, v) in &samples[split..] {
            reopened.append(t, f64::from_bits(v));
        }
        if window_opened || split == 0 {
            prop_assert_eq!(reopened.bytes(), app.bytes());
        }
        let (got, err) = decode(reopened.bytes());
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &samples);
    }

    #[test]
    fn a_restarted_appender_encodes_like_a_new_one(
        first in samples_strategy(),
        second in samples_strategy(),
        room in 0usize..400,
    ) {
        // The head starts a series' next chunk in the sealed one's buffer: nothing of the
        // first chunk may leak into the second.
        let mut app = encode(&first);
        app.restart(room);
        let want = room.max(HEADER_LEN + SAMPLE_ROOM);
        prop_assert!((want..=want + want / 8).contains(&app.stream.capacity()));
        prop_assert_eq!(app.num_samples(), 0);
        for &(t, v) in &second {
            app.append(t, f64::from_bits(v));
        }
        let fresh = encode(&second);
        prop_assert_eq!(app.bytes(), fresh.bytes());
    }

    #[test]
    fn buffer_grows_only_by_the_appenders_own_steps(samples in samples_strategy()) {
        // The bit writer never doubles the buffer behind the appender's back: every
        // sample fits in the room reserved for it, whatever its timestamps and values.
        let mut app = XorAppender::new();
        prop_assert_eq!(app.stream.capacity(), FIRST_ROOM);
        for (i, &(t, v)) in samples.iter().enumerate() {
            let (len, cap) = (app.stream.len(), app.stream.capacity());
            app.append(t, f64::from_bits(v));
            if i < 2 {
                prop_assert_eq!(app.stream.capacity(), FIRST_ROOM, "two samples fit a new chunk");
            }
            let want = if cap - len < SAMPLE_ROOM {
                len + (cap / 4).max(SAMPLE_ROOM)
            } else {
                cap
            };
            prop_assert_eq!(app.stream.capacity(), want);
            prop_assert!(app.stream.len() - len <= SAMPLE_ROOM);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300),
                                   seeks in proptest::collection::vec(any::<i64>(), 0..8)) {
        let mut it = XorIterator::new(b.as_slice());
        let mut n = 0;
        while it.next() == ValueType::Float {
            n += 1;
        }
        prop_assert!(n <= xor_num_samples(&b));
        let mut it = XorIterator::new(b.clone());
        for t in seeks {
            let _ = it.seek(t);
            let _ = it.at();
        }
        if let Ok(mut app) = XorAppender::from_bytes(b) {
            app.append(0, 1.0);
        }
    }

    #[test]
    fn corrupted_chunks_never_panic(samples in samples_strategy(),
                                    flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut b = encode(&samples).into_bytes();
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        let (got, _) = decode(&b);
        prop_assert!(got.len() <= xor_num_samples(&b));
    }

    #[test]
    fn seek_matches_a_linear_model(samples in sorted_samples_strategy(),
                                   ops in proptest::collection::vec(
                                       prop_oneof![1 => Just(Op::Next), 2 => any::<i64>().prop_map(Op::Seek),
                                                   4 => (-(1i64 << 50)..(1i64 << 51)).prop_map(Op::Seek)],
                                       0..40)) {
        let b = encode(&samples).into_bytes();
        let mut it = XorIterator::new(&b);
        // Model: index of the current sample (None before the first), and exhaustion.
        let mut pos: Option<usize> = None;
        let mut done = false;
        for op in ops {
            let got = match op {
                Op::Next => {
                    if !done {
                        let p = pos.map_or(0, |p| p + 1);
                        pos = Some(p);
                        done = p >= samples.len();
                    }
                    it.next()
                }
                Op::Seek(t) => {
                    if !done {
                        let mut p = pos.unwrap_or(0);
                        // A positioned iterator stays put if it is already at or after `t`.
                        if pos.is_none() || samples.get(p).is_some_and(|s| s.0 < t) {
                            while p < samples.len() && samples[p].0 < t {
                                p += 1;
                            }
                        }
                        pos = Some(p);
                        done = p >= samples.len();
                    }
                    it.seek(t)
                }
            };
            if done {
                prop_assert_eq!(got, ValueType::None, "{:?}", op);
            } else {
                prop_assert_eq!(got, ValueType::Float, "{:?}", op);
                let p = pos.expect("positioned");
                prop_assert_eq!((it.at().0, it.at().1.to_bits()), samples[p]);
            }
        }
        prop_assert!(it.err().is_none());
    }
}

proptest! {
    /// `read_floats_into` keeps what a `next` loop keeps, stops where it stops, and leaves
    /// the iterator on the sample after its window (so `next` goes on from there).
    #[test]
    fn read_floats_into_matches_next(samples in samples_strategy(),
                                     skipped in 0i64..4,
                                     window in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
                                     flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..2)) {
        let mut b = encode(&samples).into_bytes();
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        let (all, err) = decode(&b);
        let pick = |i: prop::sample::Index| all.get(i.index(all.len() + 1)).map_or(i64::MAX, |s| s.0);
        let (mint, maxt) = (pick(window.0).min(pick(window.1)), pick(window.0).max(pick(window.1)));
        let skip = |t: i64| skipped > 0 && t.rem_euclid(4) < skipped;
        let want: Vec<(i64, u64)> = all
            .iter()
            .copied()
            .take_while(|&(t, _)| t <= maxt)
            .filter(|&(t, _)| t >= mint && !skip(t))
            .collect();
        let mut it = XorIterator::new(b.as_slice());
        let mut got = Vec::new();
        it.read_floats_into(mint, maxt, skip, &mut got);
        let got: Vec<(i64, u64)> = got.into_iter().map(|(t, v)| (t, v.to_bits())).collect();
        prop_assert_eq!(got, want);
        // Past the window, `next` continues with the samples after the first one past it.
        let past = all.iter().position(|&(t, _)| t > maxt);
        let mut rest = Vec::new();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            rest.push((t, v.to_bits()));
        }
        let want_rest = past.map_or(&[][..], |p| &all[p + 1..]);
        prop_assert_eq!(rest, want_rest.to_vec());
        // A decode error is reported unless the window ended before it.
        if past.is_none() {
            prop_assert_eq!(it.err().map(|e| e.to_string()), err);
        }
    }
}
