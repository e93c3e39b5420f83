//! The `tsdbd` binary: parse flags, load the configuration, and run the server until
//! SIGTERM or SIGINT (see [`server::run`] for the order of start-up and shutdown).
//!
//! Exit codes: 0 after a clean shutdown, 1 on a runtime error (address in use, storage
//! that cannot be opened or closed), 2 on bad flags or a bad configuration file.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use server::config::{Config, Flags};

fn main() -> ExitCode {
    server::malloc::tune();
    let flags = Flags::parse();
    let config = match Config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tsdbd: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = server::logging::init(&config.log) {
        eprintln!("tsdbd: {e}");
        return ExitCode::from(2);
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "tsdbd stopped");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = server::run::runtime(&config).context("start the async runtime")?;
    let result = runtime.block_on(async {
        let signal = server::run::shutdown_signal().context("install signal handlers")?;
        server::run::run(config, signal).await?;
        anyhow::Ok(())
    });
    // Abandoned requests (past the shutdown timeout) do not hold the process up.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if result.is_ok() {
        tracing::info!("shutdown complete");
    }
    result
}
