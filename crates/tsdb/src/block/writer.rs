//! [`BlockWriter`]: streams series into a new block directory.

use std::path::{Path, PathBuf};

use ulid::Ulid;

use super::meta::{BlockMeta, BlockStats, Compaction, META_VERSION_1};
use super::{ChunkMeta, TMP_FOR_CREATION};
use crate::chunkenc::Encoding;
use crate::chunkenc::xor::xor_num_samples;
use crate::chunks;
use crate::error::{Error, Result};
use crate::fileutil;
use crate::index::{self, SeriesChunk};
use crate::labels::Labels;
use crate::tombstones::Tombstones;

/// Writes one block: series go one at a time, chunks straight to the segment files and
/// series entries straight to the index; only the postings stay in memory.
///
/// Everything is written under `<parent>/<ulid>.tmp-for-creation/`; [`BlockWriter::finish`]
/// fsyncs it and renames it to `<parent>/<ulid>`. Dropping an unfinished writer (or a
/// failed `finish`) removes the temporary directory. After an error from
/// [`BlockWriter::add_series`] nothing of that series was written and the writer may go
/// on with the next series.
#[derive(Debug)]
pub struct BlockWriter {
    ulid: Ulid,
    parent: PathBuf,
    tmp: PathBuf,
    chunks: Option<chunks::Writer>,
    index: Option<index::Writer>,
    stats: BlockStats,
    metas: Vec<SeriesChunk>,
    finished: bool,
}

impl BlockWriter {
    /// Starts block `ulid` in `parent_dir`. `symbols` are every label name and value of
    /// the series to come, sorted and unique.
    pub fn new(
        parent_dir: &Path,
        ulid: Ulid,
        symbols: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<BlockWriter> {
        BlockWriter::with_segment_size(parent_dir, ulid, symbols, chunks::DEFAULT_SEGMENT_SIZE)
    }

    /// [`BlockWriter::new`] cutting chunk segment files at `segment_size` bytes.
    pub fn with_segment_size(
        parent_dir: &Path,
        ulid: Ulid,
        symbols: impl IntoIterator<Item = impl AsRef<str>>,
        segment_size: u64,
    ) -> Result<BlockWriter> {
        let tmp = parent_dir.join(format!("{ulid}{TMP_FOR_CREATION}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut w = BlockWriter {
            ulid,
            parent: parent_dir.to_path_buf(),
            tmp: tmp.clone(),
            chunks: None,
            index: None,
            stats: BlockStats::default(),
            metas: Vec::new(),
            finished: false,
        };
        // From here on a failure drops `w`, which removes the directory.
        w.chunks = Some(chunks::Writer::with_segment_size(
            &tmp.join(chunks::DIR_NAME),
            segment_size,
        )?);
        w.index = Some(index::Writer::new(&tmp.join(index::FILENAME), symbols)?);
        Ok(w)
    }

    /// The temporary directory being written.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// What was written so far.
    pub fn stats(&self) -> &BlockStats {
        &self.stats
    }

    fn refuse(&self, reason: String) -> Error {
        Error::BlockWriter {
            path: self.tmp.clone(),
            reason,
        }
    }

    /// Adds a series. Series come in strictly increasing label order; `chunks` are
    /// time-ordered and do not overlap. A series without chunks is skipped.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta<'_>]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        let refs = self.index()?.check_labels(labels)?;
        self.write_series(refs, chunks)
    }

    /// [`BlockWriter::add_series`] for a series given by its symbol references: for each
    /// label in order, the positions of its name and of its value in the `symbols` this
    /// writer was created with. They are checked as labels are (valid set, increasing
    /// order) without reading a string, which is what writing a large head needs: looking
    /// up every label's strings, scattered through memory, was most of the time.
    pub fn add_series_refs(
        &mut self,
        refs: Vec<(u32, u32)>,
        chunks: &[ChunkMeta<'_>],
    ) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        self.index()?.check_refs(&refs)?;
        self.write_series(refs, chunks)
    }

    fn index(&self) -> Result<&index::Writer> {
        self.index.as_ref().ok_or(Error::Closed)
    }

    /// Writes the chunks and the index entry of a series whose labels were checked
    /// (`refs`); refused before anything is written if the chunks are not valid.
    fn write_series(&mut self, refs: Vec<(u32, u32)>, chunks: &[ChunkMeta<'_>]) -> Result<()> {
        let order = crate::index::chunk_order_error(chunks.iter().map(|c| (c.min_t, c.max_t)));
        let short = chunks.iter().enumerate().find(|(_, c)| c.data.len() < 2);
        let problem = order.or_else(|| {
            short.map(|(i, c)| {
                format!(
                    "chunk {i} has {} bytes, too few for an XOR chunk",
                    c.data.len()
                )
            })
        });
        if let Some(problem) = problem {
            let series = self.index()?.labels_of(&refs);
            return Err(self.refuse(format!("series {series}: {problem}")));
        }
        let (Some(iw), Some(cw)) = (self.index.as_mut(), self.chunks.as_mut()) else {
            return Err(Error::Closed);
        };
        self.metas.clear();
        let mut samples = 0u64;
        for c in chunks {
            let chunk_ref = cw.write_chunk(Encoding::Xor as u8, c.data)?;
            self.metas.push(SeriesChunk {
                min_t: c.min_t,
                max_t: c.max_t,
                chunk_ref,
            });
            samples += xor_num_samples(c.data) as u64;
        }
        iw.write_series(refs, &self.metas)?;
        self.stats.num_series += 1;
        self.stats.num_chunks += chunks.len() as u64;
        self.stats.num_samples += samples;
        Ok(())
    }

    /// Writes the postings, the TOC, an empty tombstones file and `meta.json`, fsyncs the
    /// files and the directory, renames it to `<parent>/<ulid>` and fsyncs the parent.
    /// `[min_time, max_time)` is the block's time range.
    pub fn finish(
        mut self,
        min_time: i64,
        max_time: i64,
        compaction: Compaction,
    ) -> Result<BlockMeta> {
        if min_time > max_time {
            return Err(self.refuse(format!(
                "block range [{min_time}, {max_time}) ends before it starts"
            )));
        }
        let (Some(iw), Some(cw)) = (self.index.take(), self.chunks.take()) else {
            return Err(Error::Closed);
        };
        cw.finish()?;
        iw.finish()?;
        Tombstones::new().write(&self.tmp)?;
        let mut meta = BlockMeta {
            ulid: self.ulid,
            min_time,
            max_time,
            stats: self.stats.clone(),
            compaction,
            version: META_VERSION_1,
        };
        meta.write(&self.tmp)?;
        fileutil::fsync_dir(&self.tmp)?;
        let dest = self.parent.join(self.ulid.to_string());
        if dest.exists() {
            return Err(self.refuse(format!("{} already exists", dest.display())));
        }
        std::fs::rename(&self.tmp, &dest).map_err(|e| Error::io("rename", &self.tmp, e))?;
        self.finished = true;
        fileutil::fsync_dir(&self.parent)?;
        Ok(meta)
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Close the files first, then remove what was written.
        self.index = None;
        self.chunks = None;
        if let Err(e) = std::fs::remove_dir_all(&self.tmp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.tmp.display(), error = %e, "cannot remove an unfinished block");
        }
    }
}
