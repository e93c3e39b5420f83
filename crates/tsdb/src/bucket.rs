//! Object storage as blocks need it: a synchronous [`Bucket`] trait.
//!
//! `tsdb` and `compactor` stay free of any async runtime, so object storage reaches them
//! through this trait; the `objstore` crate implements it over the `object_store` crate
//! (a local directory, S3, GCS or Azure) with a runtime of its own.
//!
//! Keys are `/`-separated strings relative to the bucket's configured prefix, such as
//! `01JZ3V2Y6Q8K0D4W9M1X7T5B3A/chunks/000001`. A key has no leading or trailing `/`, no
//! empty segment, no `.` or `..` segment and no control character ([`validate_key`]);
//! anything else (spaces, `=`, `+`, `%`, Unicode) is stored verbatim.
//! A "directory" is a key prefix ending before a `/`; buckets have no real directories.
//!
//! Every method blocks the calling thread until the operation is done, retries included.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// One object, as listed or looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The key, relative to the bucket's prefix.
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// When the object was last written, as the store reports it.
    pub last_modified: SystemTime,
    /// The store's entity tag, when it has one (S3, GCS, Azure); it changes when the
    /// object is rewritten.
    pub e_tag: Option<String>,
}

/// Why a bucket operation failed; decides the [`crate::ErrorKind`] of [`Error::Bucket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BucketFailure {
    /// The store could not be reached or kept failing (connection errors, timeouts, 5xx
    /// answers once the retries are spent); retrying later may help.
    Unavailable,
    /// The store refused the credentials or the operation (401, 403, a wrong signature).
    Denied,
    /// The object does not exist (only operations that need it report this; [`Bucket::get`]
    /// and [`Bucket::head`] answer `None` instead).
    NotFound,
    /// The key is not a valid key (see [`validate_key`]).
    InvalidKey,
    /// The requested byte range is not inside the object.
    InvalidRange,
    /// The local file to upload could not be read.
    LocalIo,
    /// Anything else: a local-filesystem store's I/O error, an unexpected answer.
    Other,
}

impl fmt::Display for BucketFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BucketFailure::Unavailable => "object storage unavailable",
            BucketFailure::Denied => "access denied",
            BucketFailure::NotFound => "not found",
            BucketFailure::InvalidKey => "invalid key",
            BucketFailure::InvalidRange => "invalid range",
            BucketFailure::LocalIo => "local file error",
            BucketFailure::Other => "failed",
        })
    }
}

/// A bucket of objects, with the operations block upload, sync and reading need.
///
/// Implementations block the calling thread; they are shared between threads as
/// `Arc<dyn Bucket>`. Errors are [`Error::Bucket`] naming the operation and the key.
pub trait Bucket: Send + Sync + fmt::Debug {
    /// Writes `data` to `key`, replacing any object there. The object appears whole or
    /// not at all.
    fn put(&self, key: &str, data: Vec<u8>) -> Result<()>;

    /// Uploads the local file at `path` to `key`, replacing any object there, and returns
    /// the number of bytes uploaded. Large files are streamed in parts (a multipart
    /// upload) with bounded memory; the object appears whole or not at all.
    fn upload(&self, key: &str, path: &Path) -> Result<u64>;

    /// Reads a whole object, or `None` when there is none at `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Reads the bytes `range` of an object. The range must lie inside the object
    /// ([`BucketFailure::InvalidRange`] otherwise); a missing object is
    /// [`BucketFailure::NotFound`].
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>>;

    /// The object's metadata, or `None` when there is none at `key`.
    fn head(&self, key: &str) -> Result<Option<ObjectMeta>>;

    /// Whether an object exists at `key`.
    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.head(key)?.is_some())
    }

    /// Every object under the directory `prefix` (all depths), sorted by key. An empty
    /// `prefix` lists the whole bucket. `prefix` names a directory: `"01AB"` lists
    /// `01AB/meta.json` but not `01ABC/meta.json`.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// The immediate subdirectories of the directory `prefix` (keys up to, not including,
    /// the next `/`), sorted. An empty `prefix` lists the top level.
    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;

    /// Deletes the object at `key`. Deleting a missing object succeeds.
    fn delete(&self, key: &str) -> Result<()>;
}

/// Checks that `key` is a valid object key: not empty, no leading or trailing `/`, no empty,
/// `.` or `..` segment, no ASCII control character.
pub fn validate_key(op: &'static str, key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.split('/').any(str::is_empty) {
        Some("empty segment (leading, trailing or doubled '/')")
    } else if key.split('/').any(|s| s == "." || s == "..") {
        Some("'.' or '..' segment")
    } else if key.chars().any(|c| c.is_ascii_control()) {
        Some("control character")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::bucket(
            op,
            key,
            BucketFailure::InvalidKey,
            reason.to_string(),
        )),
    }
}

/// Checks a listing prefix: empty (the whole bucket) or a valid key.
pub fn validate_prefix(op: &'static str, prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        Ok(())
    } else {
        validate_key(op, prefix)
    }
}

/// Joins key segments with `/`.
pub fn join(parts: &[&str]) -> String {
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn keys_are_validated() {
        for ok in [
            "a",
            "a/b",
            "01ABC/chunks/000001",
            "sp ace/=+%/ünï",
            "a.b/..c",
        ] {
            validate_key("put", ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in ["", "/a", "a/", "a//b", "./a", "a/..", "a\nb", "a\0"] {
            let err = validate_key("put", bad).expect_err(bad);
            assert!(
                matches!(
                    err,
                    Error::Bucket {
                        failure: BucketFailure::InvalidKey,
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
            assert_eq!(err.kind(), ErrorKind::Internal);
        }
        validate_prefix("list", "").expect("empty prefix");
        assert!(validate_prefix("list", "a/").is_err());
    }

    #[test]
    fn error_names_operation_key_and_cause() {
        let err = Error::bucket(
            "get",
            "01AB/index",
            BucketFailure::Unavailable,
            "connection refused".to_string(),
        );
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(
            err.to_string(),
            "bucket get \"01AB/index\": object storage unavailable: connection refused"
        );
        assert_eq!(join(&["01AB", "chunks", "000001"]), "01AB/chunks/000001");
    }
}
