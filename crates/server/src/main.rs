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
    tune_malloc();
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

/// Malloc's size from which an allocation gets its own mapping (returned to the kernel
/// when freed), and the free space at the top of a heap above which it is returned:
/// glibc's initial values, which it would otherwise raise.
const MALLOC_RELEASE_THRESHOLD: i32 = 128 << 10;

/// Fixes glibc malloc's mmap and trim thresholds (unless the environment sets them).
///
/// By default glibc raises both thresholds each time a large mapped block is freed, up to
/// 32 MiB and 64 MiB: after the first compactions and large remote-write bodies, such
/// buffers come from the heaps instead and their pages stay resident once freed. In the
/// whole-system benchmark at 100k series that was a third of the resident set (live heap
/// 79 MB, heaps 173 MB). With fixed thresholds large buffers are mapped and unmapped, and
/// heaps give back free tops: resident memory per series fell by 30% (1 MiB instead of
/// 128 KiB kept 12% more).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (param, var) in [
        (libc::M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
        (libc::M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: `mallopt` only changes malloc's parameters; it is called before any
            // other thread exists.
            unsafe { libc::mallopt(param, MALLOC_RELEASE_THRESHOLD) };
        }
    }
}
