//! [`QueryCache`]: sanitized statements by their original text, bounded (sdk-core's one
//! [`HandleCache`], with a seeded hasher: statement text can carry inline literals).

use super::{Dialect, SanitizedQuery, sanitize_for};
use foldhash::fast::RandomState;
use sdk_core::handles::HandleCache;
use std::sync::Arc;

/// Longest statement whose sanitized form is cached, in bytes (longer ones are built with
/// inline data and would make the cache hold their text).
pub const MAX_CACHED_SQL_LEN: usize = 4096;

/// Sanitized statements by their original text, bounded.
///
/// Lookups take a shared lock and hash the text once; when `capacity` distinct statements
/// are cached (statements built with inline literals can be endless), new ones are
/// sanitized every time instead of growing the cache.
///
/// `T` is what is kept per statement: the [`SanitizedQuery`] itself by default, or a type
/// built from it (the pool keeps its metric handles next to it).
#[derive(Debug)]
pub struct QueryCache<T = SanitizedQuery> {
    entries: HandleCache<String, Arc<T>, RandomState>,
    dialect: Dialect,
}

impl<T> Default for QueryCache<T> {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl QueryCache<SanitizedQuery> {
    /// The sanitized form of `sql`, from the cache when seen before.
    pub fn get(&self, sql: &str) -> Arc<SanitizedQuery> {
        self.get_with(sql, |query| query)
    }
}

impl<T> QueryCache<T> {
    /// A cache of at most `capacity` statements.
    pub fn new(capacity: usize) -> Self {
        Self::with_dialect(capacity, Dialect::Postgres)
    }

    /// A cache of at most `capacity` statements sanitized by the rules of `dialect`.
    pub fn with_dialect(capacity: usize, dialect: Dialect) -> Self {
        Self {
            entries: HandleCache::with_hasher(capacity, RandomState::default()),
            dialect,
        }
    }

    /// The entry of `sql`, made from its sanitized form by `make` when not seen before.
    pub fn get_with(&self, sql: &str, make: impl FnOnce(SanitizedQuery) -> T) -> Arc<T> {
        let build = || Arc::new(make(sanitize_for(sql, self.dialect)));
        if sql.len() > MAX_CACHED_SQL_LEN {
            return build();
        }
        self.entries.get_or_insert_with(sql, build)
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
