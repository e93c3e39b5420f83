//! [`BucketChunks`]: a [`ChunkSource`] reading a block's chunk segments from the bucket by
//! ranged GET, one aligned page at a time, through the shared [`PageCache`].
//!
//! A chunk read first gets the page holding the record's length prefix, learns the whole
//! record's length from it ([`tsdb::chunks::record_len`]), gets any further pages the
//! record reaches into (missing neighbours in one ranged GET), and then checks the record
//! with the same parser the mmap reader uses ([`tsdb::chunks::parse_record`]): bounds and
//! CRC. A record inside one page is handed out without copying.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tsdb::block::{ChunkSource, Ulid};
use tsdb::bucket::Bucket;
use tsdb::bytes::{SharedBytes, SharedSlice};
use tsdb::chunks::{
    Chunk, MAX_LEN_PREFIX, SEGMENT_HEADER_LEN, check_segment_header, parse_record, record_len,
    split_ref,
};
use tsdb::{Error, Result};

use super::Counters;
use super::cache::{Page, PageCache, PageKey};

/// One segment object: its key (also the path errors name) and size.
#[derive(Debug, Clone)]
pub(crate) struct SegmentObject {
    pub(crate) key: String,
    pub(crate) size: u64,
}

/// The chunks of one bucket block; see the module documentation.
#[derive(Debug)]
pub(crate) struct BucketChunks {
    block: Ulid,
    bucket: Arc<dyn Bucket>,
    /// In segment index order: `segments[i]` is `chunks/{i + 1:06}`.
    segments: Vec<SegmentObject>,
    page_size: u64,
    cache: Arc<PageCache>,
    counters: Arc<Counters>,
}

impl BucketChunks {
    pub(crate) fn new(
        block: Ulid,
        bucket: Arc<dyn Bucket>,
        segments: Vec<SegmentObject>,
        page_size: u64,
        cache: Arc<PageCache>,
        counters: Arc<Counters>,
    ) -> BucketChunks {
        BucketChunks {
            block,
            bucket,
            segments,
            page_size,
            cache,
            counters,
        }
    }

    /// The bytes `range` of segment `index`, from cached pages and ranged GETs: the bytes
    /// and where `range` is in them (no copy when `range` lies in one page).
    fn read(&self, index: u32, range: Range<u64>) -> Result<(SharedBytes, Range<usize>)> {
        let seg = &self.segments[index as usize];
        let (first, last) = (
            range.start / self.page_size,
            (range.end.max(range.start + 1) - 1) / self.page_size,
        );
        let mut pages: Vec<Option<Page>> = (first..=last)
            .map(|page| {
                self.cache.get(&PageKey {
                    block: self.block,
                    segment: index,
                    page,
                })
            })
            .collect();
        // Fetch each run of missing pages with one ranged GET.
        let mut p = 0;
        while p < pages.len() {
            if pages[p].is_some() {
                p += 1;
                continue;
            }
            let run_end = (p..pages.len())
                .find(|&q| pages[q].is_some())
                .unwrap_or(pages.len());
            let (from, to) = (first + p as u64, first + run_end as u64);
            let bytes_range = from * self.page_size..(to * self.page_size).min(seg.size);
            let fetched = self.bucket.get_range(&seg.key, bytes_range.clone())?;
            self.counters.range_gets.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_fetched
                .fetch_add(fetched.len() as u64, Ordering::Relaxed);
            if fetched.len() as u64 != bytes_range.end - bytes_range.start {
                return Err(Error::corruption(
                    &seg.key,
                    bytes_range.start,
                    format!(
                        "ranged read of {bytes_range:?} returned {} bytes",
                        fetched.len()
                    ),
                ));
            }
            if from == 0 {
                check_segment_header(&fetched, Path::new(&seg.key))?;
            }
            for (i, part) in fetched.chunks(self.page_size as usize).enumerate() {
                let page: Page = Arc::new(part.to_vec());
                let key = PageKey {
                    block: self.block,
                    segment: index,
                    page: from + i as u64,
                };
                self.cache.insert(key, Arc::clone(&page));
                pages[p + i] = Some(page);
            }
            p = run_end;
        }
        let base = first * self.page_size;
        let start = (range.start - base) as usize;
        let end = (range.end - base) as usize;
        if let [Some(page)] = pages.as_slice() {
            return Ok((Arc::clone(page) as SharedBytes, start..end));
        }
        let mut joined = Vec::with_capacity(end - start);
        for page in pages.iter().flatten() {
            joined.extend_from_slice(page);
        }
        joined.truncate(end);
        joined.drain(..start);
        let len = joined.len();
        Ok((tsdb::bytes::shared(joined), 0..len))
    }
}

