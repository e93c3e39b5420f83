//! [`Db`]: a data directory in Prometheus's layout, opened for reading and writing.
//!
//! Opening takes the directory lock, replays `wal/` into a new [`Head`] (repairing a
//! damaged tail) and starts the WAL writer. Blocks (issue 5) will join the head here.

use std::path::{Path, PathBuf};

use prometheus_client::registry::Registry;

use crate::error::{Error, Result};
use crate::fileutil::DirLock;
use crate::head::{Head, HeadAppender};
use crate::options::Options;
use crate::storage::{Appendable, Appender, Querier, Queryable};

/// An open data directory.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    head: Head,
    _lock: DirLock,
}

impl Db {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: &Path, opts: Options, registry: &mut Registry) -> Result<Db> {
        opts.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let lock = DirLock::acquire(dir)?;
        let head = if opts.wal_enabled {
            Head::open(&dir.join("wal"), &opts, registry)?
        } else {
            Head::new(&opts, registry)?
        };
        Ok(Db {
            dir: dir.to_path_buf(),
            head,
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head block.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// A new batch of samples.
    pub fn appender(&self) -> HeadAppender<'_> {
        self.head.appender()
    }

    /// Hides the samples in `[mint, maxt]` of the series matching `matchers` (tombstones,
    /// logged to the WAL first); returns how many series were affected.
    pub fn delete(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[crate::labels::Matcher],
    ) -> Result<usize> {
        self.head.delete(mint, maxt, matchers)
    }

    /// Rewrites data without its tombstoned samples. Only the head exists so far, and the
    /// head keeps its tombstones until it is compacted (see `head::delete`), so this is a
    /// no-op until blocks arrive.
    pub fn clean_tombstones(&self) -> Result<()> {
        self.head.clean_tombstones()
    }

    /// Flushes the WAL and closes the database.
    pub fn close(self) -> Result<()> {
        self.head.close()
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(self.head.appender())
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        self.head.querier_boxed(mint, maxt)
    }
}
