//! Bit-exactness of XOR chunks and of the chunk-cutting rules against Prometheus 3.5.3.
//!
//! Generates OpenMetrics text for varied series, lets the reference `promtool tsdb
//! create-blocks-from openmetrics` write blocks, reads every chunk of every block (index
//! series entries + chunk files, parsed here independently of the crate's readers) and
//! checks that:
//!
//! 1. every chunk decodes to the generated samples and re-encodes to the same bytes;
//! 2. feeding each series' samples of a block through `ChunkCutter` + `XorAppender`, as the
//!    head does, gives the same chunk boundaries and bytes as Prometheus.
//!
//! promtool appends each 2 h block's samples into a fresh head whose chunk range is twice
//! the block duration (`createBlocks` passes `2*blockDuration` to `NewBlockWriter`, which
//! sets `opts.ChunkRange`), so the replay uses a 4 h chunk range; the test also checks that
//! a 2 h range would not match.
//!
//! The reference binary comes from `crate::util::reference_bin_dir` (the install script, or `REFERENCE_PROMETHEUS_BIN`).
//! If neither works the test fails under `CI=true` and is skipped with a note otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsdb::chunkenc::cut::{ChunkCutter, CutOptions, MAX_BYTES_PER_XOR_CHUNK, OpenChunkInfo};
use tsdb::chunkenc::xor::xor_num_samples;
use tsdb::chunkenc::{SampleIterator, ValueType, XorAppender, XorIterator};
use tsdb::encoding::{Decbuf, crc32c};

/// Prometheus's `DefaultBlockDuration`.
const BLOCK: i64 = 2 * 3600 * 1000;
/// The bits Go's `strconv.ParseFloat("NaN")` returns (`math.NaN()`).
const GO_NAN: u64 = 0x7ff8_0000_0000_0001;

/// One series of the generated input: labels in OpenMetrics syntax and (ms, value) samples.
struct InputSeries {
    name: &'static str,
    labels: String,
    samples: Vec<(i64, f64)>,
}

/// A chunk read from a block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BlockChunk {
    min_t: i64,
    max_t: i64,
    bytes: Vec<u8>,
}

/// A block's series, keyed by their label set rendered as `{a="b",...}`.
type BlockSeries = BTreeMap<String, Vec<BlockChunk>>;

/// Formats a millisecond timestamp as OpenMetrics seconds, and returns the timestamp
/// promtool will actually store: Go's `int64(ParseFloat(s) * 1000)`.
fn om_timestamp(ms: i64) -> (String, i64) {
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    let parsed: f64 = s.parse().expect("a float");
    (s, (parsed * 1000.0) as i64)
}

fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:e}")
    }
}

