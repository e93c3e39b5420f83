//! `compactor`: decides what to compact and which blocks to delete, and ships blocks to
//! object storage (issue 5); `tsdb` does the merging itself.
//!
//! * [`plan`]: leveled compaction planning with Prometheus 3.5's rules: overlapping
//!   blocks first (vertical compaction), then blocks filling a window of the
//!   exponential ranges (2 h, 6 h, 18 h, ...), then a block with many tombstones.
//! * [`retention`]: time- and size-based retention relative to the newest block.
//! * [`shipper`]: the crash-safe upload of local blocks to a [`tsdb::bucket::Bucket`]
//!   (`meta.json` last, a local record of what is uploaded), the listing of the bucket's
//!   blocks, and their deletion (a deletion mark first, removal after a delay), in the
//!   bucket layout Thanos uses. Like `tsdb`, this crate is synchronous and free of tokio:
//!   object storage reaches it through the `Bucket` trait (see the `objstore` crate).
//! * [`Options`]: block durations and retention, deriving the maximum block duration and
//!   the compaction ranges as Prometheus does.
//! * [`bucket_blocks`]: [`BucketBlocks`] serves blocks that live only in the bucket as
//!   read-only [`tsdb::Block`]s: the index downloaded once into a cache directory and
//!   mmapped, chunks by ranged GET through a bounded page cache shared by all of them.
//!
//! Planning and retention are pure functions over [`BlockInfo`], a block's metadata and
//! size: the caller reads the data directory, compacts what [`Planner::plan`] returns,
//! reloads, deletes what [`retention::blocks_to_delete`] returns, and plans again.
//!
//! ```
//! use compactor::{BlockInfo, Options, Planner, Reason, retention};
//!
//! const H: i64 = 60 * 60 * 1000;
//! let blocks: Vec<BlockInfo> = (0..4)
//!     .map(|i| BlockInfo::new(format!("b{i}"), i * 2 * H, (i + 1) * 2 * H))
//!     .collect();
//! let planner = Planner::new(&Options::default()).expect("valid options");
//! // Three 2 h blocks fill the 6 h window [0, 6h); the fourth, newest block waits.
//! let c = planner.plan(&blocks).expect("a compaction");
//! assert_eq!(c.blocks, ["b0", "b1", "b2"]);
//! assert_eq!(c.reason, Reason::Level { range: 6 * H });
//!
//! let opts = Options { retention_time: 4 * H, ..Options::default() };
//! // The newest block ends at 8h: blocks ending at 4h or earlier are past retention.
//! assert_eq!(retention::blocks_to_delete(&blocks, &opts, 0).all(), ["b0", "b1"]);
//! ```

mod block_info;
pub mod bucket_blocks;
pub mod error;
pub mod options;
pub mod plan;
pub mod retention;
pub mod runner;
pub mod shipper;

pub use block_info::BlockInfo;
pub use bucket_blocks::{BucketBlocks, BucketBlocksOptions};
pub use error::{Error, Result};
pub use options::Options;
pub use plan::{Compaction, Planner, Reason};
pub use runner::{CycleReport, Runner, RunnerHandle, RunnerOptions};
