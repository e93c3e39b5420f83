//! [`ConfigFile`]: the TOML configuration file, section by section.
//!
//! Every struct denies unknown keys, so a misspelt key is an error naming the key and the
//! keys allowed there, never a silently ignored setting. `deploy/config.example.toml`
//! lists every key with its default, and a test checks it parses to
//! [`ConfigFile::default`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tsdb::wal::SyncPolicy;

use super::units::{ByteSize, PromDuration};
use super::{Config, ConfigError, WebConfig};
use tsdb::units::parse_duration;

/// The configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// `[storage]`: the data directory, retention, WAL and chunks.
    pub storage: StorageSection,
    /// `[query]`: the PromQL engine and its limits.
    pub query: QuerySection,
    /// `[web]`: listener, TLS, access control.
    pub web: WebSection,
    /// `[log]`.
    pub log: LogConfig,
    /// `[runtime]`: thread pools.
    pub runtime: RuntimeConfig,
    /// `[remote_write]`: request limits.
    pub remote_write: RemoteWriteLimits,
    /// `[compaction]`: the compaction loop, local retention, bucket deletion delay.
    pub compaction: CompactionSection,
    /// `[bucket]`: where blocks are uploaded.
    pub bucket: BucketConfig,
}

impl Default for ConfigFile {
    fn default() -> Self {
        let c = Config::default();
        let tsdb = &c.tsdb;
        let engine = &c.engine;
        let ms = |v: i64| PromDuration(Duration::from_millis(u64::try_from(v).unwrap_or(0)));
        ConfigFile {
            storage: StorageSection {
                path: c.data_dir.clone(),
                retention_time: PromDuration(c.retention_time),
                retention_size: ByteSize(c.retention_size),
                min_block_duration: ms(tsdb.block_range),
                samples_per_chunk: tsdb.samples_per_chunk,
                max_exemplars: tsdb.max_exemplars,
                wal: WalSection {
                    enabled: tsdb.wal_enabled,
                    sync: WalSync(tsdb.wal_sync),
                    segment_size: ByteSize(tsdb.wal_segment_size as u64),
                    compression: tsdb.wal_compression,
                },
            },
            query: QuerySection {
                timeout: PromDuration(engine.timeout),
                max_samples: engine.max_samples,
                max_concurrency: c.max_concurrent_queries,
                lookback_delta: ms(engine.lookback_delta),
                default_subquery_step: ms(engine.default_subquery_step),
                experimental_functions: engine.experimental_functions,
                delayed_name_removal: engine.delayed_name_removal,
                duration_expressions: engine.duration_expressions,
            },
            web: WebSection {
                listen_address: c.listen_address.clone(),
                enable_admin_api: c.web.enable_admin_api,
                shutdown_timeout: PromDuration(c.web.shutdown_timeout),
                tls: TlsSection::default(),
                auth: c.web.auth.clone(),
            },
            log: c.log.clone(),
            runtime: c.runtime.clone(),
            remote_write: RemoteWriteLimits::from(&c.write),
            compaction: CompactionSection {
                max_block_duration: PromDuration(c.compaction.max_block_duration),
                interval: PromDuration(c.compaction.interval),
                local_retention: PromDuration(c.compaction.local_retention),
                deletion_delay: PromDuration(c.compaction.deletion_delay),
            },
            bucket: c.bucket.clone(),
        }
    }
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// The runtime configuration this file describes (flags not applied yet).
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let ms = |key: &'static str, d: Duration| {
            i64::try_from(d.as_millis()).map_err(|_| ConfigError::Invalid {
                key,
                reason: "too large".into(),
            })
        };
        let s = self.storage;
        let q = self.query;
        let tsdb = tsdb::Options {
            wal_enabled: s.wal.enabled,
            wal_segment_size: usize::try_from(s.wal.segment_size.0).map_err(|_| {
                ConfigError::Invalid {
                    key: "storage.wal.segment_size",
                    reason: "too large".into(),
                }
            })?,
            wal_compression: s.wal.compression,
            wal_sync: s.wal.sync.0,
            block_range: ms("storage.min_block_duration", s.min_block_duration.0)?,
            samples_per_chunk: s.samples_per_chunk,
            max_exemplars: s.max_exemplars,
        };
        let engine = promql::EngineOptions {
            lookback_delta: ms("query.lookback_delta", q.lookback_delta.0)?,
            max_samples: q.max_samples,
            timeout: q.timeout.0,
            default_subquery_step: ms("query.default_subquery_step", q.default_subquery_step.0)?,
            experimental_functions: q.experimental_functions,
            delayed_name_removal: q.delayed_name_removal,
            duration_expressions: q.duration_expressions,
        };
        let tls = match (self.web.tls.cert_file, self.web.tls.key_file) {
            (None, None) => None,
            (Some(cert_file), Some(key_file)) => Some(TlsConfig {
                cert_file,
                key_file,
            }),
            _ => {
                return Err(ConfigError::Invalid {
                    key: "web.tls",
                    reason: "set both cert_file and key_file, or neither".into(),
                });
            }
        };
        // Settings other components add to `Config` without a file key keep their defaults.
        #[allow(clippy::needless_update)]
        Ok(Config {
            data_dir: s.path,
            listen_address: self.web.listen_address,
            tsdb,
            engine,
            max_concurrent_queries: q.max_concurrency,
            retention_time: s.retention_time.0,
            retention_size: s.retention_size.0,
            web: WebConfig {
                enable_admin_api: self.web.enable_admin_api,
                shutdown_timeout: self.web.shutdown_timeout.0,
                tls,
                auth: self.web.auth,
            },
            log: self.log,
            runtime: self.runtime,
            write: self.remote_write.into_write_config()?,
            compaction: super::CompactionConfig {
                max_block_duration: self.compaction.max_block_duration.0,
                interval: self.compaction.interval.0,
                local_retention: self.compaction.local_retention.0,
                deletion_delay: self.compaction.deletion_delay.0,
            },
            bucket: self.bucket,
            config_file: None,
            ..Config::default()
        })
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// `--storage.tsdb.path`.
    pub path: PathBuf,
    /// `--storage.tsdb.retention.time`.
    pub retention_time: PromDuration,
    /// `--storage.tsdb.retention.size`.
    pub retention_size: ByteSize,
    /// `--storage.tsdb.min-block-duration`: the block range, and the range head chunks
    /// never cross.
    pub min_block_duration: PromDuration,
    /// Target samples per XOR chunk.
    pub samples_per_chunk: u16,
    /// Exemplars kept in memory (Prometheus's `storage.exemplars.max_exemplars`).
    pub max_exemplars: usize,
    /// `[storage.wal]`.
    pub wal: WalSection,
}

