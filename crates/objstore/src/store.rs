//! [`ObjectStoreBucket`]: the synchronous [`Bucket`] over an `object_store` store, with a
//! private tokio runtime.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::SystemTime;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use tokio::runtime::Runtime;
use tsdb::bucket::{Bucket, BucketFailure, ObjectMeta, validate_key, validate_prefix};
use tsdb::{Error, Result};

use crate::Options;

/// A [`Bucket`] over an `object_store` store, below a key prefix.
///
/// Owns a tokio runtime (two worker threads) on which every operation runs; the calling
/// thread waits for the result. Call it from plain threads, not from async code (see the
/// crate documentation).
pub struct ObjectStoreBucket {
    store: Arc<dyn ObjectStore>,
    /// `""` or `a/b`: joined before every key with a `/`.
    prefix: String,
    /// The URL it was opened with, for `Debug`.
    url: String,
    /// `Some` until dropped.
    runtime: Option<Runtime>,
    part_size: usize,
    upload_concurrency: usize,
}

impl fmt::Debug for ObjectStoreBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreBucket")
            .field("url", &self.url)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Drop for ObjectStoreBucket {
    fn drop(&mut self) {
        // Shutting down without waiting never panics, even when the last reference is
        // dropped inside someone else's async code.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl ObjectStoreBucket {
    /// Wraps `store`; keys are joined below `prefix` (`""` for none). `url` is only shown.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: String,
        url: String,
        options: &Options,
    ) -> Result<Self> {
        options.validate()?;
        validate_prefix("open", &prefix)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(8)
            .thread_name("objstore")
            .enable_all()
            .build()
            .map_err(|e| Error::io("start object storage runtime", &url, e))?;
        Ok(ObjectStoreBucket {
            store,
            prefix,
            url,
            runtime: Some(runtime),
            part_size: options.part_size,
            upload_concurrency: options.upload_concurrency,
        })
    }

    /// The key prefix below which this bucket's keys live.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store's location of `key`.
    fn location(&self, op: &'static str, key: &str) -> Result<Path> {
        validate_key(op, key)?;
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        Path::parse(&full).map_err(|e| Error::bucket(op, key, BucketFailure::InvalidKey, e))
    }

    /// The store's location of a listing prefix (`None`: the whole store).
    fn prefix_location(&self, op: &'static str, prefix: &str) -> Result<Option<Path>> {
        validate_prefix(op, prefix)?;
        let full = match (self.prefix.is_empty(), prefix.is_empty()) {
            (true, true) => return Ok(None),
            (true, false) => prefix.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{prefix}", self.prefix),
        };
        Path::parse(&full)
            .map(Some)
            .map_err(|e| Error::bucket(op, prefix, BucketFailure::InvalidKey, e))
    }

    /// The key of a store location below the prefix.
    fn key_of(&self, op: &'static str, location: &Path) -> Result<String> {
        let s = location.as_ref();
        if self.prefix.is_empty() {
            return Ok(s.to_string());
        }
        s.strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_string)
            .ok_or_else(|| {
                Error::bucket(
                    op,
                    s,
                    BucketFailure::Other,
                    format!("listed outside the prefix {:?}", self.prefix),
                )
            })
    }

    /// Runs `fut` on the bucket's runtime and waits for it on the calling thread.
    ///
    /// Unlike `Runtime::block_on`, this does not panic when the calling thread is inside
    /// another runtime; it only blocks it.
    fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let rt = self.runtime.as_ref().expect("the runtime lives until drop");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| {
            Error::bucket(
                op,
                key,
                BucketFailure::Other,
                "the object storage task ended without a result",
            )
        })
    }

    /// Runs a store operation and maps its error.
    fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.run(op, key, fut)?.map_err(|e| map_error(op, key, e))
    }

    fn upload_parts(&self, key: &str, location: Path, file: &mut std::fs::File) -> Result<u64> {
        const OP: &str = "upload";
        let store = Arc::clone(&self.store);
        let mut upload = self.call(OP, key, async move { store.put_multipart(&location).await })?;
        let mut in_flight = VecDeque::new();
        let mut total = 0u64;
        let result = (|| {
            loop {
                let part = read_part(file, self.part_size)
                    .map_err(|e| Error::bucket(OP, key, BucketFailure::LocalIo, e))?;
                if part.is_empty() {
                    break;
                }
                total += part.len() as u64;
                let last = part.len() < self.part_size;
                let rt = self.runtime.as_ref().expect("the runtime lives until drop");
                in_flight.push_back(rt.spawn(upload.put_part(PutPayload::from(part))));
                while in_flight.len() >= self.upload_concurrency || (last && !in_flight.is_empty())
                {
                    let h = in_flight.pop_front().expect("non-empty");
                    self.run(OP, key, h)?
                        .map_err(|e| Error::bucket(OP, key, BucketFailure::Other, e))?
                        .map_err(|e| map_error(OP, key, e))?;
                }
                if last {
                    break;
                }
            }
            while let Some(h) = in_flight.pop_front() {
                self.run(OP, key, h)?
                    .map_err(|e| Error::bucket(OP, key, BucketFailure::Other, e))?
                    .map_err(|e| map_error(OP, key, e))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.call(OP, key, async move { upload.complete().await })?;
                Ok(total)
            }
            Err(e) => {
                for h in in_flight {
                    h.abort();
                }
                // Best effort: an upload left behind is invisible and the store expires it.
                let _ = self.run(OP, key, async move { upload.abort().await });
                Err(e)
            }
        }
    }
}

