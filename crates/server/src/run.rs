//! The process lifecycle: listen, open the storage, serve, and shut down in a fixed order.
//!
//! 1. Bind the listener (TLS if configured) and answer at once: `/-/healthy` is 200,
//!    `/-/ready` is 503 while the WAL replays on a blocking thread.
//! 2. The storage opens into its own metrics registry, so `/metrics` never waits for
//!    replay; then the state publishes it and the server is ready.
//! 3. On the shutdown signal: stop accepting, let in-flight requests finish (at most
//!    `web.shutdown_timeout`), wait for a replay still running, then flush and close the
//!    WAL. Handlers only borrow the storage through the state; once they are done the state
//!    has one owner and `Db::close` takes the database by value. If a straggler (a query
//!    on a blocking thread) still holds it when the timeout ends, the WAL is closed
//!    through the shared reference instead, so later commits fail instead of being lost.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The storage could not be opened.
    #[error("open storage: {0}")]
    Open(tsdb::Error),
    /// The bucket or the compaction loop could not be set up.
    #[error("compaction: {0}")]
    Compactor(compactor::Error),
    /// The storage could not be closed cleanly.
    #[error("close storage: {0}")]
    Close(tsdb::Error),
    /// Serving failed.
    #[error("serve: {0}")]
    Serve(std::io::Error),
    /// A task panicked.
    #[error("task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Builds the Tokio runtime the configuration asks for: async workers, and a blocking
/// pool large enough for every query slot and remote-write slot.
pub fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name("tsdbd");
    if config.runtime.worker_threads > 0 {
        b.worker_threads(config.runtime.worker_threads);
    }
    let blocking = match config.runtime.max_blocking_threads {
        0 => config.max_concurrent_queries + config.write.max_concurrent_requests + 16,
        n => n,
    };
    b.max_blocking_threads(blocking);
    b.build()
}

/// A future that completes on SIGTERM or SIGINT. The handlers are installed when this is
/// called (inside the runtime), not when the future is first polled.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received SIGTERM; shutting down"),
            _ = int.recv() => tracing::info!("received SIGINT; shutting down"),
        }
    })
}

/// Runs the server until `shutdown` completes (or the storage fails to open), then shuts
/// down in order. `Ok` means the WAL was flushed and closed.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let tls = config
        .web
        .tls
        .as_ref()
        .map(crate::http::tls::server_config)
        .transpose()
        .map_err(Error::Tls)?;
    let tcp = TcpListener::bind(&config.listen_address)
        .await
        .map_err(|source| Error::Bind {
            address: config.listen_address.clone(),
            source,
        })?;
    let address = tcp.local_addr().map_err(Error::Serve)?;
    let drain = config.web.shutdown_timeout;
    let state = Arc::new(AppState::new(config));
    tracing::info!(address = %address, tls = tls.is_some(), "listening");

    let open_state = Arc::clone(&state);
    let mut opening: JoinHandle<Result<(), Error>> =
        tokio::task::spawn_blocking(move || open_storage(&open_state));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = crate::http::app(Arc::clone(&state));
    let mut serving = tokio::spawn(crate::http::serve(tcp, tls, app, async {
        let _ = stop_rx.await;
    }));

    tokio::pin!(shutdown);
    let mut opened: Option<Result<(), Error>> = None;
    let mut served: Option<Result<(), Error>> = None;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            r = &mut opening, if opened.is_none() => {
                let r = flatten_open(r);
                let failed = r.is_err();
                opened = Some(r);
                if failed {
                    break;
                }
            }
            r = &mut serving => {
                served = Some(match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(Error::Serve(e)),
                    Err(e) => Err(Error::Join(e)),
                });
                break;
            }
        }
    }

    // 1. Stop accepting; 2. drain in-flight requests, bounded.
    let _ = stop_tx.send(());
    let deadline = Instant::now() + drain;
    if served.is_none() {
        match tokio::time::timeout(drain, &mut serving).await {
            Ok(r) => {
                tracing::info!("HTTP server stopped; requests drained");
                served = Some(match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(Error::Serve(e)),
                    Err(e) => Err(Error::Join(e)),
                });
            }
            Err(_) => {
                tracing::warn!(timeout = ?drain, "requests still running at the shutdown timeout; abandoning them");
                serving.abort();
                served = Some(Ok(()));
            }
        }
    }
    // 3. A replay still running finishes first: closing mid-replay would leave nothing
    //    to close, and the replay may be repairing the WAL's tail.
    let opened = match opened {
        Some(r) => r,
        None => {
            tracing::info!("waiting for WAL replay to finish before closing");
            flatten_open(opening.await)
        }
    };
    // 4. Stop the compaction loop (it holds the storage), after its current cycle.
    if let Some(handle) = state.take_compactor() {
        tracing::info!("stopping the compaction loop");
        tokio::task::spawn_blocking(move || handle.stop()).await?;
    }
    // 5. Flush and close the WAL.
    let closed = close_storage(state, deadline).await;
    opened.and(served.unwrap_or(Ok(()))).and(closed)
}