impl Default for StorageSection {
    fn default() -> Self {
        ConfigFile::default().storage
    }
}

/// `[storage.wal]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalSection {
    /// Whether to write a WAL at all (without one nothing survives a restart).
    pub enabled: bool,
    /// `always`, `never` or an interval such as `100ms`.
    pub sync: WalSync,
    /// Maximum segment size, a multiple of 32KiB.
    pub segment_size: ByteSize,
    /// Snappy-compress records.
    pub compression: bool,
}

impl Default for WalSection {
    fn default() -> Self {
        ConfigFile::default().storage.wal
    }
}

/// The WAL sync policy as written in the file: `always`, `never` or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalSync(pub SyncPolicy);

impl<'de> Deserialize<'de> for WalSync {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "always" => Ok(WalSync(SyncPolicy::Always)),
            "never" => Ok(WalSync(SyncPolicy::Never)),
            other => match parse_duration(other) {
                Ok(d) if !d.is_zero() => Ok(WalSync(SyncPolicy::Interval(d))),
                _ => Err(serde::de::Error::custom(format!(
                    "wal sync must be \"always\", \"never\" or a positive duration such as \"100ms\", got {other:?}"
                ))),
            },
        }
    }
}

/// `[query]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuerySection {
    /// `--query.timeout`.
    pub timeout: PromDuration,
    /// `--query.max-samples`.
    pub max_samples: usize,
    /// `--query.max-concurrency`.
    pub max_concurrency: usize,
    /// `--query.lookback-delta`.
    pub lookback_delta: PromDuration,
    /// Step of subqueries written `[r:]`.
    pub default_subquery_step: PromDuration,
    /// Prometheus's `promql-experimental-functions` feature.
    pub experimental_functions: bool,
    /// Prometheus's `promql-delayed-name-removal` feature.
    pub delayed_name_removal: bool,
    /// Prometheus's `promql-duration-expr` feature.
    pub duration_expressions: bool,
}

