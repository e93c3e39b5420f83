//! `compactor`: decides what to compact and when, and ships blocks to object storage
//! (issue 5).
//!
//! * [`shipper`]: the crash-safe upload of local blocks to a [`tsdb::bucket::Bucket`]
//!   (`meta.json` last, a local record of what is uploaded), the listing of the bucket's
//!   blocks, and their deletion (a deletion mark first, removal after a delay), in the
//!   bucket layout Thanos uses.
//!
//! Leveled compaction planning over block metadata and time- and size-based retention
//! come next; `tsdb` does the merging itself. Like `tsdb`, this crate is synchronous and
//! free of tokio: object storage reaches it through the `Bucket` trait, which the
//! `objstore` crate implements.

pub mod error;
pub mod shipper;

pub use error::{Error, Result};
