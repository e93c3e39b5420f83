//! The server's configuration: defaults, the TOML file and the command-line flags.
//!
//! Three layers, each overriding the one before: the defaults ([`Config::default`]), the
//! TOML file named by `--config.file` ([`ConfigFile`], every key documented in
//! `deploy/config.example.toml`), and the flags ([`Flags`], Prometheus's names).
//! [`Config::load`] resolves them into one [`Config`], the plain struct the rest of the
//! server reads; it also converts the file's storage and query sections into
//! `tsdb::Options` and `promql::EngineOptions`, which know nothing about files.

mod file;
mod flags;
pub mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use file::{
    AuthRule, BasicUser, BucketConfig, ConfigFile, LogConfig, LogFormat, RemoteWriteLimits,
    RuntimeConfig, TlsConfig, WebAuth,
};
pub use flags::Flags;

/// Everything the server is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory (WAL, head chunks, blocks).
    pub data_dir: PathBuf,
    /// Where the HTTP server listens.
    pub listen_address: String,
    /// Storage engine options.
    pub tsdb: tsdb::Options,
    /// PromQL engine options (lookback delta, max samples, timeout).
    pub engine: promql::EngineOptions,
    /// How many queries may run at once.
    pub max_concurrent_queries: usize,
    /// How long data is kept (`--storage.tsdb.retention.time`), locally and in the bucket.
    pub retention_time: Duration,
    /// The most bytes of local blocks (plus the WAL) kept, 0 for no limit
    /// (`--storage.tsdb.retention.size`).
    pub retention_size: u64,
    /// HTTP: TLS, access control, admin API, shutdown.
    pub web: WebConfig,
    /// Logging.
    pub log: LogConfig,
    /// Tokio runtime sizes.
    pub runtime: RuntimeConfig,
    /// Remote-write limits and concurrency (`[remote_write]`).
    pub write: crate::write::WriteConfig,
    /// The compaction loop (`[compaction]`).
    pub compaction: CompactionConfig,
    /// Where blocks are uploaded (`[bucket]`).
    pub bucket: BucketConfig,
    /// The configuration file read, if any.
    pub config_file: Option<PathBuf>,
}

/// The HTTP side of [`Config`].
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    /// Whether `/api/v1/admin/*` is served (Prometheus's `--web.enable-admin-api`).
    pub enable_admin_api: bool,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsConfig>,
    /// Who may call which endpoints.
    pub auth: WebAuth,
}

/// The compaction loop's settings (see `compactor::RunnerOptions`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionConfig {
    /// Largest block compaction makes (`--storage.tsdb.max-block-duration`); zero means
    /// 10 % of the retention time, at most 31 d, as Prometheus derives it.
    pub max_block_duration: Duration,
    /// Time between cycles.
    pub interval: Duration,
    /// Keep uploaded blocks locally only this long; zero keeps them.
    pub local_retention: Duration,
    /// Delay between a bucket block's deletion mark and its removal.
    pub deletion_delay: Duration,
}

/// Prometheus's default retention when neither time nor size is set.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(15 * 24 * 3600);

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen_address: "127.0.0.1:9201".to_owned(),
            tsdb: tsdb::Options::default(),
            engine: promql::EngineOptions::default(),
            max_concurrent_queries: 20,
            retention_time: DEFAULT_RETENTION,
            retention_size: 0,
            web: WebConfig {
                enable_admin_api: false,
                shutdown_timeout: Duration::from_secs(30),
                tls: None,
                auth: WebAuth::default(),
            },
            log: LogConfig::default(),
            runtime: RuntimeConfig::default(),
            write: crate::write::WriteConfig::default(),
            compaction: CompactionConfig {
                max_block_duration: Duration::ZERO,
                interval: Duration::from_secs(60),
                local_retention: Duration::ZERO,
                deletion_delay: Duration::from_secs(2 * 3600),
            },
            bucket: BucketConfig::default(),
            config_file: None,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown or mistyped keys.
    #[error("parse config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line and column).
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid {key}: {reason}")]
    Invalid {
        /// The key or flag.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl Config {
    /// Resolves defaults, the file named by `--config.file` (if any) and the flags.
    pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
        let file = match &flags.config_file {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let mut config = file.into_config()?;
        config.config_file.clone_from(&flags.config_file);
        flags.apply(&mut config)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the per-crate `validate` functions do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.tsdb.validate().map_err(|e| ConfigError::Invalid {
            key: "storage",
            reason: e.to_string(),
        })?;
        self.engine.validate().map_err(|e| ConfigError::Invalid {
            key: "query",
            reason: e.to_string(),
        })?;
        if self.max_concurrent_queries == 0 {
            return Err(ConfigError::Invalid {
                key: "query.max-concurrency",
                reason: "must be at least 1".into(),
            });
        }
        if self.engine.timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "query.timeout",
                reason: "must be positive".into(),
            });
        }
        self.web.auth.validate()?;
        Ok(())
    }

    /// The largest block compaction makes: the configured one, or Prometheus's derived
    /// 10 % of the retention time (at most 31 d, at least the block range).
    pub fn effective_max_block_duration(&self) -> Duration {
        if !self.compaction.max_block_duration.is_zero() {
            return self.compaction.max_block_duration;
        }
        let opts = compactor::Options {
            min_block_duration: self.tsdb.block_range,
            retention_time: i64::try_from(self.retention_time.as_millis()).unwrap_or(i64::MAX),
            ..compactor::Options::default()
        };
        Duration::from_millis(u64::try_from(opts.max_block_duration()).unwrap_or(0))
    }

    /// Every flag's effective value, by flag name without the dashes, as Prometheus's
    /// `/api/v1/status/flags` serves them.
    pub fn flags(&self) -> BTreeMap<String, String> {
        let d = tsdb::units::format_duration;
        let entries = [
            (
                "config.file",
                self.config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("storage.tsdb.path", self.data_dir.display().to_string()),
            ("storage.tsdb.retention.time", d(self.retention_time)),
            (
                "storage.tsdb.retention.size",
                tsdb::units::format_bytes(self.retention_size),
            ),
            (
                "storage.tsdb.min-block-duration",
                d(Duration::from_millis(
                    u64::try_from(self.tsdb.block_range).unwrap_or(0),
                )),
            ),
            (
                "storage.tsdb.max-block-duration",
                d(self.effective_max_block_duration()),
            ),
            ("web.listen-address", self.listen_address.clone()),
            (
                "web.enable-admin-api",
                self.web.enable_admin_api.to_string(),
            ),
            ("query.timeout", d(self.engine.timeout)),
            ("query.max-samples", self.engine.max_samples.to_string()),
            (
                "query.max-concurrency",
                self.max_concurrent_queries.to_string(),
            ),
            (
                "query.lookback-delta",
                d(Duration::from_millis(
                    u64::try_from(self.engine.lookback_delta).unwrap_or(0),
                )),
            ),
            ("log.level", self.log.level.clone()),
            ("log.format", self.log.format.as_str().to_owned()),
        ];
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }
}

#[cfg(test)]
mod tests;