impl ChunkSource for BucketChunks {
    fn chunk(&self, chunk_ref: u64) -> Result<Chunk> {
        let (index, offset) = split_ref(chunk_ref);
        let Some(seg) = self.segments.get(index as usize) else {
            return Err(Error::corruption(
                PathBuf::from(format!("{}/chunks", self.block)),
                chunk_ref,
                format!(
                    "chunk reference {chunk_ref:#x} names segment index {index}, but there are {} segments",
                    self.segments.len()
                ),
            ));
        };
        let offset = u64::from(offset);
        let path = Path::new(&seg.key);
        if offset < SEGMENT_HEADER_LEN as u64 || offset >= seg.size {
            return Err(Error::corruption(
                path,
                offset,
                format!(
                    "chunk offset {offset} is outside the segment's records (object size {})",
                    seg.size
                ),
            ));
        }
        let prefix_end = (offset + MAX_LEN_PREFIX as u64).min(seg.size);
        let (bytes, r) = self.read(index, offset..prefix_end)?;
        let len = record_len(&(*bytes).as_ref()[r], path, offset)?;
        // A record running past the object is cut at its end: parse_record reports it.
        let end = offset.saturating_add(len).min(seg.size);
        let (bytes, r) = self.read(index, offset..end)?;
        let rec = parse_record(&(*bytes).as_ref()[r.clone()], path, offset)?;
        let data = SharedSlice::new(bytes, r.start + rec.data.start..r.start + rec.data.end)
            .expect("parse_record keeps the data inside the bytes it was given");
        Ok(Chunk {
            encoding: rec.encoding,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicUsize;

    use tsdb::bucket::{BucketFailure, ObjectMeta};
    use tsdb::chunks::{Writer, chunk_ref, segment_name};

    use super::*;

    /// An in-memory bucket that counts ranged GETs.
    #[derive(Debug, Default)]
    struct MemBucket {
        objects: parking_lot::Mutex<BTreeMap<String, Vec<u8>>>,
        range_gets: AtomicUsize,
    }

    impl Bucket for MemBucket {
        fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
            self.objects.lock().insert(key.to_string(), data);
            Ok(())
        }
        fn upload(&self, _: &str, _: &Path) -> Result<u64> {
            unimplemented!("not used")
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            Ok(self.objects.lock().get(key).cloned())
        }
        fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
            self.range_gets.fetch_add(1, Ordering::SeqCst);
            let objects = self.objects.lock();
            let o = objects
                .get(key)
                .ok_or_else(|| Error::bucket("get", key, BucketFailure::NotFound, "missing"))?;
            o.get(range.start as usize..range.end as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::bucket("get", key, BucketFailure::InvalidRange, "range"))
        }
        fn head(&self, _: &str) -> Result<Option<ObjectMeta>> {
            unimplemented!("not used")
        }
        fn list(&self, _: &str) -> Result<Vec<ObjectMeta>> {
            unimplemented!("not used")
        }
        fn list_dirs(&self, _: &str) -> Result<Vec<String>> {
            unimplemented!("not used")
        }
        fn delete(&self, _: &str) -> Result<()> {
            unimplemented!("not used")
        }
    }

    const BLOCK: Ulid = Ulid(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

    /// Writes `chunks` into one segment, stores it in a bucket, and returns a reader over
    /// it with `page_size` pages and a cache of `cache_bytes`.
    fn setup(
        chunks: &[Vec<u8>],
        page_size: u64,
        cache_bytes: u64,
    ) -> (Arc<MemBucket>, BucketChunks, Vec<u64>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = Writer::with_segment_size(dir.path(), 1 << 30).expect("writer");
        let refs = chunks
            .iter()
            .map(|c| w.write_chunk(1, c).expect("write"))
            .collect();
        w.finish().expect("finish");
        let seg = std::fs::read(dir.path().join(segment_name(0))).expect("read");
        let bucket = Arc::new(MemBucket::default());
        let key = format!("{BLOCK}/chunks/000001");
        bucket.put(&key, seg.clone()).expect("put");
        let counters = Arc::new(Counters::default());
        let cache = Arc::new(PageCache::new(cache_bytes, Arc::clone(&counters)));
        let reader = BucketChunks::new(
            BLOCK,
            Arc::clone(&bucket) as Arc<dyn Bucket>,
            vec![SegmentObject {
                key,
                size: seg.len() as u64,
            }],
            page_size,
            cache,
            counters,
        );
        (bucket, reader, refs, seg)
    }

    #[test]
    fn chunks_longer_than_a_page_and_across_pages_read_whole_and_cached() {
        let chunks: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![i; 10 + 37 * usize::from(i)])
            .collect();
        let (bucket, reader, refs, _) = setup(&chunks, 64, 1 << 20);
        for (c, &r) in chunks.iter().zip(&refs) {
            let got = reader.chunk(r).expect("chunk");
            assert_eq!(got.encoding, 1);
            assert_eq!(&*got.data, c.as_slice());
        }
        let first_pass = bucket.range_gets.load(Ordering::SeqCst);
        assert!(first_pass > 0);
        for (c, &r) in chunks.iter().zip(&refs).rev() {
            assert_eq!(&*reader.chunk(r).expect("chunk").data, c.as_slice());
        }
        assert_eq!(
            bucket.range_gets.load(Ordering::SeqCst),
            first_pass,
            "a second pass is served by the cache"
        );
    }

    #[test]
    fn damaged_or_wrong_references_are_errors_naming_the_object() {
        let chunks = vec![vec![5u8; 100], vec![6u8; 100]];
        let (bucket, reader, refs, mut seg) = setup(&chunks, 64, 0);
        let key = format!("{BLOCK}/chunks/000001");
        let named = |e: &Error, at: u64| {
            matches!(e, Error::Corruption { path, offset, .. }
                if path == Path::new(&key) && *offset == at)
        };
        // Offsets outside the records, a segment that does not exist.
        let e = reader.chunk(chunk_ref(0, 3)).expect_err("in header");
        assert!(named(&e, 3), "{e}");
        let e = reader.chunk(chunk_ref(0, 10_000)).expect_err("past end");
        assert!(named(&e, 10_000), "{e}");
        let e = reader.chunk(chunk_ref(1, 8)).expect_err("no segment 1");
        assert!(e.to_string().contains(&BLOCK.to_string()), "{e}");
        // A flipped data byte fails the CRC.
        let second = split_ref(refs[1]).1 as usize;
        seg[second + 20] ^= 0xff;
        // A length prefix that runs past the object.
        let first = split_ref(refs[0]).1 as usize;
        seg[first] = 0xff;
        seg[first + 1] = 0x7f;
        bucket.put(&key, seg).expect("put");
        let e = reader.chunk(refs[1]).expect_err("crc");
        assert!(
            named(&e, second as u64) && e.to_string().contains("checksum"),
            "{e}"
        );
        let e = reader.chunk(refs[0]).expect_err("length");
        assert!(
            named(&e, first as u64) && e.to_string().contains("past the end"),
            "{e}"
        );
        // A damaged segment header is found when page 0 is read.
        let mut seg = bucket.get(&key).expect("get").expect("object");
        seg[0] = 0;
        bucket.put(&key, seg).expect("put");
        let e = reader.chunk(refs[0]).expect_err("magic");
        assert!(named(&e, 0) && e.to_string().contains("magic"), "{e}");
    }
}
