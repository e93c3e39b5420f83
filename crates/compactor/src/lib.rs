//! `compactor`: decides what to compact and when (issue 5).
//!
//! It will hold leveled compaction planning over block metadata, time- and size-based
//! retention, and the upload and sync of blocks to object storage through `object_store`;
//! `tsdb` does the merging itself. Nothing is implemented yet.