impl Default for QuerySection {
    fn default() -> Self {
        ConfigFile::default().query
    }
}

/// `[web]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSection {
    /// `--web.listen-address`.
    pub listen_address: String,
    /// `--web.enable-admin-api`.
    pub enable_admin_api: bool,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: PromDuration,
    /// `[web.tls]`.
    pub tls: TlsSection,
    /// `[web.auth.*]`.
    pub auth: WebAuth,
}

impl Default for WebSection {
    fn default() -> Self {
        ConfigFile::default().web
    }
}

/// `[web.tls]`: both paths or neither.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

/// HTTPS with this certificate and key (PEM files, read at start-up).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// `[web.auth.read]`, `[web.auth.write]`, `[web.auth.admin]`: one rule per endpoint class.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebAuth {
    /// The query, metadata and status API and `/metrics`.
    pub read: AuthRule,
    /// `/api/v1/write`.
    pub write: AuthRule,
    /// `/api/v1/admin/*`.
    pub admin: AuthRule,
}

impl WebAuth {
    /// Checks that tokens are non-empty and password hashes are SHA-256 hex digests.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, rule) in [
            ("web.auth.read", &self.read),
            ("web.auth.write", &self.write),
            ("web.auth.admin", &self.admin),
        ] {
            if rule.bearer_tokens.iter().any(String::is_empty) {
                return Err(ConfigError::Invalid {
                    key,
                    reason: "a bearer token is empty".into(),
                });
            }
            for user in &rule.basic_users {
                let h = &user.password_sha256;
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: format!(
                            "password_sha256 of user {:?} is not 64 hex digits",
                            user.username
                        ),
                    });
                }
                if user.username.is_empty() || user.username.contains(':') {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: format!("user name {:?} is empty or has a ':'", user.username),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Who may call one class of endpoints. Empty (the default) lets everyone in; otherwise a
/// request needs `Authorization: Bearer <one of bearer_tokens>` or basic auth matching
/// one of `basic_users`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthRule {
    /// Accepted bearer tokens.
    pub bearer_tokens: Vec<String>,
    /// Accepted basic-auth users.
    pub basic_users: Vec<BasicUser>,
}

impl AuthRule {
    /// Whether the rule lets every request in.
    pub fn is_open(&self) -> bool {
        self.bearer_tokens.is_empty() && self.basic_users.is_empty()
    }
}

impl fmt::Debug for AuthRule {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRule")
            .field("bearer_tokens", &self.bearer_tokens.len())
            .field(
                "basic_users",
                &self
                    .basic_users
                    .iter()
                    .map(|u| &u.username)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A basic-auth user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUser {
    /// The user name.
    pub username: String,
    /// Lower- or upper-case hex SHA-256 of the password (`printf %s "$PW" | sha256sum`).
    pub password_sha256: String,
}

/// `[compaction]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionSection {
    /// `--storage.tsdb.max-block-duration`: the largest block compaction makes; "0s"
    /// means 10% of the retention time, at most 31d.
    pub max_block_duration: PromDuration,
    /// Time between compaction cycles (a cycle also starts as soon as the head spans
    /// 1.5 block ranges).
    pub interval: PromDuration,
    /// Keep uploaded blocks on local disk only this long; "0s" keeps them for the whole
    /// retention.
    pub local_retention: PromDuration,
    /// How long a bucket block marked for deletion stays readable before it is removed.
    pub deletion_delay: PromDuration,
}

impl Default for CompactionSection {
    fn default() -> Self {
        ConfigFile::default().compaction
    }
}

/// `[bucket]`: the object storage blocks are uploaded to and read back from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketConfig {
    /// Upload blocks at all.
    pub enabled: bool,
    /// `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`;
    /// empty means `file://<storage.path>/bucket`.
    pub url: String,
    /// S3: an endpoint other than AWS's (MinIO, Ceph, a loopback test server).
    pub endpoint: String,
    /// S3: the region (empty: from the environment, else us-east-1).
    pub region: String,
    /// S3: the access key id (empty: from the environment, `AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// S3: the secret key (empty: from the environment, `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
    /// S3: allow plain HTTP to the endpoint.
    pub allow_http: bool,
}

