//! Invalidation by key, by tag and by prefix, each counted in `sdk.cache.invalidations`
//! and `sdk.cache.invalidated_keys` with `sdk.cache.invalidation=key|tag|prefix`.

use super::Cache;
use redis::aio::ConnectionLike;
use sdk_core::catalogue::{CACHE_INVALIDATED_KEYS, CACHE_INVALIDATIONS};
use sdk_core::semconv::sdk;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

/// Keys asked of each `SCAN` step, and the most keys one `UNLINK` removes: what a prefix
/// invalidation holds in memory at a time.
pub const PREFIX_BATCH: usize = 500;

/// Members a tag invalidation pops and unlinks per round (one script): what one round
/// costs Redis, where every other client waits.
pub const TAG_BATCH: usize = 500;

/// Rounds a tag invalidation may run per second of the cache's timeout (at least
/// [`MIN_TAG_ROUNDS`] in all): 1,000, one round of [`TAG_BATCH`] keys per millisecond
/// (with a 10 s timeout, 10,000 rounds: 5,000,000 keys). A round usually takes well under
/// a millisecond; the bound stops a tag that is refilled as fast as it is emptied, and
/// holds even where the clock does not move (a paused Tokio clock).
const TAG_ROUNDS_PER_SECOND: u64 = 1_000;

/// The fewest rounds a tag invalidation may run, however short the timeout.
const MIN_TAG_ROUNDS: u64 = 16;

/// One round of a tag invalidation: pops up to [`TAG_BATCH`] members of the tag set
/// `KEYS[1]` and unlinks those keys (only them: the set is named by
/// [`tag_key`], so a tag cannot name a key that was not registered in it; Redis deletes
/// the set with its last member). Returns `{keys removed (of those that still existed),
/// 1 when the set is now empty else 0}`. Atomic: short, bounded by one batch.
const INVALIDATE_TAG_ROUND: &str = r"
local keys = redis.call('SPOP', KEYS[1], 500)
local removed = 0
if #keys > 0 then
  removed = redis.call('UNLINK', unpack(keys))
end
local empty = 0
if redis.call('SCARD', KEYS[1]) == 0 then
  empty = 1
end
return {removed, empty}
";

/// Why an invalidation failed. Keys removed before the failure stay removed (and counted
/// in `sdk.cache.invalidated_keys`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidationError {
    /// Redis answered with an error, or the connection failed.
    #[error("invalidation failed: {0}")]
    Redis(#[source] redis::RedisError),
    /// A Redis command did not answer within the cache's timeout (for a tag invalidation:
    /// the whole call did not finish within it).
    #[error("invalidation: Redis did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// A tag invalidation ran the most rounds this cache's timeout allows (see
    /// [`Cache::invalidate_tag`]) and the tag set was still not empty (it is being refilled
    /// as fast as it is emptied, or holds more than that many batches). Call again to go on.
    #[error(
        "invalidate_tag: the tag set was not empty after {0} rounds of {TAG_BATCH} keys, the most this cache's timeout allows"
    )]
    TagRounds(u64),
    /// `invalidate_prefix("")` would remove every key of the database; it is refused.
    #[error(
        "invalidate_prefix: the prefix is empty, which would match every key; name a non-empty prefix"
    )]
    EmptyPrefix,
}

/// How a set of keys was invalidated (the `sdk.cache.invalidation` label).
#[derive(Clone, Copy)]
enum Kind {
    Key,
    Tag,
    Prefix,
}

impl Kind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Tag => "tag",
            Self::Prefix => "prefix",
        }
    }
}

/// The Redis key of the set of keys tagged `tag`: `<namespace>:<tag>` with every byte of
/// the tag outside `[A-Za-z0-9_.-]` percent-encoded. Distinct tags get distinct keys,
/// always under `<namespace>:`, and never with a glob metacharacter, a `:` or a hash tag
/// brace: a tag cannot name a key outside its namespace nor another tag's.
pub(crate) fn tag_key(namespace: &str, tag: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + 1 + tag.len());
    key.push_str(namespace);
    key.push(':');
    for byte in tag.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-') {
            key.push(char::from(byte));
        } else {
            let _ = write!(key, "%{byte:02X}");
        }
    }
    key
}

