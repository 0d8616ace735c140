//! The data directory's lock: one process serves an in-process hot tier
//! from a data directory at a time.
//!
//! Two processes with in-process tiers on one data directory would each keep
//! their own copy of the live sessions: a logout through one would leave the
//! old cookie working on the other. The lock is an advisory lock on
//! `DATA_DIR/stint.lock`, held for the life of the process and released by
//! the operating system when it dies, so a crash never leaves it behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another process holds it; its pid, if it wrote one.
    Held(PathBuf, Option<String>),
    /// The file could not be opened or locked.
    Io(PathBuf, std::io::Error),
}

impl DirLock {
    /// Takes the lock of `dir`, or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        let path = dir.join("stint.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io(path.clone(), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty());
                return Err(LockError::Held(dir.to_path_buf(), pid));
            }
            Err(TryLockError::Error(e)) => return Err(LockError::Io(path, e)),
        }
        // Who holds it, for the message a second process prints.
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(LockError::Held(d, pid)) => {
                assert_eq!(d, dir.path());
                assert_eq!(pid, Some(std::process::id().to_string()));
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        drop(first);
        assert!(DirLock::acquire(dir.path()).is_ok());
    }
}
