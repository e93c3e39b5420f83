//! [`AppState`]: what every HTTP handler shares.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::config::Config;
use crate::write::WriteMetrics;

/// Shared server state. Handlers get it as `State<Arc<AppState>>`.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the server started with.
    pub config: Config,
    /// The storage, set once the WAL has been replayed.
    db: OnceLock<Arc<tsdb::Db>>,
    /// The PromQL engine.
    pub engine: promql::Engine,
    /// Caps the number of queries evaluating at once.
    pub query_slots: Arc<tokio::sync::Semaphore>,
    /// When the server started.
    pub started: SystemTime,
    /// Every metric family of the process, served at `/metrics`. Components register
    /// their families when the state is built (and the storage when it opens).
    pub registry: parking_lot::Mutex<prometheus_client::registry::Registry>,
    /// Remote-write metrics (registered in `registry`).
    pub write_metrics: WriteMetrics,
    /// Caps the number of remote-write requests decoding or appending at once.
    pub write_slots: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State for a server whose storage is not open yet.
    pub fn new(config: Config) -> AppState {
        let mut registry = prometheus_client::registry::Registry::default();
        let write_metrics = WriteMetrics::register(&mut registry);
        AppState {
            write_metrics,
            write_slots: Arc::new(tokio::sync::Semaphore::new(
                config.write.max_concurrent_requests,
            )),
            engine: promql::Engine::new(config.engine.clone()),
            query_slots: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_queries)),
            config,
            db: OnceLock::new(),
            started: SystemTime::now(),
            registry: parking_lot::Mutex::new(registry),
        }
    }

    /// The storage, or `None` while the WAL is still being replayed (answer 503).
    pub fn db(&self) -> Option<&Arc<tsdb::Db>> {
        self.db.get()
    }

    /// Publishes the opened storage; the server is ready from now on.
    pub fn set_db(&self, db: Arc<tsdb::Db>) {
        // Only the start-up task calls this, once.
        let _ = self.db.set(db);
    }
}