/// `prefix` as a `SCAN MATCH` pattern matching exactly the keys that start with it:
/// `* ? [ ] \` escaped, `*` appended.
pub(crate) fn prefix_pattern(prefix: &[u8]) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(prefix.len() + 1);
    for &byte in prefix {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(byte);
    }
    pattern.push(b'*');
    pattern
}

impl<C> Cache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Removes `key` (`UNLINK`); returns how many keys were removed (0 or 1).
    pub async fn invalidate(&self, key: &str) -> Result<u64, InvalidationError> {
        let prefix = self.connection.config().prefix_of(key.as_bytes());
        let mut unlink = redis::cmd("UNLINK");
        unlink.arg(key);
        let removed = self.query::<u64>(&unlink).await?;
        count(prefix.as_ref(), Kind::Key, removed, true);
        Ok(removed)
    }

    /// Removes every key stored with `tag` (see
    /// [`CacheEntry::tags`](super::CacheEntry::tags)) and the tag's set; returns how many of
    /// those keys still existed.
    ///
    /// Runs in rounds, each one short script: pop up to [`TAG_BATCH`] members of the tag
    /// set (`SPOP`) and `UNLINK` those keys, until the set is empty (Redis then deletes
    /// it). Each round is atomic, and no round holds Redis for more than one batch, so
    /// other clients are not stalled by a large tag. The invalidation as a whole is not
    /// atomic: a value stored with `tag` while it runs may survive it or be removed by it.
    ///
    /// The whole call has the cache's timeout: when it has not finished by then it fails
    /// with [`InvalidationError::Timeout`] (a round whose answer had not arrived may still
    /// have run: its keys are removed but not counted). It runs at most
    /// 1,000 rounds per second of the timeout (at least 16), then fails with
    /// [`InvalidationError::TagRounds`]. Either way the keys removed so far stay removed and
    /// are counted in `sdk.cache.invalidated_keys`; the rest stay in the set, for the next
    /// call. Only a completed invalidation is counted in `sdk.cache.invalidations`.
    ///
    /// The `cache.key_prefix` label is the tag set key's (`<tag namespace>:…`): add the tag
    /// namespace to [`RedisConfig::key_prefixes`](crate::RedisConfig::key_prefixes) to see
    /// tag invalidations apart from `other`. Needs keys and tag sets on one node (no Redis
    /// Cluster across slots).
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, InvalidationError> {
        let set = tag_key(&self.tag_namespace, tag);
        let prefix = self.connection.config().prefix_of(set.as_bytes());
        let now = tokio::time::Instant::now();
        // As `tokio::time::timeout` does, a timeout too large for the clock is ~30 years.
        let deadline = now
            .checked_add(self.timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        let max_rounds = tag_rounds(self.timeout);
        let mut eval = redis::cmd("EVAL");
        eval.arg(INVALIDATE_TAG_ROUND).arg(1).arg(&set);
        let mut removed: u64 = 0;
        let mut rounds: u64 = 0;
        loop {
            if rounds == max_rounds {
                count(prefix.as_ref(), Kind::Tag, removed, false);
                return Err(InvalidationError::TagRounds(rounds));
            }
            rounds += 1;
            let round = self.query_until::<(u64, u8)>(&eval, deadline).await;
            match round {
                Ok((n, empty)) => {
                    removed += n;
                    if empty != 0 {
                        break;
                    }
                }
                Err(err) => {
                    count(prefix.as_ref(), Kind::Tag, removed, false);
                    return Err(err);
                }
            }
        }
        count(prefix.as_ref(), Kind::Tag, removed, true);
        Ok(removed)
    }

    /// Removes every key starting with `prefix`: `SCAN` with `MATCH` (glob characters in the
    /// prefix escaped) and `COUNT` [`PREFIX_BATCH`], each step's keys removed with `UNLINK`
    /// before the next step, so memory stays bounded by one batch whatever the number of
    /// keys; never `KEYS`. Returns how many keys were removed. Keys written while the scan
    /// runs may survive; an empty prefix is refused.
    pub async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, InvalidationError> {
        if prefix.is_empty() {
            return Err(InvalidationError::EmptyPrefix);
        }
        let label = self.connection.config().prefix_of(prefix.as_bytes());
        let pattern = prefix_pattern(prefix.as_bytes());
        let mut cursor: u64 = 0;
        let mut removed: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(PREFIX_BATCH);
            let step = self.query::<(u64, Vec<Vec<u8>>)>(&scan).await;
            let (next, keys) = match step {
                Ok(step) => step,
                Err(err) => {
                    count(label.as_ref(), Kind::Prefix, removed, false);
                    return Err(err);
                }
            };
            for batch in keys.chunks(PREFIX_BATCH) {
                let mut unlink = redis::cmd("UNLINK");
                unlink.arg(batch);
                match self.query::<u64>(&unlink).await {
                    Ok(n) => removed += n,
                    Err(err) => {
                        count(label.as_ref(), Kind::Prefix, removed, false);
                        return Err(err);
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        count(label.as_ref(), Kind::Prefix, removed, true);
        Ok(removed)
    }

    /// `command`, given until `deadline` to answer; a miss is a timeout of the cache's
    /// timeout (the budget of the whole call).
    async fn query_until<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
        deadline: tokio::time::Instant,
    ) -> Result<T, InvalidationError> {
        let mut connection = self.connection.clone();
        let answer = command.query_async::<T>(&mut connection);
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(InvalidationError::Redis(err)),
            Err(_) => Err(InvalidationError::Timeout(self.timeout)),
        }
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, InvalidationError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(InvalidationError::Redis(err)),
            Err(_) => Err(InvalidationError::Timeout(self.timeout)),
        }
    }
}

