//! A small bounded LRU of rendered sources, keyed by what determines a render: repository,
//! commit, path, directory options and, for renders by a config management plugin, a
//! variant naming the plugin and its inputs (see `plugin_cache_variant`). A commit is
//! immutable, so an entry never goes stale; it only ages out when newer keys need the room.
//!
//! One mutex guards the map and the recency order; it is never held while rendering, so two
//! callers missing the same key at once may both render it (the second result replaces the
//! first, and both are equal). Errors are not cached.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::walk::normalize_source_path;
use crate::{DirectoryOptions, RenderError, Rendered};

/// What a render depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderKey {
    /// The repository URL, as the caller normalises it.
    pub repo_url: String,
    /// The resolved commit (a full SHA, not a branch name).
    pub commit: String,
    /// The source path inside the repository, normalised (`./a/b/` and `a/b` are one key).
    pub path: String,
    /// The directory options.
    pub options: DirectoryOptions,
    /// What else the render depends on: empty for a plain directory, the result of
    /// [`plugin_cache_variant`](crate::plugin_cache_variant) for a plugin render.
    pub variant: String,
}

impl RenderKey {
    /// A key with the path normalised lexically (`.` and trailing `/` removed); a path that
    /// escapes the repository is kept as given (rendering it fails anyway).
    pub fn new(
        repo_url: impl Into<String>,
        commit: impl Into<String>,
        path: &str,
        options: DirectoryOptions,
    ) -> RenderKey {
        let path = match normalize_source_path(path) {
            Ok(parts) if parts.is_empty() => ".".to_string(),
            Ok(parts) => parts.join("/"),
            Err(_) => path.to_string(),
        };
        RenderKey {
            repo_url: repo_url.into(),
            commit: commit.into(),
            path,
            options,
            variant: String::new(),
        }
    }

    /// The key with `variant` set (plugin renders: the plugin and its inputs).
    pub fn with_variant(mut self, variant: impl Into<String>) -> RenderKey {
        self.variant = variant.into();
        self
    }
}

/// Counters of a [`RenderCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to render.
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
    /// Entries held at most.
    pub capacity: usize,
}

/// A bounded least-recently-used cache of [`Rendered`] sources.
#[derive(Debug)]
pub struct RenderCache {
    capacity: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Entry and the tick of its last use.
    entries: HashMap<RenderKey, (Arc<Rendered>, u64)>,
    /// Last-use tick to key, oldest first.
    order: BTreeMap<u64, RenderKey>,
    tick: u64,
}

// === impl RenderCache ===

impl RenderCache {
    /// A cache holding at most `capacity` renders (0 disables caching: every lookup renders).
    pub fn new(capacity: usize) -> RenderCache {
        RenderCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the map half-updated in a way that matters here.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached render for `key`, marking it recently used. Does not count as a hit or miss.
    pub fn get(&self, key: &RenderKey) -> Option<Arc<Rendered>> {
        self.lock().touch(key)
    }

    /// The cached render for `key`, or the result of `render` (cached when it succeeds).
    pub fn get_or_render(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Result<Rendered, RenderError>,
    ) -> Result<Arc<Rendered>, RenderError> {
        self.get_or_try_render(key, render)
    }

    /// [`get_or_render`](Self::get_or_render) for renders with another error type (plugin
    /// renders fail with `PluginError`). Errors are not cached.
    pub fn get_or_try_render<E>(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Result<Rendered, E>,
    ) -> Result<Arc<Rendered>, E> {
        if let Some(found) = self.lock().touch(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let rendered = Arc::new(render()?);
        if self.capacity > 0 {
            self.lock()
                .insert(key, Arc::clone(&rendered), self.capacity);
        }
        Ok(rendered)
    }

    /// Hit and miss counts and the current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().entries.len(),
            capacity: self.capacity,
        }
    }

    /// Drops every entry (the counters stay).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.order.clear();
    }
}

// === impl Inner ===

impl Inner {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn touch(&mut self, key: &RenderKey) -> Option<Arc<Rendered>> {
        let tick = self.next_tick();
        let (rendered, last) = self.entries.get_mut(key)?;
        let previous = std::mem::replace(last, tick);
        let rendered = Arc::clone(rendered);
        if let Some(key) = self.order.remove(&previous) {
            self.order.insert(tick, key);
        }
        Some(rendered)
    }

    fn insert(&mut self, key: RenderKey, rendered: Arc<Rendered>, capacity: usize) {
        let tick = self.next_tick();
        if let Some((_, previous)) = self.entries.insert(key.clone(), (rendered, tick)) {
            self.order.remove(&previous);
        }
        self.order.insert(tick, key);
        while self.entries.len() > capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(commit: &str) -> RenderKey {
        RenderKey::new(
            "https://git.example/repo.git",
            commit,
            "apps/web",
            DirectoryOptions::default(),
        )
    }

    fn empty() -> Result<Rendered, RenderError> {
        Ok(Rendered::new(Vec::new()))
    }

    #[test]
    fn the_cache_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<RenderCache>();
        shareable::<Arc<Rendered>>();
    }

    #[test]
    fn least_recently_used_entry_goes_first() {
        let cache = RenderCache::new(2);
        cache.get_or_render(key("a"), empty).expect("renders");
        cache.get_or_render(key("b"), empty).expect("renders");
        assert!(cache.get(&key("a")).is_some()); // a is now newer than b
        cache.get_or_render(key("c"), empty).expect("renders");
        assert!(cache.get(&key("b")).is_none());
        assert!(cache.get(&key("a")).is_some() && cache.get(&key("c")).is_some());
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 0,
                misses: 3,
                entries: 2,
                capacity: 2
            }
        );
    }

    #[test]
    fn variants_are_separate_entries() {
        let plain = key("a");
        assert_eq!(plain.variant, "");
        let one = key("a").with_variant("plugin x sha256:1");
        let two = key("a").with_variant("plugin x sha256:2");
        assert_ne!(plain, one);
        assert_ne!(one, two);
        let cache = RenderCache::new(4);
        cache.get_or_render(plain.clone(), empty).expect("renders");
        cache
            .get_or_try_render(one.clone(), || Ok::<_, String>(Rendered::new(Vec::new())))
            .expect("renders");
        assert!(cache.get(&one).is_some() && cache.get(&two).is_none());
        let failed = cache.get_or_try_render(two.clone(), || Err("boom".to_string()));
        assert_eq!(failed.err().as_deref(), Some("boom"));
        assert_eq!(cache.stats().entries, 2);
    }

    #[test]
    fn paths_are_normalised_and_errors_not_cached() {
        assert_eq!(
            RenderKey::new("r", "c", "./apps/web/", DirectoryOptions::default()),
            RenderKey::new("r", "c", "apps/web", DirectoryOptions::default())
        );
        assert_eq!(
            RenderKey::new("r", "c", "", DirectoryOptions::default()).path,
            "."
        );
        let cache = RenderCache::new(4);
        let failed = cache.get_or_render(key("a"), || {
            Err(RenderError::NotFound {
                path: "apps/web".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(cache.stats().entries, 0);
        let disabled = RenderCache::new(0);
        disabled.get_or_render(key("a"), empty).expect("renders");
        disabled.get_or_render(key("a"), empty).expect("renders");
        assert_eq!(disabled.stats().misses, 2);
    }
}
