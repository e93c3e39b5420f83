//! The server's configuration: defaults, the TOML file and the command-line flags.

use std::path::PathBuf;

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
    /// Remote-write limits and concurrency.
    pub write: crate::write::WriteConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen_address: "127.0.0.1:9201".to_owned(),
            tsdb: tsdb::Options::default(),
            engine: promql::EngineOptions::default(),
            max_concurrent_queries: 20,
            write: crate::write::WriteConfig::default(),
        }
    }
}