/// The most rounds a tag invalidation runs with `timeout`: [`TAG_ROUNDS_PER_SECOND`] per
/// second, at least [`MIN_TAG_ROUNDS`].
fn tag_rounds(timeout: Duration) -> u64 {
    let per_timeout = timeout
        .as_millis()
        .saturating_mul(u128::from(TAG_ROUNDS_PER_SECOND))
        / 1000;
    u64::try_from(per_timeout)
        .unwrap_or(u64::MAX)
        .max(MIN_TAG_ROUNDS)
}

/// Counts `removed` keys, and the invalidation itself when it `completed`.
fn count(prefix: Option<&Arc<str>>, kind: Kind, removed: u64, completed: bool) {
    let mut labels = super::prefix_labels(prefix);
    labels.push((
        sdk::CACHE_INVALIDATION,
        metrics::SharedString::const_str(kind.as_str()),
    ));
    if completed {
        CACHE_INVALIDATIONS.counter(&labels).increment(1);
    }
    if removed > 0 {
        CACHE_INVALIDATED_KEYS.counter(&labels).increment(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_stay_inside_their_namespace() {
        assert_eq!(tag_key("t", "user-7"), "t:user-7");
        assert_eq!(tag_key("t", "a:b"), "t:a%3Ab");
        assert_eq!(tag_key("t", "*?[]\\{}%"), "t:%2A%3F%5B%5D%5C%7B%7D%25");
        // `%` itself is encoded, so encodings never collide with literal tags.
        assert_ne!(tag_key("t", "%3A"), tag_key("t", ":"));
        assert_eq!(tag_key("t", "é"), "t:%C3%A9");
    }

    #[test]
    fn tag_rounds_follow_the_timeout() {
        assert_eq!(tag_rounds(Duration::from_secs(10)), 10_000);
        assert_eq!(tag_rounds(Duration::from_millis(250)), 250);
        assert_eq!(tag_rounds(Duration::ZERO), MIN_TAG_ROUNDS);
        assert_eq!(tag_rounds(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_round_pops_one_batch() {
        assert!(INVALIDATE_TAG_ROUND.contains(&format!("'SPOP', KEYS[1], {TAG_BATCH})")));
    }

    #[test]
    fn glob_characters_of_a_prefix_are_escaped() {
        assert_eq!(prefix_pattern(b"user:"), b"user:*");
        assert_eq!(prefix_pattern(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\*");
    }
}