impl Default for BucketConfig {
    fn default() -> Self {
        BucketConfig {
            enabled: true,
            url: String::new(),
            endpoint: String::new(),
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            allow_http: false,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `--log.level`: `debug`, `info`, `warn` or `error` (or a `tracing` filter).
    pub level: String,
    /// `--log.format`: `logfmt` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Logfmt,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `time=... level=info msg="..." key=value`.
    Logfmt,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name used by `--log.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
        }
    }
}

/// `[runtime]`: thread pools of the async runtime.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Async worker threads; 0 means one per core.
    pub worker_threads: usize,
    /// Threads for blocking work (queries, appends, WAL replay); 0 means
    /// `query.max_concurrency + remote_write.max_concurrent_requests + 16`.
    pub max_blocking_threads: usize,
}

/// `[remote_write]`: limits on one remote-write request and on concurrency (see
/// docs/format/remote-write.md); converts into [`crate::write::WriteConfig`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteLimits {
    /// Largest compressed request body.
    pub max_body_bytes: ByteSize,
    /// Largest body after snappy decompression.
    pub max_decompressed_bytes: ByteSize,
    /// Most series (v1 timeseries, v2 series) in one request.
    pub max_series_per_request: usize,
    /// Most labels on one series, the metric name included.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes.
    pub max_label_name_length: usize,
    /// Longest label value in bytes.
    pub max_label_value_length: usize,
    /// How far ahead of the server's clock a sample may be.
    pub max_ahead: PromDuration,
    /// Requests decoded and appended at once; more wait up to `queue_timeout`, then
    /// answer 503.
    pub max_concurrent_requests: usize,
    /// How long a request waits for a free slot.
    pub queue_timeout: PromDuration,
}

impl From<&crate::write::WriteConfig> for RemoteWriteLimits {
    fn from(w: &crate::write::WriteConfig) -> Self {
        let l = &w.limits;
        RemoteWriteLimits {
            max_body_bytes: ByteSize(l.max_compressed_bytes as u64),
            max_decompressed_bytes: ByteSize(l.max_decompressed_bytes as u64),
            max_series_per_request: l.max_series_per_request,
            max_labels_per_series: l.max_labels_per_series,
            max_label_name_length: l.max_label_name_bytes,
            max_label_value_length: l.max_label_value_bytes,
            max_ahead: PromDuration(Duration::from_millis(
                u64::try_from(l.max_ahead_ms).unwrap_or(0),
            )),
            max_concurrent_requests: w.max_concurrent_requests,
            queue_timeout: PromDuration(w.queue_timeout),
        }
    }
}

impl Default for RemoteWriteLimits {
    fn default() -> Self {
        RemoteWriteLimits::from(&crate::write::WriteConfig::default())
    }
}

impl RemoteWriteLimits {
    /// The server's [`crate::write::WriteConfig`].
    fn into_write_config(self) -> Result<crate::write::WriteConfig, ConfigError> {
        let size = |key: &'static str, v: ByteSize| {
            usize::try_from(v.0).map_err(|_| ConfigError::Invalid {
                key,
                reason: format!("{} bytes is too large", v.0),
            })
        };
        if self.max_concurrent_requests == 0 {
            return Err(ConfigError::Invalid {
                key: "remote_write.max_concurrent_requests",
                reason: "must be at least 1".into(),
            });
        }
        Ok(crate::write::WriteConfig {
            limits: ingest::Limits {
                max_compressed_bytes: size("remote_write.max_body_bytes", self.max_body_bytes)?,
                max_decompressed_bytes: size(
                    "remote_write.max_decompressed_bytes",
                    self.max_decompressed_bytes,
                )?,
                max_series_per_request: self.max_series_per_request,
                max_labels_per_series: self.max_labels_per_series,
                max_label_name_bytes: self.max_label_name_length,
                max_label_value_bytes: self.max_label_value_length,
                max_ahead_ms: i64::try_from(self.max_ahead.0.as_millis()).unwrap_or(i64::MAX),
            },
            max_concurrent_requests: self.max_concurrent_requests,
            queue_timeout: self.queue_timeout.0,
        })
    }
}