/// Reads up to `size` bytes (less only at the end of the file).
fn read_part(file: &mut std::fs::File, size: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(size);
    file.take(size as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn map_error(op: &'static str, key: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let failure = match &e {
        E::NotFound { .. } => BucketFailure::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => BucketFailure::Denied,
        E::InvalidPath { .. } => BucketFailure::InvalidKey,
        // Local-filesystem errors are I/O errors on this machine, not an unreachable store.
        E::Generic { store, .. } if *store == "LocalFileSystem" => BucketFailure::Other,
        E::Generic { source, .. } => classify_remote(source.as_ref()),
        _ => BucketFailure::Other,
    };
    Error::bucket(op, key, failure, e)
}

/// Classifies a cloud store's generic error, which some requests (listing, multipart) give
/// for any failed answer: a transport error or a 5xx answer after the retries is
/// [`BucketFailure::Unavailable`], a 401 or 403 is [`BucketFailure::Denied`].
///
/// `object_store` 0.12 keeps the status in a private type, so it is read from the message
/// (`Server returned non-2xx status code: 403 Forbidden: ...`); the version is pinned and the
/// wrong-secret test checks this.
fn classify_remote(e: &(dyn std::error::Error + 'static)) -> BucketFailure {
    const STATUS: &str = "non-2xx status code: ";
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<object_store::client::HttpError>()
            .is_some()
        {
            return BucketFailure::Unavailable;
        }
        let msg = err.to_string();
        if let Some(at) = msg.find(STATUS) {
            let code = msg[at + STATUS.len()..]
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok());
            return match code {
                Some(401 | 403) => BucketFailure::Denied,
                Some(404) => BucketFailure::NotFound,
                Some(416) => BucketFailure::InvalidRange,
                Some(408 | 429) | Some(500..) | None => BucketFailure::Unavailable,
                Some(_) => BucketFailure::Other,
            };
        }
        cur = err.source();
    }
    BucketFailure::Unavailable
}

fn object_meta(key: String, m: object_store::ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        key,
        size: m.size,
        last_modified: SystemTime::from(m.last_modified),
        e_tag: m.e_tag,
    }
}

impl Bucket for ObjectStoreBucket {
    fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let location = self.location("put", key)?;
        let store = Arc::clone(&self.store);
        self.call("put", key, async move {
            store.put(&location, PutPayload::from(data)).await
        })?;
        Ok(())
    }

    fn upload(&self, key: &str, path: &FsPath) -> Result<u64> {
        let location = self.location("upload", key)?;
        let local = |e| Error::bucket("upload", key, BucketFailure::LocalIo, e);
        let mut file = std::fs::File::open(path).map_err(|e| {
            local(std::io::Error::new(
                e.kind(),
                format!("open {}: {e}", path.display()),
            ))
        })?;
        let size = file.metadata().map_err(local)?.len();
        if size <= self.part_size as u64 {
            let data = read_part(&mut file, self.part_size).map_err(local)?;
            let n = data.len() as u64;
            let store = Arc::clone(&self.store);
            self.call("upload", key, async move {
                store.put(&location, PutPayload::from(data)).await
            })?;
            return Ok(n);
        }
        self.upload_parts(key, location, &mut file)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let location = self.location("get", key)?;
        let store = Arc::clone(&self.store);
        let got = self.run("get", key, async move {
            match store.get(&location).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(got.map_err(|e| map_error("get", key, e))?.map(Vec::from))
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
        let location = self.location("get_range", key)?;
        if range.start >= range.end {
            return Ok(Vec::new());
        }
        let store = Arc::clone(&self.store);
        let want = range.end - range.start;
        let r = range.clone();
        let got = self.run("get_range", key, async move {
            store.get_range(&location, r).await
        })?;
        let out_of_range = |size: u64| {
            Error::bucket(
                "get_range",
                key,
                BucketFailure::InvalidRange,
                format!("range {range:?} is not inside the object's {size} bytes"),
            )
        };
        match got {
            Ok(bytes) if bytes.len() as u64 == want => Ok(Vec::from(bytes)),
            Ok(_) => {
                let size = self.head(key)?.map_or(0, |m| m.size);
                Err(out_of_range(size))
            }
            Err(e) => {
                let err = map_error("get_range", key, e);
                // A range past the end is an answer, not an outage: tell them apart.
                match self.head(key) {
                    Ok(Some(m)) if range.end > m.size => Err(out_of_range(m.size)),
                    Ok(None) => Err(Error::bucket(
                        "get_range",
                        key,
                        BucketFailure::NotFound,
                        "no such object",
                    )),
                    _ => Err(err),
                }
            }
        }
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let location = self.location("head", key)?;
        let store = Arc::clone(&self.store);
        let got = self.run("head", key, async move {
            match store.head(&location).await {
                Ok(m) => Ok(Some(m)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(got
            .map_err(|e| map_error("head", key, e))?
            .map(|m| object_meta(key.to_string(), m)))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let location = self.prefix_location("list", prefix)?;
        let store = Arc::clone(&self.store);
        let metas = self.call("list", prefix, async move {
            store.list(location.as_ref()).try_collect::<Vec<_>>().await
        })?;
        let mut out = metas
            .into_iter()
            .map(|m| Ok(object_meta(self.key_of("list", &m.location)?, m)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let location = self.prefix_location("list_dirs", prefix)?;
        let store = Arc::clone(&self.store);
        let listing = self.call("list_dirs", prefix, async move {
            store.list_with_delimiter(location.as_ref()).await
        })?;
        let mut out = listing
            .common_prefixes
            .iter()
            .map(|p| self.key_of("list_dirs", p))
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let location = self.location("delete", key)?;
        let store = Arc::clone(&self.store);
        self.call("delete", key, async move {
            match store.delete(&location).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                r => r,
            }
        })
    }
}
