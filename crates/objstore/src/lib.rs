//! `objstore`: [`tsdb::bucket::Bucket`] over the `object_store` crate.
//!
//! `tsdb` and `compactor` are synchronous and do not depend on tokio; `object_store` is
//! async and does. This crate is the bridge: [`open`] parses a bucket URL, builds the
//! matching `object_store` store and wraps it in an [`ObjectStoreBucket`], which owns a
//! small private tokio runtime and blocks the calling thread until each operation is done.
//!
//! | URL | store |
//! | --- | --- |
//! | `file:///abs/dir` | a directory on local disk (created if missing) |
//! | `s3://bucket/prefix` | Amazon S3 or an S3-compatible server ([`Options::endpoint`]) |
//! | `gs://bucket/prefix` | Google Cloud Storage |
//! | `az://container/prefix` | Azure Blob Storage |
//!
//! Credentials come from the usual environment variables (`AmazonS3Builder::from_env()` and
//! its GCS and Azure counterparts); [`Options`] overrides endpoint, region, keys, timeouts
//! and retries. Keys given to the bucket are relative to the URL's prefix.
//!
//! A `file://` path is taken literally (no percent-decoding). Its store writes each object
//! to a staging file `<name>#<n>` and renames it into place, without fsync; keys whose last
//! segment ends in `#` and digits are reserved for those staging files and never listed.
//!
//! The bucket's methods must be called from plain threads (the compactor's, or tokio's
//! blocking pool through `spawn_blocking`), not from async code: they block the thread
//! they run on. They never panic because of the calling context, though: the work runs on
//! the bucket's own runtime and the caller only waits for its result.
//!
//! ```
//! # fn main() -> tsdb::Result<()> {
//! let dir = tempfile::tempdir().expect("tempdir");
//! let url = format!("file://{}", dir.path().display());
//! let bucket = objstore::open(&url, &objstore::Options::default())?;
//! bucket.put("01JZ3V2Y6Q8K0D4W9M1X7T5B3A/meta.json", b"{}".to_vec())?;
//! assert_eq!(bucket.list_dirs("")?, ["01JZ3V2Y6Q8K0D4W9M1X7T5B3A"]);
//! # Ok(())
//! # }
//! ```

mod options;
mod store;

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};
use tsdb::bucket::{Bucket, validate_prefix};
use tsdb::{Error, Result};

pub use options::{MAX_PART_SIZE, MIN_PART_SIZE, Options};
pub use store::ObjectStoreBucket;

/// Opens the bucket a URL names (see the crate documentation for the schemes).
pub fn open(url: &str, options: &Options) -> Result<Arc<dyn Bucket>> {
    Ok(Arc::new(open_bucket(url, options)?))
}

/// Like [`open`], returning the concrete type.
pub fn open_bucket(url: &str, options: &Options) -> Result<ObjectStoreBucket> {
    options.validate()?;
    let bad_url = |reason: String| Error::InvalidOptions {
        name: "bucket url",
        reason: format!("{url:?}: {reason}"),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad_url("expected SCHEME://...".into()))?;
    if scheme == "file" {
        let dir = std::path::Path::new(rest);
        if !dir.is_absolute() {
            return Err(bad_url(
                "file URLs need an absolute path: file:///dir".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create bucket directory", dir, e))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| bad_url(e.to_string()))?
            .with_automatic_cleanup(true);
        return ObjectStoreBucket::new(Arc::new(store), String::new(), url.to_string(), options);
    }
    let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_end_matches('/');
    if name.is_empty() {
        return Err(bad_url("no bucket name".into()));
    }
    validate_prefix("open", prefix).map_err(|e| bad_url(e.to_string()))?;
    let client = client_config(options);
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" => {
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(name)
                .with_retry(retry_config(options));
            for (k, v) in &client {
                b = b.with_config(AmazonS3ConfigKey::Client(*k), v);
            }
            if let Some(endpoint) = &options.endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(region) = &options.region {
                b = b.with_region(region);
            }
            if let Some(key) = &options.access_key_id {
                b = b.with_access_key_id(key);
            }
            if let Some(secret) = &options.secret_access_key {
                b = b.with_secret_access_key(secret);
            }
            Arc::new(b.build().map_err(|e| bad_url(e.to_string()))?)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(name)
                .with_retry(retry_config(options));
            for (k, v) in &client {
                b = b.with_config(GoogleConfigKey::Client(*k), v);
            }
            Arc::new(b.build().map_err(|e| bad_url(e.to_string()))?)
        }
        "az" => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_container_name(name)
                .with_retry(retry_config(options));
            for (k, v) in &client {
                b = b.with_config(AzureConfigKey::Client(*k), v);
            }
            Arc::new(b.build().map_err(|e| bad_url(e.to_string()))?)
        }
        other => {
            return Err(bad_url(format!(
                "unsupported scheme {other:?} (file, s3, gs, az)"
            )));
        }
    };
    ObjectStoreBucket::new(store, prefix.to_string(), url.to_string(), options)
}

/// The HTTP client settings, as config keys so that environment settings not named here
/// (a proxy, `AWS_ALLOW_HTTP`) survive.
fn client_config(options: &Options) -> Vec<(ClientConfigKey, String)> {
    let mut c = vec![
        (
            ClientConfigKey::ConnectTimeout,
            format!("{}ms", options.connect_timeout.as_millis()),
        ),
        (
            ClientConfigKey::Timeout,
            format!("{}ms", options.timeout.as_millis()),
        ),
    ];
    if options.allow_http {
        c.push((ClientConfigKey::AllowHttp, "true".into()));
    }
    if let Some(n) = options.pool_max_idle_per_host {
        c.push((ClientConfigKey::PoolMaxIdlePerHost, n.to_string()));
    }
    c
}

fn retry_config(options: &Options) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: options.max_retries,
        retry_timeout: options.retry_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_rejected_with_the_reason() {
        let o = Options::default();
        for (url, want) in [
            ("no-scheme", "SCHEME://"),
            ("file://relative/dir", "absolute path"),
            ("ftp://host/x", "unsupported scheme"),
            ("s3:///prefix", "no bucket name"),
            ("s3://bucket/a//b", "empty segment"),
        ] {
            let err = open(url, &o).expect_err(url);
            assert!(err.to_string().contains(want), "{url}: {err}");
            assert_eq!(err.kind(), tsdb::ErrorKind::Internal);
        }
    }

    #[test]
    fn s3_url_with_prefix_keeps_the_prefix() {
        let o = Options::s3_endpoint("http://127.0.0.1:1", "k", "s");
        let b = open_bucket("s3://bucket/some/prefix/", &o).expect("open");
        assert_eq!(b.prefix(), "some/prefix");
        assert!(format!("{b:?}").contains("s3://bucket/some/prefix"));
    }
}
