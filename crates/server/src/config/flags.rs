//! [`Flags`]: the command line, with Prometheus's flag names.
//!
//! Every flag is optional: one given overrides the configuration file, one left out keeps
//! the file's value (or the default). `--flag value` and `--flag=value` both work.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::{Config, ConfigError, LogFormat};
use tsdb::units::{parse_bytes, parse_duration};

/// A Prometheus-compatible time-series database.
///
/// Every flag overrides the same setting in the configuration file; see
/// deploy/config.example.toml for everything else.
#[derive(Debug, Default, Clone, Parser)]
#[command(name = "tsdbd", version)]
pub struct Flags {
    /// TOML configuration file.
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Data directory (WAL, blocks). Created if missing. [default: data]
    #[arg(long = "storage.tsdb.path", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// How long to keep data, e.g. 15d, 1h30m. [default: 15d]
    #[arg(long = "storage.tsdb.retention.time", value_name = "DURATION", value_parser = parse_duration)]
    pub retention_time: Option<Duration>,
    /// Most bytes of local blocks and WAL to keep, e.g. 512MB; 0 is no limit. [default: 0]
    #[arg(long = "storage.tsdb.retention.size", value_name = "SIZE", value_parser = parse_bytes)]
    pub retention_size: Option<u64>,
    /// Block range: the span of one block and of head chunks. [default: 2h]
    #[arg(long = "storage.tsdb.min-block-duration", value_name = "DURATION", value_parser = parse_duration)]
    pub min_block_duration: Option<Duration>,
    /// Largest block compaction makes; 0 means 10% of the retention time, at most 31d.
    /// [default: 0]
    #[arg(long = "storage.tsdb.max-block-duration", value_name = "DURATION", value_parser = parse_duration)]
    pub max_block_duration: Option<Duration>,
    /// Address to listen on. [default: 127.0.0.1:9201]
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen_address: Option<String>,
    /// Serve the admin API (/api/v1/admin/*).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Longest a query may run. [default: 2m]
    #[arg(long = "query.timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub query_timeout: Option<Duration>,
    /// Most samples a query may hold in memory. [default: 50000000]
    #[arg(long = "query.max-samples", value_name = "N")]
    pub query_max_samples: Option<usize>,
    /// Most queries evaluating at once. [default: 20]
    #[arg(long = "query.max-concurrency", value_name = "N")]
    pub query_max_concurrency: Option<usize>,
    /// How far back an instant selector looks for a sample. [default: 5m]
    #[arg(long = "query.lookback-delta", value_name = "DURATION", value_parser = parse_duration)]
    pub query_lookback_delta: Option<Duration>,
    /// Log level: debug, info, warn, error. [default: info]
    #[arg(long = "log.level", value_name = "LEVEL", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: Option<String>,
    /// Log format: logfmt or json. [default: logfmt]
    #[arg(long = "log.format", value_name = "FORMAT", value_parser = ["logfmt", "json"])]
    pub log_format: Option<String>,
}

impl Flags {
    /// Writes every flag given into `config`.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        let ms = |key: &'static str, d: Duration| {
            i64::try_from(d.as_millis()).map_err(|_| ConfigError::Invalid {
                key,
                reason: "too large".into(),
            })
        };
        if let Some(v) = &self.data_dir {
            config.data_dir.clone_from(v);
        }
        if let Some(v) = self.retention_time {
            config.retention_time = v;
        }
        if let Some(v) = self.retention_size {
            config.retention_size = v;
        }
        if let Some(v) = self.min_block_duration {
            config.tsdb.block_range = ms("storage.tsdb.min-block-duration", v)?;
        }
        if let Some(v) = self.max_block_duration {
            config.compaction.max_block_duration = v;
        }
        if let Some(v) = &self.listen_address {
            config.listen_address.clone_from(v);
        }
        if self.enable_admin_api {
            config.web.enable_admin_api = true;
        }
        if let Some(v) = self.query_timeout {
            config.engine.timeout = v;
        }
        if let Some(v) = self.query_max_samples {
            config.engine.max_samples = v;
        }
        if let Some(v) = self.query_max_concurrency {
            config.max_concurrent_queries = v;
        }
        if let Some(v) = self.query_lookback_delta {
            config.engine.lookback_delta = ms("query.lookback-delta", v)?;
        }
        if let Some(v) = &self.log_level {
            config.log.level.clone_from(v);
        }
        if let Some(v) = &self.log_format {
            config.log.format = match v.as_str() {
                "json" => LogFormat::Json,
                _ => LogFormat::Logfmt,
            };
        }
        Ok(())
    }
}
