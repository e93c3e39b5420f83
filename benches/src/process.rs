//! What a server process costs, read from `/proc`: CPU seconds and resident memory.
//!
//! Used by every side-by-side bench and the whole-system benchmark, so all of them measure
//! the same way: CPU is user + system time of the process (not its children) from
//! `/proc/<pid>/stat`, memory is `VmRSS` from `/proc/<pid>/status`.

use anyhow::{Context as _, Result};

/// User + system CPU seconds of `pid` so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .context("no command name in /proc/<pid>/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("field {} of /proc/{pid}/stat", i + 3))
    };
    let ticks = field(11)? + field(12)?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}

/// Resident memory of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")?;
    Ok(kb * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_and_memory() {
        let pid = std::process::id();
        let mut x = 0u64;
        for i in 0..10_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(pid).expect("cpu") >= 0.0);
        assert!(rss_bytes(pid).expect("rss") > 1e6);
    }
}
