//! The `tsdbd` binary: parse flags, open the storage, serve HTTP until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

/// A Prometheus-compatible time-series database.
#[derive(Debug, Parser)]
#[command(name = "tsdbd", version)]
struct Args {
    /// Data directory (WAL, head chunks, blocks). Created if missing.
    #[arg(long = "storage.tsdb.path", default_value = "data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9201")]
    listen_address: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = server::Config {
        data_dir: args.data_dir,
        listen_address: args.listen_address,
        ..Default::default()
    };
    let state = Arc::new(server::state::AppState::new(config.clone()));
    let listener = tokio::net::TcpListener::bind(&config.listen_address)
        .await
        .with_context(|| format!("listen on {}", config.listen_address))?;
    tracing::info!(address = %config.listen_address, "listening");
    let open_state = Arc::clone(&state);
    let opened = tokio::task::spawn_blocking(move || {
        let db = tsdb::Db::open(
            &config.data_dir,
            config.tsdb.clone(),
            &mut open_state.registry.lock(),
        )?;
        open_state.set_db(Arc::new(db));
        tracing::info!("storage open; ready");
        Ok::<(), tsdb::Error>(())
    });
    let app = server::http::app(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serve")?;
    opened.await.context("join")?.context("open storage")?;
    Ok(())
}
