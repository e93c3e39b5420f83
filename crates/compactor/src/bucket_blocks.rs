//! TEMP-STUB: replaced by the bucket-block reader branch.
#![allow(missing_docs)]
use crate::shipper::BucketListing;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use tsdb::block::{Block, Ulid};
use tsdb::bucket::Bucket;
#[derive(Debug)]
pub struct BucketBlocks;
#[derive(Debug, Default)]
pub struct BucketBlocksOptions;
impl BucketBlocks {
    pub fn new(_: Arc<dyn Bucket>, _: PathBuf, _: BucketBlocksOptions) -> Self {
        BucketBlocks
    }
    pub fn sync(&self, _: &BucketListing, _: &HashSet<Ulid>) -> crate::Result<Vec<Block>> {
        Ok(Vec::new())
    }
}
