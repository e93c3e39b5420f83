//! [`Options`]: explicit connection settings, timeouts, retries and upload part sizes.

use std::fmt;
use std::time::Duration;

use tsdb::{Error, Result};

/// The smallest part S3 accepts in a multipart upload (except the last part).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The largest part S3 accepts in a multipart upload.
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;

/// How [`crate::open`] connects to a bucket.
///
/// Credentials and endpoints come from the usual environment variables first
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
/// `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, ...);
/// the fields set here override them. `endpoint`, `region` and the keys apply to `s3://`
/// buckets only; the timeouts, retries and upload settings apply to every store.
#[derive(Clone)]
pub struct Options {
    /// The URL of an S3-compatible server, such as `http://127.0.0.1:9000`; requests use
    /// path-style addressing (`ENDPOINT/BUCKET/KEY`).
    pub endpoint: Option<String>,
    /// The S3 region (`us-east-1` when neither this nor `AWS_REGION` is set).
    pub region: Option<String>,
    /// The S3 access key id.
    pub access_key_id: Option<String>,
    /// The S3 secret access key. Never printed by `Debug`.
    pub secret_access_key: Option<String>,
    /// Allows plain `http://` endpoints (a loopback test server); off by default.
    pub allow_http: bool,
    /// The limit on establishing a connection.
    pub connect_timeout: Duration,
    /// The limit on one request, from sending it to reading the whole answer.
    pub timeout: Duration,
    /// How often a failed request (connection error, timeout of a read-only request,
    /// 5xx answer) is retried, with exponential backoff.
    pub max_retries: usize,
    /// Retries stop once this long has passed since the first attempt.
    pub retry_timeout: Duration,
    /// Files up to this size are uploaded with one PUT; larger ones in parts of this size
    /// (a multipart upload). At least [`MIN_PART_SIZE`], at most [`MAX_PART_SIZE`].
    pub part_size: usize,
    /// How many parts of one multipart upload are in flight at once; memory use of an
    /// upload is about `part_size × (upload_concurrency + 1)`.
    pub upload_concurrency: usize,
    /// How many idle keep-alive connections to keep per host (the client's default when
    /// `None`). `Some(0)` avoids the S3 test server's stall on reused connections.
    pub pool_max_idle_per_host: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            max_retries: 5,
            retry_timeout: Duration::from_secs(180),
            part_size: 16 * 1024 * 1024,
            upload_concurrency: 4,
            pool_max_idle_per_host: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

impl Options {
    /// Options for an S3-compatible server on `endpoint` (plain HTTP allowed) with explicit
    /// credentials, as tests and config files use them.
    pub fn s3_endpoint(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> Self {
        Options {
            endpoint: Some(endpoint.to_string()),
            access_key_id: Some(access_key_id.to_string()),
            secret_access_key: Some(secret_access_key.to_string()),
            allow_http: endpoint.starts_with("http://"),
            ..Options::default()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name: &'static str, reason: String| Error::InvalidOptions { name, reason };
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(invalid(
                "part_size",
                format!(
                    "{} is outside [{MIN_PART_SIZE}, {MAX_PART_SIZE}]",
                    self.part_size
                ),
            ));
        }
        if self.upload_concurrency == 0 {
            return Err(invalid("upload_concurrency", "must be at least 1".into()));
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("timeout", self.timeout),
        ] {
            if d.is_zero() {
                return Err(invalid(name, "must be positive".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        Options::default().validate().expect("defaults");
        let o = Options {
            part_size: MIN_PART_SIZE - 1,
            ..Options::default()
        };
        assert!(o.validate().is_err());
        let o = Options {
            upload_concurrency: 0,
            ..Options::default()
        };
        assert!(o.validate().is_err());
        let o = Options {
            timeout: Duration::ZERO,
            ..Options::default()
        };
        assert!(o.validate().is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let o = Options::s3_endpoint("http://127.0.0.1:1", "key", "hunter2");
        assert!(o.allow_http);
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"), "{s}");
    }
}
