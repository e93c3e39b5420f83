//! `server`: the tsdbd process.
//!
//! Today it opens the storage engine on a data directory and keeps it open until a
//! shutdown signal, then closes it in order (flushing the WAL). Issue 4 adds the HTTP
//! server (remote write, the Prometheus query API) on top of [`Server::start`];
//! issue 5 adds the local-directory bucket that becomes the default object store.

use std::path::PathBuf;

use prometheus_client::registry::Registry;
use tracing::info;

/// The server's configuration (file and flags arrive with issue 4).
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory (WAL, head chunks, blocks).
    pub data_dir: PathBuf,
    /// Storage engine options.
    pub tsdb: tsdb::Options,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            tsdb: tsdb::Options::default(),
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    db: tsdb::Db,
    registry: Registry,
}

impl Server {
    /// Opens the storage (replaying the WAL) and returns the running server.
    pub fn start(config: Config) -> tsdb::Result<Server> {
        let mut registry = Registry::default();
        let db = tsdb::Db::open(&config.data_dir, config.tsdb, &mut registry)?;
        info!(
            data_dir = %config.data_dir.display(),
            series = db.head().num_series(),
            "storage open"
        );
        Ok(Server { db, registry })
    }

    /// The storage.
    pub fn db(&self) -> &tsdb::Db {
        &self.db
    }

    /// The metrics registry every component registered into.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Shuts down in order: flush and close the WAL, release the directory lock.
    pub fn shutdown(self) -> tsdb::Result<()> {
        self.db.close()?;
        info!("storage closed");
        Ok(())
    }
}