fn flatten_open(r: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Error> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "opening the storage failed");
            Err(e)
        }
        Err(e) => Err(Error::Join(e)),
    }
}

/// Opens the data directory (replaying the WAL), starts the compaction loop and publishes
/// the storage; runs on a blocking thread.
fn open_storage(state: &AppState) -> Result<(), Error> {
    let started = Instant::now();
    let config = &state.config;
    let dir = &config.data_dir;
    tracing::info!(path = %dir.display(), "opening storage; replaying WAL");
    let mut registry = Registry::default();
    let db = tsdb::Db::open(dir, config.tsdb.clone(), &mut registry).map_err(Error::Open)?;
    let db = Arc::new(db);
    let bucket = open_bucket(config).map_err(Error::Open)?;
    let runner = compactor::Runner::new(Arc::clone(&db), runner_options(config), bucket)
        .map_err(Error::Compactor)?;
    state.set_compactor(runner.spawn().map_err(Error::Serve)?);
    // Detached: it ends with the database.
    drop(crate::malloc::spawn_release_thread(Arc::downgrade(&db)).map_err(Error::Serve)?);
    state.set_storage_registry(registry);
    state.set_db(db);
    tracing::info!(
        replay_ms = started.elapsed().as_millis() as u64,
        "storage open; server is ready"
    );
    Ok(())
}

/// The bucket blocks go to, if uploading is enabled.
fn open_bucket(config: &Config) -> Result<Option<Arc<dyn tsdb::bucket::Bucket>>, tsdb::Error> {
    let b = &config.bucket;
    if !b.enabled {
        return Ok(None);
    }
    let url = if b.url.is_empty() {
        let dir = std::path::absolute(config.data_dir.join("bucket"))
            .map_err(|e| tsdb::Error::io("resolve", config.data_dir.join("bucket"), e))?;
        format!("file://{}", dir.display())
    } else {
        b.url.clone()
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let options = objstore::Options {
        endpoint: some(&b.endpoint),
        region: some(&b.region),
        access_key_id: some(&b.access_key_id),
        secret_access_key: some(&b.secret_access_key),
        allow_http: b.allow_http,
        ..objstore::Options::default()
    };
    tracing::info!(url = %url, "uploading blocks to the bucket");
    objstore::open(&url, &options).map(Some)
}

/// The compaction loop's options from the configuration.
fn runner_options(config: &Config) -> compactor::RunnerOptions {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    compactor::RunnerOptions {
        compaction: compactor::Options {
            min_block_duration: config.tsdb.block_range,
            retention_time: ms(config.retention_time),
            retention_size: config.retention_size,
            max_block_duration: (!config.compaction.max_block_duration.is_zero())
                .then(|| ms(config.compaction.max_block_duration)),
            ..compactor::Options::default()
        },
        interval: config.compaction.interval,
        local_retention: ms(config.compaction.local_retention),
        deletion_delay: config.compaction.deletion_delay,
    }
}

/// Closes the storage once no one else holds the state, or at `deadline` through a
/// shared reference.
async fn close_storage(mut state: Arc<AppState>, deadline: Instant) -> Result<(), Error> {
    loop {
        match Arc::try_unwrap(state) {
            Ok(owned) => {
                let Some(db) = owned.into_db() else {
                    return Ok(());
                };
                return match Arc::try_unwrap(db) {
                    Ok(db) => {
                        tokio::task::spawn_blocking(move || db.close())
                            .await?
                            .map_err(Error::Close)?;
                        tracing::info!("WAL flushed and closed");
                        Ok(())
                    }
                    Err(db) => close_shared(&db).await,
                };
            }
            Err(shared) => {
                if Instant::now() >= deadline {
                    tracing::warn!(
                        "storage still in use at the shutdown timeout; closing the WAL under it"
                    );
                    return match shared.db() {
                        Some(db) => close_shared(db).await,
                        None => Ok(()),
                    };
                }
                state = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn close_shared(db: &Arc<tsdb::Db>) -> Result<(), Error> {
    let db = Arc::clone(db);
    tokio::task::spawn_blocking(move || db.head().close())
        .await?
        .map_err(Error::Close)?;
    tracing::info!("WAL flushed and closed");
    Ok(())
}
