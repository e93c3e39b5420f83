//! Reading chunk segment files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Chunk, SEGMENT_HEADER_LEN, check_segment_header, chunk_ref, parse_record, split_ref};
use crate::bytes::{SharedBytes, SharedSlice};
use crate::error::{Error, Result};
use crate::fileutil::mmap::Mmap;

/// One segment: its path (what errors name) and bytes.
#[derive(Clone)]
struct Segment {
    path: PathBuf,
    bytes: SharedBytes,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes)",
            self.path.display(),
            (*self.bytes).as_ref().len()
        )
    }
}

/// Reads chunks by reference from a block's segment files.
#[derive(Debug, Clone)]
pub struct Reader {
    dir: PathBuf,
    segments: Vec<Segment>,
}

impl Reader {
    /// Maps every segment file of `dir` (names that are decimal numbers, in numeric order)
    /// and checks each header.
    pub fn open(dir: &Path) -> Result<Reader> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
        let mut numbered = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io("read dir", dir, e))?;
            let name = e.file_name();
            let Some(n) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            numbered.push((n, e.path()));
        }
        numbered.sort();
        let mut segments = Vec::with_capacity(numbered.len());
        for (_, path) in numbered {
            let bytes: SharedBytes = Arc::new(Mmap::open(&path)?);
            segments.push((path, bytes));
        }
        Reader::from_segments(dir, segments)
    }

    /// A reader over segments already in memory (from a bucket, or a fuzzer), in index
    /// order; `dir` and the paths are what errors name.
    pub fn from_segments(dir: &Path, segments: Vec<(PathBuf, SharedBytes)>) -> Result<Reader> {
        let segments = segments
            .into_iter()
            .map(|(path, bytes)| {
                check_segment_header((*bytes).as_ref(), &path)?;
                Ok(Segment { path, bytes })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Reader {
            dir: dir.to_path_buf(),
            segments,
        })
    }

    /// The number of segment files.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// The total size of the segment files in bytes.
    pub fn size(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| (*s.bytes).as_ref().len() as u64)
            .sum()
    }

    /// The chunk at reference `r`, after checking bounds and its CRC.
    pub fn chunk(&self, r: u64) -> Result<Chunk> {
        let (index, offset) = split_ref(r);
        let Some(seg) = self.segments.get(index as usize) else {
            return Err(Error::corruption(
                &self.dir,
                r,
                format!(
                    "chunk reference {r:#x} names segment index {index}, but there are {} segments",
                    self.segments.len()
                ),
            ));
        };
        let (chunk, _) = read_record(seg, offset as usize)?;
        Ok(chunk)
    }

    /// Every chunk of segment `index` in file order with its reference, for verification
    /// and tools. Stops at the first damaged record (which is returned as the error) or at
    /// trailing zero bytes.
    pub fn segment_chunks(&self, index: usize) -> impl Iterator<Item = Result<(u64, Chunk)>> + '_ {
        let seg = self.segments.get(index);
        let mut at = SEGMENT_HEADER_LEN;
        let mut done = seg.is_none();
        std::iter::from_fn(move || {
            let seg = seg?;
            let b = (*seg.bytes).as_ref();
            if done || at >= b.len() || b[at..].iter().all(|&x| x == 0) {
                return None;
            }
            let Ok(offset) = u32::try_from(at) else {
                done = true;
                return Some(Err(Error::corruption(
                    &seg.path,
                    at as u64,
                    "segment larger than 4 GiB",
                )));
            };
            match read_record(seg, at) {
                Ok((chunk, next)) => {
                    at = next;
                    Some(Ok((chunk_ref(index as u32, offset), chunk)))
                }
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        })
    }
}

/// Reads the record at `offset`: the chunk and the offset after the record.
fn read_record(seg: &Segment, offset: usize) -> Result<(Chunk, usize)> {
    let b = (*seg.bytes).as_ref();
    if offset < SEGMENT_HEADER_LEN || offset >= b.len() {
        return Err(Error::corruption(
            &seg.path,
            offset as u64,
            format!(
                "chunk offset {offset} is outside the segment's records (file size {})",
                b.len()
            ),
        ));
    }
    let rec = parse_record(&b[offset..], &seg.path, offset as u64)?;
    let data = SharedSlice::new(
        Arc::clone(&seg.bytes),
        offset + rec.data.start..offset + rec.data.end,
    )
    .expect("parse_record keeps the data inside the bytes it was given");
    Ok((
        Chunk {
            encoding: rec.encoding,
            data,
        },
        offset + rec.len,
    ))
}
