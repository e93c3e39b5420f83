//! [`AppState`]: what every HTTP handler shares.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::metrics::{HttpMetrics, QueryMetrics};
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
    /// The storage's metric families, registered while it opened (served with the
    /// `tsdbd_` prefix).
    storage_registry: OnceLock<Registry>,
    /// Every flag's effective value, for `/api/v1/status/flags`.
    pub flags: BTreeMap<String, String>,
    /// Query duration and concurrency, for the query API to feed.
    pub query_metrics: QueryMetrics,
    /// HTTP requests by handler and code (fed by the `http` middleware).
    pub http_metrics: HttpMetrics,
    /// Remote-write metrics (registered in `registry`).
    pub write_metrics: WriteMetrics,
    /// Caps the number of remote-write requests decoding or appending at once.
    pub write_slots: Arc<tokio::sync::Semaphore>,
    /// The compaction thread, once the storage is open; stopped before closing it.
    compactor: parking_lot::Mutex<Option<compactor::RunnerHandle>>,
}

impl AppState {
    /// State for a server whose storage is not open yet.
    pub fn new(config: Config) -> AppState {
        let mut registry = Registry::default();
        let query_metrics = QueryMetrics::register(&mut registry, config.max_concurrent_queries);
        let http_metrics = HttpMetrics::register(&mut registry);
        let write_metrics = WriteMetrics::register(&mut registry);
        AppState {
            write_metrics,
            write_slots: Arc::new(tokio::sync::Semaphore::new(
                config.write.max_concurrent_requests,
            )),
            engine: promql::Engine::new(config.engine.clone()),
            query_slots: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_queries)),
            flags: config.flags(),
            config,
            db: OnceLock::new(),
            started: SystemTime::now(),
            registry: parking_lot::Mutex::new(registry),
            storage_registry: OnceLock::new(),
            query_metrics,
            http_metrics,
            compactor: parking_lot::Mutex::new(None),
        }
    }

    /// Hands over the running compaction thread.
    pub fn set_compactor(&self, handle: compactor::RunnerHandle) {
        *self.compactor.lock() = Some(handle);
    }

    /// Takes the compaction thread, for stopping it at shutdown.
    pub fn take_compactor(&self) -> Option<compactor::RunnerHandle> {
        self.compactor.lock().take()
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

    /// The storage's metric families, once it is open.
    pub fn storage_registry(&self) -> Option<&Registry> {
        self.storage_registry.get()
    }

    /// Publishes the registry the storage registered its metrics into (before
    /// [`AppState::set_db`]).
    pub fn set_storage_registry(&self, registry: Registry) {
        let _ = self.storage_registry.set(registry);
    }

    /// Takes the storage out of the state, for closing it at shutdown.
    pub fn into_db(self) -> Option<Arc<tsdb::Db>> {
        self.db.into_inner()
    }
}
