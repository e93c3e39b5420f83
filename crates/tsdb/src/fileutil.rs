//! Small file-system helpers: directory fsync, atomic file replacement, the
//! data-directory lock, and ([`mmap`]) read-only file maps.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub mod mmap;

/// Fsyncs a directory so that entries created or renamed in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("fsync", dir, e))
}

/// Writes `bytes` to `path` atomically: into `<path>.tmp`, fsynced, renamed over `path`,
/// then the directory fsynced. Readers see the old content or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        std::io::Write::write_all(&mut f, bytes).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fsync_dir(dir),
        _ => Ok(()),
    }
}

/// Bytes of the files under `dir`, recursively (0 for what cannot be read).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// An exclusive advisory lock (`flock`) on `<dir>/lock`, held until dropped.
///
/// Prevents two processes (two tsdbd, or tsdbd and Prometheus) from writing one directory.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
    /// Whether dropping removes the lock file (not for a directory only read).
    remove_on_drop: bool,
}

impl DirLock {
    /// Takes the lock, failing at once if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(Error::io("lock", &path, std::io::Error::last_os_error()));
        }
        Ok(DirLock {
            _file: file,
            path,
            remove_on_drop: true,
        })
    }

    /// Takes the lock of a directory that is only read (a stopped Prometheus's, say)
    /// without changing it: an existing `lock` file is opened read-only and flocked, and
    /// left in place when dropped. `None` when there is no lock file (nothing to take
    /// without creating one). Fails at once if another process holds it.
    pub fn acquire_existing(dir: &Path) -> Result<Option<DirLock>> {
        let path = dir.join("lock");
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &path, e)),
        };
        // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(Error::io("lock", &path, std::io::Error::last_os_error()));
        }
        Ok(Some(DirLock {
            _file: file,
            path,
            remove_on_drop: false,
        }))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    /// Removes the lock file, as Prometheus does on a clean shutdown; the flock itself is
    /// released when the file closes. A leftover file (after a crash) is harmless.
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = DirLock::acquire(dir.path()).expect("first lock");
        let err = DirLock::acquire(dir.path()).expect_err("second lock must fail");
        assert!(matches!(err, Error::Io { op: "lock", .. }), "{err}");
        drop(lock);
        assert!(
            !dir.path().join("lock").exists(),
            "clean release removes the file"
        );
        DirLock::acquire(dir.path()).expect("lock after release");
    }

    #[test]
    fn an_existing_lock_is_taken_read_only_and_left_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            DirLock::acquire_existing(dir.path())
                .expect("no file")
                .is_none()
        );
        assert!(!dir.path().join("lock").exists(), "nothing created");
        let held = DirLock::acquire(dir.path()).expect("writer's lock");
        let err = DirLock::acquire_existing(dir.path()).expect_err("held elsewhere");
        assert!(matches!(err, Error::Io { op: "lock", .. }), "{err}");
        drop(held);
        std::fs::write(dir.path().join("lock"), b"").expect("a stopped process's file");
        let lock = DirLock::acquire_existing(dir.path())
            .expect("free")
            .expect("a lock file");
        assert!(DirLock::acquire(dir.path()).is_err(), "held while reading");
        drop(lock);
        assert!(dir.path().join("lock").exists(), "left in place");
    }
}
