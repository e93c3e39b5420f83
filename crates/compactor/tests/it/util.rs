//! Fixtures for the shipper and bucket-block tests: real blocks made by promtool, the two
//! bucket backends (`file://` and s3s-fs on loopback, with the plain file behind each
//! object), a bucket wrapper that records writes and can abort the process after a chosen
//! upload, and one that records reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tsdb::Result;
use tsdb::bucket::{Bucket, ObjectMeta};
use tsdb::testutil::S3Server;

/// A bucket under test and what keeps it alive; `url` and `options` open it again (in a
/// child process, too).
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) url: String,
    pub(crate) options: objstore::Options,
    pub(crate) bucket: Arc<dyn Bucket>,
    _dir: tempfile::TempDir,
    _server: Option<S3Server>,
}

impl Backend {
    /// The plain file holding the object `key` (both backends store objects as files: the
    /// `file://` directory, and s3s-fs under its root), to damage it behind the store's back.
    pub(crate) fn object_path(&self, key: &str) -> PathBuf {
        match &self._server {
            Some(server) => server.bucket_dir().join("blocks").join(key),
            None => self._dir.path().join("bucket").join(key),
        }
    }
}

/// A bucket wrapper that records every read request as `"get KEY"`, `"get_range KEY"`,
/// `"head KEY"` or `"list PREFIX"`.
#[derive(Debug)]
pub(crate) struct Counting {
    inner: Arc<dyn Bucket>,
    reads: Mutex<Vec<String>>,
}

impl Counting {
    pub(crate) fn new(inner: Arc<dyn Bucket>) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            reads: Mutex::new(Vec::new()),
        })
    }

    /// This wrapper as readers take a bucket.
    pub(crate) fn as_bucket(self: &Arc<Self>) -> Arc<dyn Bucket> {
        Arc::clone(self) as Arc<dyn Bucket>
    }

    /// The read requests so far.
    pub(crate) fn reads(&self) -> Vec<String> {
        self.reads.lock().expect("lock").clone()
    }

    /// How many read requests so far satisfy `f`.
    pub(crate) fn count(&self, f: impl Fn(&str) -> bool) -> usize {
        self.reads
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| f(r))
            .count()
    }

    fn note(&self, op: &str, key: &str) {
        self.reads.lock().expect("lock").push(format!("{op} {key}"));
    }
}

impl Bucket for Counting {
    fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        self.inner.put(key, data)
    }

    fn upload(&self, key: &str, path: &Path) -> Result<u64> {
        self.inner.upload(key, path)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.note("get", key);
        self.inner.get(key)
    }

    fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>> {
        self.note("get_range", key);
        self.inner.get_range(key, range)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.note("head", key);
        self.inner.head(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.note("list", prefix);
        self.inner.list(prefix)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        self.note("list_dirs", prefix);
        self.inner.list_dirs(prefix)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }
}

/// Options for the S3 test server (or defaults for `file://` when `endpoint` is empty).
pub(crate) fn bucket_options(endpoint: &str, key: &str, secret: &str) -> objstore::Options {
    let base = objstore::Options {
        // The S3 test server stalls GETs on reused connections.
        pool_max_idle_per_host: Some(0),
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..objstore::Options::default()
    };
    if endpoint.is_empty() {
        return base;
    }
    objstore::Options {
        endpoint: Some(endpoint.into()),
        region: Some("us-east-1".into()),
        access_key_id: Some(key.into()),
        secret_access_key: Some(secret.into()),
        allow_http: true,
        ..base
    }
}

/// A `file://` bucket and, when s3s-fs is installed (always under CI), an S3 one below a
/// key prefix.
pub(crate) fn backends() -> Vec<Backend> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().join("bucket").display());
    let options = bucket_options("", "", "");
    out.push(Backend {
        name: "file",
        bucket: objstore::open(&url, &options).expect("open file bucket"),
        url,
        options,
        _dir: dir,
        _server: None,
    });
    if let Some(server) = S3Server::start() {
        let options = bucket_options(&server.endpoint, &server.access_key, &server.secret_key);
        let url = server.url("blocks");
        out.push(Backend {
            name: "s3",
            bucket: objstore::open(&url, &options).expect("open s3 bucket"),
            url,
            options,
            _dir: tempfile::tempdir().expect("tempdir"),
            _server: Some(server),
        });
    }
    out
}

/// Fills `data_dir` with three real blocks made by promtool from five hours of samples
/// (promtool cuts two-hour blocks), and returns their ids; `None` when promtool is missing
/// outside CI.
pub(crate) fn make_blocks(data_dir: &Path) -> Option<Vec<String>> {
    let bin = tsdb::testutil::reference_bin_dir()?;
    let mut om = String::new();
    for metric in ["up", "http_requests_total"] {
        writeln!(om, "# TYPE {metric} gauge").expect("write");
        for instance in 0..3 {
            for i in 0..600 {
                let ts = 1_700_000_000 + i * 30;
                writeln!(
                    om,
                    "{metric}{{instance=\"i{instance}\"}} {} {ts}",
                    i * instance
                )
                .expect("write");
            }
        }
    }
    om.push_str("# EOF\n");
    let input = data_dir.with_extension("om");
    std::fs::write(&input, om).expect("write openmetrics");
    std::fs::create_dir_all(data_dir).expect("data dir");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, data_dir);
    let ids = local_blocks(data_dir);
    assert_eq!(ids.len(), 3, "promtool made {ids:?}");
    Some(ids)
}

