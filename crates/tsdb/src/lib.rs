//! `tsdb`: the storage engine of tsdbd, writing Prometheus's own on-disk formats.
//!
//! Data flows like this:
//!
//! ```text
//! storage::Appender ──commit──► record (encode) ──► wal (group commit, fsync) ──► head (memory)
//!                                                                                  │
//! storage::Querier ◄── head::HeadQuerier ◄── postings (roaring) + series chunks ◄──┘
//! ```
//!
//! * [`labels`]: interned, sorted label sets and matchers.
//! * [`chunkenc`]: XOR chunks (bit-exact with Prometheus) and the chunk-cutting rules.
//! * [`record`] and [`wal`]: WAL records and segments in Prometheus's format.
//! * [`index::postings`]: postings lists as roaring bitmaps.
//! * [`head`]: the in-memory block: series, chunks, postings, appender, WAL replay.
//! * [`block`]: persistent blocks: [`block::BlockWriter`], [`block::Block`] (a
//!   [`storage::Queryable`]), and their files: [`block::meta`] (`meta.json`),
//!   [`index`] (`index` v2), [`chunks`] (segment files), [`tombstones`].
//! * [`storage`]: the traits `promql` and `ingest` use.
//! * [`querier`]: one querier over several (head and blocks), merging their series.
//! * [`db`]: opens a data directory: WAL replay, head, WAL writer.
//! * [`bucket`]: the synchronous object-storage interface blocks are shipped through.

pub mod block;
pub mod bucket;
pub mod bytes;
pub mod chunkenc;
pub mod chunks;
pub mod db;
pub mod encoding;
pub mod error;
pub mod fileutil;
pub mod head;
pub mod index;
pub mod labels;
pub mod metrics;
pub mod options;
pub mod querier;
pub mod record;
pub mod storage;
#[cfg(feature = "test-util")]
pub mod testutil;
pub mod timestamp;
pub mod tombstones;
pub mod units;
pub mod wal;

pub use block::{Block, BlockMeta, BlockWriter};
pub use db::Db;
pub use error::{AppendError, Error, ErrorKind, Result};
pub use head::Head;
pub use options::Options;
