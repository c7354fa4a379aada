//! The cache's housekeeping on disk and in memory: directories, the askpass helper, lock
//! files a killed git leaves behind, and the async locks (one per repository, one per tree
//! being written) that keep concurrent callers from doing the same work twice.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::Mutex as AsyncMutex;

use crate::error::GitError;

/// Async locks by key, created on first use.
pub(crate) type LockMap<K> = StdMutex<HashMap<K, Arc<AsyncMutex<()>>>>;

pub(crate) fn lock_for<K: Hash + Eq + Clone>(map: &LockMap<K>, key: &K) -> Arc<AsyncMutex<()>> {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key.clone()).or_default().clone()
}

/// Forgets a lock nobody else holds or waits for.
pub(crate) fn release<K: Hash + Eq>(map: &LockMap<K>, key: &K, lock: Arc<AsyncMutex<()>>) {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if Arc::strong_count(&lock) == 2 {
        map.remove(key);
    }
}

pub(crate) async fn is_dir(path: &Path) -> bool {
    tokio::fs::metadata(path).await.is_ok_and(|m| m.is_dir())
}

/// Lock files git leaves when it is killed mid-update; they would fail every later fetch.
pub(crate) async fn clear_stale_locks(bare: &Path) {
    for name in [
        "packed-refs.lock",
        "shallow.lock",
        "config.lock",
        "HEAD.lock",
        "index.lock",
    ] {
        let _ = tokio::fs::remove_file(bare.join(name)).await;
    }
    let mut stack = vec![bare.join("refs")];
    while let Some(dir) = stack.pop() {
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            continue;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            match entry.file_type().await {
                Ok(ft) if ft.is_dir() => stack.push(path),
                Ok(_) if path.extension().is_some_and(|e| e == "lock") => {
                    let _ = tokio::fs::remove_file(&path).await;
                }
                _ => {}
            }
        }
    }
}

pub(crate) fn mkdir(dir: &Path) -> Result<(), GitError> {
    std::fs::create_dir_all(dir).map_err(|e| GitError::io("create", dir, e))
}

pub(crate) fn clear_dir(dir: &Path) -> Result<(), GitError> {
    let entries = std::fs::read_dir(dir).map_err(|e| GitError::io("read", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| GitError::io("remove the leftover", &path, e))?;
    }
    Ok(())
}

pub(crate) fn write_executable(path: &Path, tmp: &Path, contents: &str) -> Result<(), GitError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let staging = tmp.join(format!("askpass-{}", uuid::Uuid::new_v4()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&staging)
        .map_err(|e| GitError::io("create", &staging, e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| GitError::io("write", &staging, e))?;
    drop(file);
    std::fs::rename(&staging, path).map_err(|e| GitError::io("install", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stale_lock_files_go_and_refs_stay() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let bare = dir.path();
        let heads = bare.join("refs/heads/team");
        std::fs::create_dir_all(&heads).unwrap_or_default();
        for file in [
            "packed-refs.lock",
            "packed-refs",
            "refs/heads/team/a.lock",
            "refs/heads/team/a",
        ] {
            std::fs::write(bare.join(file), "x").unwrap_or_default();
        }
        clear_stale_locks(bare).await;
        assert!(!bare.join("packed-refs.lock").exists());
        assert!(!bare.join("refs/heads/team/a.lock").exists());
        assert!(bare.join("packed-refs").exists());
        assert!(bare.join("refs/heads/team/a").exists());
    }
}
