//! The one bounded cache of metric handles (and other per-label values) every adapter uses.
//!
//! Keys are label combinations the instrumentation chooses (method, route template, status
//! class, command name), so a fast non-keyed hash is safe. Keys that can carry text from
//! outside (SQL statements with inline literals) take a seeded hasher instead, through
//! [`HandleCache::with_hasher`]. Once [`HandleCache::capacity`] keys are cached, new keys
//! are built on every use and not kept: memory stays bounded and the catalogue's
//! cardinality guard still bounds the series.
//!
//! ```
//! use sdk_core::handles::HandleCache;
//!
//! let cache: HandleCache<String, String> = HandleCache::new(2);
//! assert_eq!(cache.get_or_insert_with("GET", || "handle for GET".to_owned()), "handle for GET");
//! assert_eq!(cache.len(), 1);
//! ```

use rustc_hash::FxBuildHasher;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::RwLock;

/// A bounded, read-mostly map from label keys to cloned handles, hashed with `S`
/// (FxHash unless built [`with_hasher`](HandleCache::with_hasher)).
pub struct HandleCache<K, V, S = FxBuildHasher> {
    map: RwLock<HashMap<K, V, S>>,
    capacity: usize,
}

impl<K, V, S> std::fmt::Debug for HandleCache<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K, V> Default for HandleCache<K, V> {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl<K, V> HandleCache<K, V> {
    /// Keys kept by [`Default`].
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A cache keeping at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self::with_hasher(capacity, FxBuildHasher)
    }
}

impl<K, V, S> HandleCache<K, V, S> {
    /// A cache keeping at most `capacity` keys, hashed with `hasher` (a seeded one, such as
    /// `foldhash::fast::RandomState`, when keys can carry text from outside).
    pub fn with_hasher(capacity: usize, hasher: S) -> Self {
        Self {
            map: RwLock::new(HashMap::with_hasher(hasher)),
            capacity,
        }
    }

    /// Most keys kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys kept now.
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq, V: Clone, S: BuildHasher> HandleCache<K, V, S> {
    /// The value of `key`, built with `make` (and kept, while there is room) on first use.
    pub fn get_or_insert_with<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(found) = self.get(key) {
            return found;
        }
        let value = make();
        if let Ok(mut map) = self.map.write()
            && map.len() < self.capacity
        {
            return map.entry(key.to_owned()).or_insert(value).clone();
        }
        value
    }

    /// The cached value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.read().ok().and_then(|m| m.get(key).cloned())
    }
}
