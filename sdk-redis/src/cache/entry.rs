//! [`CacheEntry`]: how long one value stays fresh, how long it may then be served stale,
//! and the tags it is stored under.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How [`Cache::get_or_load_with`](super::Cache::get_or_load_with) stores a loaded value.
///
/// ```
/// use sdk_redis::cache::CacheEntry;
/// use std::time::Duration;
/// // Fresh for a minute, then served stale for up to ten while one loader refreshes it,
/// // and removed with `invalidate_tag("user:7")`.
/// let entry = CacheEntry::stale_while_revalidate(Duration::from_secs(60), Duration::from_secs(600))
///     .tags(["user:7"]);
/// assert_eq!(entry.redis_ttl(), Duration::from_secs(660));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    fresh_for: Duration,
    stale_for: Duration,
    tags: Arc<[Arc<str>]>,
}

impl CacheEntry {
    /// Fresh for `ttl`, then gone (a zero `ttl`: kept without expiry, as `get_or_load`
    /// does).
    pub fn ttl(ttl: Duration) -> Self {
        Self {
            fresh_for: ttl,
            stale_for: Duration::ZERO,
            tags: Arc::from(Vec::new()),
        }
    }

    /// Fresh for `fresh_for`; then, for `stale_for` more, a read answers at once with the
    /// stale value while one loader refreshes it in the background; then gone (a normal
    /// miss). `fresh_for` is measured on the writer's clock (wall time), so hosts sharing
    /// the cache should keep their clocks in sync.
    pub fn stale_while_revalidate(fresh_for: Duration, stale_for: Duration) -> Self {
        Self {
            fresh_for,
            stale_for,
            tags: Arc::from(Vec::new()),
        }
    }

    /// Stores the value under `tags` too, for [`Cache::invalidate_tag`](super::Cache::invalidate_tag).
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.tags = tags.into_iter().map(|t| Arc::from(t.as_ref())).collect();
        self
    }

    /// How long Redis keeps the value: fresh plus stale time (zero: no expiry).
    pub fn redis_ttl(&self) -> Duration {
        if self.fresh_for.is_zero() {
            return Duration::ZERO;
        }
        self.fresh_for.saturating_add(self.stale_for)
    }

    /// The tags.
    pub(crate) fn tag_list(&self) -> &[Arc<str>] {
        &self.tags
    }

    /// Until when a value written now is fresh (milliseconds since the Unix epoch), when
    /// it may be served stale afterwards.
    pub(crate) fn fresh_until(&self) -> Option<u64> {
        if self.stale_for.is_zero() || self.fresh_for.is_zero() {
            return None;
        }
        Some(now_millis().saturating_add(millis(self.fresh_for)))
    }
}

/// Whole milliseconds of `duration`, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The wall clock in milliseconds since the Unix epoch (0 before it).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}