/// The block directories of `data_dir`, sorted.
pub(crate) fn local_blocks(data_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(data_dir)
        .expect("read data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| compactor::shipper::is_block_id(n))
        .collect();
    ids.sort();
    ids
}

/// Every file of a local block as (`/`-separated path in the block, path), sorted.
pub(crate) fn block_files(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.path().is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                out.push((rel, e.path()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// Asserts that the bucket holds exactly the given local blocks, each object byte for byte
/// equal to its file, and nothing else under a block directory but deletion marks.
pub(crate) fn assert_bucket_mirrors(bucket: &dyn Bucket, data_dir: &Path, ids: &[String]) {
    let mut want_keys = Vec::new();
    for id in ids {
        for (rel, path) in block_files(&data_dir.join(id)) {
            let key = format!("{id}/{rel}");
            let got = bucket
                .get(&key)
                .expect("get")
                .unwrap_or_else(|| panic!("{key} missing"));
            let want = std::fs::read(&path).expect("read local");
            assert!(
                got == want,
                "{key}: bucket content differs from {}",
                path.display()
            );
            want_keys.push(key);
        }
    }
    let got_keys: Vec<String> = bucket
        .list("")
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .filter(|k| compactor::shipper::is_block_id(k.split('/').next().unwrap_or("")))
        .filter(|k| !k.ends_with("/deletion-mark.json"))
        .collect();
    assert_eq!(got_keys, want_keys, "the bucket's block objects");
}

/// A bucket wrapper that records every write and can abort the process right after its
/// n-th upload returns (to simulate a crash between two steps of the shipper).
#[derive(Debug)]
pub(crate) struct Recording {
    inner: Arc<dyn Bucket>,
    writes: Mutex<Vec<String>>,
    uploads: AtomicUsize,
    abort_after_uploads: Option<usize>,
    /// Deletes fail (as an outage would) once this many have succeeded.
    fail_deletes_after: Option<usize>,
    deletes: AtomicUsize,
}

impl Recording {
    pub(crate) fn new(inner: Arc<dyn Bucket>) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            writes: Mutex::new(Vec::new()),
            uploads: AtomicUsize::new(0),
            abort_after_uploads: None,
            fail_deletes_after: None,
            deletes: AtomicUsize::new(0),
        })
    }

    pub(crate) fn aborting_after(inner: Arc<dyn Bucket>, uploads: usize) -> Arc<Recording> {
        Arc::new(Recording {
            abort_after_uploads: Some(uploads),
            ..Arc::into_inner(Recording::new(inner)).expect("fresh")
        })
    }

    pub(crate) fn failing_deletes_after(inner: Arc<dyn Bucket>, deletes: usize) -> Arc<Recording> {
        Arc::new(Recording {
            fail_deletes_after: Some(deletes),
            ..Arc::into_inner(Recording::new(inner)).expect("fresh")
        })
    }

    /// This wrapper as the shipper takes a bucket.
    pub(crate) fn as_bucket(self: &Arc<Self>) -> Arc<dyn Bucket> {
        Arc::clone(self) as Arc<dyn Bucket>
    }

    /// The writes so far, as `"put KEY"`, `"upload KEY"`, `"delete KEY"`.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.writes.lock().expect("lock").clone()
    }

    fn note(&self, op: &str, key: &str) {
        self.writes
            .lock()
            .expect("lock")
            .push(format!("{op} {key}"));
    }
}

impl Bucket for Recording {
    fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        self.note("put", key);
        self.inner.put(key, data)
    }

    fn upload(&self, key: &str, path: &Path) -> Result<u64> {
        self.note("upload", key);
        let n = self.inner.upload(key, path)?;
        let done = self.uploads.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_after_uploads == Some(done) {
            eprintln!("aborting after upload {done}: {key}");
            std::process::abort();
        }
        Ok(n)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>> {
        self.inner.get_range(key, range)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.inner.head(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list_dirs(prefix)
    }

    fn delete(&self, key: &str) -> Result<()> {
        if let Some(limit) = self.fail_deletes_after
            && self.deletes.load(Ordering::SeqCst) >= limit
        {
            return Err(tsdb::Error::bucket(
                "delete",
                key,
                tsdb::bucket::BucketFailure::Unavailable,
                "injected outage",
            ));
        }
        self.note("delete", key);
        self.inner.delete(key)?;
        self.deletes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