/// Builds the input series. Timestamps are strictly increasing per series.
fn generate() -> Vec<InputSeries> {
    let mut rng = StdRng::seed_from_u64(0x5eed_c4a1);
    let start = 1_700_000_000_000i64; // Not aligned to 2 h.
    let end = start + 8 * 3600 * 1000;
    let mut out = Vec::new();
    let mut series = |name: &'static str, labels: &str, samples: Vec<(i64, f64)>| {
        out.push(InputSeries {
            name,
            labels: labels.to_string(),
            samples,
        });
    };

    // A 15 s counter with increments of 0..100 (0 repeats the value) and one reset.
    let mut v = 0.0;
    let counter = (0..)
        .map(|i| start + i * 15_000)
        .take_while(|&t| t < end)
        .enumerate()
        .map(|(i, t)| {
            v = if i == 1000 {
                0.0
            } else {
                v + f64::from(rng.random_range(0u32..100))
            };
            (t, v)
        })
        .collect();
    series("counter_15s", r#"job="a""#, counter);

    // Random floats with up to ±500 ms jitter: large samples, so the 1024-byte cap cuts.
    let gauge = (0..)
        .map(|i| start + i * 15_000)
        .take_while(|&t| t < end)
        .map(|t| {
            (
                t + rng.random_range(-500..=500),
                rng.random::<f64>() * 1000.0,
            )
        })
        .collect();
    series("gauge_random", r#"job="b""#, gauge);

    // A 10 s random walk with two decimals and ±5 ms jitter.
    let mut v = 50.0;
    let walk = (0..)
        .map(|i| start + i * 10_000)
        .take_while(|&t| t < end)
        .map(|t| {
            v = ((v + rng.random_range(-1.0..1.0)) * 100.0f64).round() / 100.0;
            (t + rng.random_range(-5..=5), v)
        })
        .collect();
    series("gauge_jitter", r#"job="c",inst="0""#, walk);

    // Mostly repeated values at 30 s.
    let mut v = 7.0;
    let repeated = (0..)
        .map(|i| start + i * 30_000)
        .take_while(|&t| t < end)
        .map(|t| {
            if rng.random_range(0..50) == 0 {
                v += 1.0;
            }
            (t, v)
        })
        .collect();
    series("gauge_jitter", r#"job="c",inst="1""#, repeated);

    // 15 s with gaps of 10 min, 1 h and 3 h (skipping a whole block).
    let mut t = start;
    let mut gappy = Vec::new();
    for (i, gap) in [
        (100, 600_000),
        (300, 3_600_000),
        (400, 3 * 3_600_000),
        (usize::MAX, 0),
    ] {
        while gappy.len() < i && t < end {
            gappy.push((t, gappy.len() as f64));
            t += 15_000;
        }
        t += gap;
    }
    series("gappy", r#"job="e""#, gappy);

    // Special values among ordinary ones, 20 s.
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1e300,
        5e-324,
        f64::MAX,
        -1.5,
    ];
    let special = (0..)
        .map(|i| start + i * 20_000)
        .take_while(|&t| t < end)
        .map(|t| {
            let v = if rng.random_range(0..4) == 0 {
                specials[rng.random_range(0..specials.len())]
            } else {
                f64::from(rng.random_range(0u32..10))
            };
            (t, v)
        })
        .collect();
    series("special", r#"job="f""#, special);

    // 60 s for 40 samples, then 1 s (the 2 × 120 rule), then 60 s again.
    let mut t = start;
    let mut rate = Vec::new();
    for (n, step) in [(40, 60_000), (1500, 1_000), (100, 60_000)] {
        for _ in 0..n {
            rate.push((t, rate.len() as f64));
            t += step;
        }
    }
    series("rate_change", r#"job="g""#, rate);

    // 1 s for one hour, in the middle of the data.
    let fast = (0..3600)
        .map(|i| (start + 3 * 3_600_000 + i * 1000, (i % 17) as f64))
        .collect();
    series("fast_1s", r#"job="h""#, fast);

    // 5 min: fewer than 30 samples per block, so no end-time prediction.
    let sparse = (0..)
        .map(|i| start + i * 300_000)
        .take_while(|&t| t < end)
        .map(|t| (t, 1.0))
        .collect();
    series("sparse", r#"job="i""#, sparse);

    // Large timestamp jumps that need the 64-bit delta-of-delta bucket inside one block.
    let jumps = [
        0, 1, 2, 700_000, 700_001, 1_400_000, 1_400_002, 5_000_000, 5_000_001, 5_000_002,
    ]
    .into_iter()
    .map(|d| (start + d, d as f64))
    .collect();
    series("jumps", r#"job="j""#, jumps);

    out
}

/// Writes the OpenMetrics file and returns the samples promtool will store per series.
fn write_openmetrics(series: &[InputSeries], path: &Path) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut text = String::new();
    let mut expected = BTreeMap::new();
    let mut last_family = "";
    for s in series {
        if s.name != last_family {
            writeln!(text, "# TYPE {} gauge", s.name).expect("write to string");
            last_family = s.name;
        }
        let mut want = Vec::new();
        for &(ms, v) in &s.samples {
            let (ts, stored) = om_timestamp(ms);
            writeln!(text, "{}{{{}}} {} {}", s.name, s.labels, om_value(v), ts)
                .expect("write to string");
            want.push((stored, if v.is_nan() { GO_NAN } else { v.to_bits() }));
        }
        expected.insert(series_key(s.name, &s.labels), want);
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).expect("write openmetrics file");
    expected
}

/// `{__name__="n",a="b",...}` with labels sorted by name.
fn series_key(name: &str, labels: &str) -> String {
    let mut pairs: Vec<(String, String)> = vec![("__name__".into(), name.into())];
    for kv in labels.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').expect("label pair");
        pairs.push((k.into(), v.trim_matches('"').into()));
    }
    pairs.sort();
    render_labels(&pairs)
}

fn render_labels(pairs: &[(String, String)]) -> String {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", body.join(","))
}

/// Reads a block: every series of the index and the bytes of each of its chunks.
fn read_block(dir: &Path) -> BlockSeries {
    let index = std::fs::read(dir.join("index")).expect("read index");
    assert_eq!(
        index[..5],
        [0xba, 0xaa, 0xd7, 0x00, 2],
        "index magic and version"
    );
    let toc_at = index.len() - 52;
    let mut d = Decbuf::new(&index[toc_at..]);
    let toc: Vec<usize> = (0..6).map(|_| d.be64() as usize).collect();
    assert_eq!(d.be32(), crc32c(&index[toc_at..toc_at + 48]), "TOC CRC");
    let symbols = read_symbols(&index, toc[0]);

    // Chunk files, indexed by their 0-based position in sorted order.
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("chunks"))
        .expect("list chunks")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    let files: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read chunk file"))
        .collect();
    for f in &files {
        assert_eq!(
            f[..8],
            [0x85, 0xbd, 0x40, 0xdd, 1, 0, 0, 0],
            "chunk file header"
        );
    }

    // Series entries: 16-byte aligned `len uvarint | body | CRC32C`, up to the next section.
    let end = toc[2..6]
        .iter()
        .copied()
        .filter(|&o| o > toc[1])
        .min()
        .unwrap_or(toc_at);
    let mut out = BlockSeries::new();
    let mut refs = BTreeSet::new();
    let mut off = toc[1];
    loop {
        off = off.next_multiple_of(16);
        if off >= end {
            break;
        }
        let mut d = Decbuf::new(&index[off..end]);
        let len = d.uvarint() as usize;
        let body_at = off + (end - off - d.len());
        let body = &index[body_at..body_at + len];
        let crc = u32::from_be_bytes(
            index[body_at + len..body_at + len + 4]
                .try_into()
                .expect("4 bytes"),
        );
        assert_eq!(crc, crc32c(body), "series CRC at {off}");
        off = body_at + len + 4;

        let mut d = Decbuf::new(body);
        let nlabels = d.uvarint();
        let labels: Vec<(String, String)> = (0..nlabels)
            .map(|_| {
                (
                    symbols[d.uvarint() as usize].clone(),
                    symbols[d.uvarint() as usize].clone(),
                )
            })
            .collect();
        let nchunks = d.uvarint();
        let mut chunks = Vec::new();
        let (mut prev_max, mut prev_ref) = (0i64, 0i64);
        for i in 0..nchunks {
            let (min_t, max_t, chunk_ref) = if i == 0 {
                let min_t = d.varint();
                let max_t = min_t + d.uvarint() as i64;
                (min_t, max_t, d.uvarint() as i64)
            } else {
                let min_t = prev_max + d.uvarint() as i64;
                let max_t = min_t + d.uvarint() as i64;
                (min_t, max_t, prev_ref + d.varint())
            };
            (prev_max, prev_ref) = (max_t, chunk_ref);
            refs.insert(chunk_ref as u64);
            let bytes = read_chunk(&files, chunk_ref as u64);
            chunks.push(BlockChunk {
                min_t,
                max_t,
                bytes,
            });
        }
        assert!(
            d.err().is_none() && d.is_empty(),
            "series entry at {off} fully decoded"
        );
        out.insert(render_labels(&labels), chunks);
    }

    // Every chunk record in the files belongs to some series.
    let mut walked = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        let mut at = 8;
        while at < f.len() {
            walked.insert(((i as u64) << 32) | at as u64);
            let mut d = Decbuf::new(&f[at..]);
            let len = d.uvarint() as usize;
            at = f.len() - d.len() + 1 + len + 4;
        }
    }
    assert_eq!(
        walked, refs,
        "chunk records in the files vs chunk refs in the index"
    );
    out
}

fn read_symbols(index: &[u8], at: usize) -> Vec<String> {
    let mut d = Decbuf::new(&index[at..]);
    let len = d.be32() as usize;
    let content = &index[at + 4..at + 4 + len];
    let crc = u32::from_be_bytes(
        index[at + 4 + len..at + 8 + len]
            .try_into()
            .expect("4 bytes"),
    );
    assert_eq!(crc, crc32c(content), "symbol table CRC");
    let mut d = Decbuf::new(content);
    let n = d.be32();
    let symbols: Vec<String> = (0..n).map(|_| d.uvarint_str().to_string()).collect();
    assert!(d.err().is_none(), "symbols decode");
    symbols
}

/// The data of the chunk record at `chunk_ref`, checking its encoding (XOR) and CRC.
fn read_chunk(files: &[Vec<u8>], chunk_ref: u64) -> Vec<u8> {
    let f = &files[(chunk_ref >> 32) as usize];
    let at = (chunk_ref & 0xffff_ffff) as usize;
    let mut d = Decbuf::new(&f[at..]);
    let len = d.uvarint() as usize;
    let enc_at = f.len() - d.len();
    let record = &f[enc_at..enc_at + 1 + len];
    assert_eq!(record[0], 1, "XOR encoding byte at {chunk_ref}");
    let crc = u32::from_be_bytes(
        f[enc_at + 1 + len..enc_at + 5 + len]
            .try_into()
            .expect("4 bytes"),
    );
    assert_eq!(crc, crc32c(record), "chunk CRC at {chunk_ref}");
    record[1..].to_vec()
}

fn decode_chunk(b: &[u8]) -> Vec<(i64, f64)> {
    let mut it = XorIterator::new(b);
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at());
    }
    assert!(it.err().is_none(), "decode error: {:?}", it.err());
    out
}

/// Appends `samples` the way the head does: ask the cutter before every sample, seal the
/// open chunk when told to.
fn cut_like_head(samples: &[(i64, f64)], opts: &CutOptions) -> Vec<BlockChunk> {
    let mut cutter = ChunkCutter::default();
    let mut sealed = Vec::new();
    let mut open: Option<(XorAppender, i64, i64)> = None;
    for &(t, v) in samples {
        let info = open.as_ref().map(|(app, min_t, max_t)| OpenChunkInfo {
            min_t: *min_t,
            max_t: *max_t,
            num_samples: app.num_samples(),
            bytes_len: app.bytes().len(),
        });
        if cutter.cut_before(info.as_ref(), t, opts) {
            if let Some((app, min_t, max_t)) = open.take() {
                sealed.push(BlockChunk {
                    min_t,
                    max_t,
                    bytes: app.into_bytes(),
                });
            }
            open = Some((XorAppender::new(), t, t));
        }
        let (app, _, max_t) = open.as_mut().expect("a chunk is open after cut_before");
        app.append(t, v);
        *max_t = t;
    }
    if let Some((app, min_t, max_t)) = open {
        sealed.push(BlockChunk {
            min_t,
            max_t,
            bytes: app.into_bytes(),
        });
    }
    sealed
}

#[test]
fn chunks_and_cutting_match_prometheus() {
    let Some(bin) = crate::util::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let input = tmp.path().join("input.om");
    let out_dir = tmp.path().join("blocks");
    let series = generate();
    let expected = write_openmetrics(&series, &input);

    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &out_dir);

    let mut block_dirs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .expect("list blocks")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    block_dirs.sort();
    let mut blocks: Vec<(i64, BlockSeries)> = block_dirs
        .iter()
        .map(|dir| {
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.join("meta.json")).expect("read meta.json"),
            )
            .expect("parse meta.json");
            (meta["minTime"].as_i64().expect("minTime"), read_block(dir))
        })
        .collect();
    blocks.sort_by_key(|b| b.0);
    assert!(
        blocks.len() >= 4,
        "expected several 2 h blocks, got {}",
        blocks.len()
    );

    // (1) Every chunk decodes to the input and re-encodes to the same bytes.
    let (mut chunks, mut samples) = (0usize, 0usize);
    let mut decoded: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for (block_min, block) in &blocks {
        for (key, series_chunks) in block {
            for c in series_chunks {
                let got = decode_chunk(&c.bytes);
                assert_eq!(
                    got.first().map(|s| s.0),
                    Some(c.min_t),
                    "{key} chunk min time"
                );
                assert_eq!(
                    got.last().map(|s| s.0),
                    Some(c.max_t),
                    "{key} chunk max time"
                );
                assert!(
                    c.min_t >= *block_min && c.max_t - block_min < BLOCK,
                    "{key} chunk inside its 2 h block"
                );
                let mut app = XorAppender::new();
                for &(t, v) in &got {
                    app.append(t, v);
                }
                assert_eq!(
                    app.bytes(),
                    c.bytes.as_slice(),
                    "{key}: re-encoded chunk {}..{}",
                    c.min_t,
                    c.max_t
                );
                chunks += 1;
                samples += got.len();
                decoded
                    .entry(key.clone())
                    .or_default()
                    .extend(got.iter().map(|&(t, v)| (t, v.to_bits())));
            }
        }
    }
    assert_eq!(decoded, expected, "decoded samples vs generated input");

    // (2) Replaying each block's samples through the cutter gives Prometheus's chunks.
    let opts = CutOptions {
        chunk_range: 2 * BLOCK,
        ..CutOptions::default()
    };
    let two_hours = CutOptions {
        chunk_range: BLOCK,
        ..CutOptions::default()
    };
    let (mut replayed, mut differ_with_2h, mut byte_capped, mut twice_target) = (0, 0, 0, 0);
    for (_, block) in &blocks {
        for (key, want) in block {
            let input: Vec<(i64, f64)> = want.iter().flat_map(|c| decode_chunk(&c.bytes)).collect();
            let got = cut_like_head(&input, &opts);
            let bounds =
                |cs: &[BlockChunk]| cs.iter().map(|c| (c.min_t, c.max_t)).collect::<Vec<_>>();
            assert_eq!(bounds(&got), bounds(want), "{key}: chunk boundaries");
            assert_eq!(got, *want, "{key}: chunk bytes");
            replayed += got.len();
            // Chunks that only the 1024-byte cap (longer than 1024 - 19 bytes) or the
            // 2 × 120 samples rule can have ended.
            byte_capped += want
                .iter()
                .filter(|c| c.bytes.len() > MAX_BYTES_PER_XOR_CHUNK - 19)
                .count();
            twice_target += want
                .iter()
                .filter(|c| xor_num_samples(&c.bytes) == 240)
                .count();
            if cut_like_head(&input, &two_hours) != *want {
                differ_with_2h += 1;
            }
        }
    }
    eprintln!(
        "chunk_compat: {} blocks, {chunks} chunks / {samples} samples re-encoded bit-exactly; \
         {replayed} chunks reproduced by the cutter ({byte_capped} cut by the 1024-byte cap, \
         {twice_target} by the 240-sample rule); \
         {differ_with_2h} series-blocks would differ with a 2 h chunk range",
        blocks.len()
    );
    assert!(
        byte_capped > 0,
        "the data should exercise the 1024-byte cap"
    );
    assert!(
        twice_target > 0,
        "the data should exercise the 2 × samples rule"
    );
    assert!(
        differ_with_2h > 0,
        "the data should tell a 4 h chunk range from a 2 h one"
    );
}
