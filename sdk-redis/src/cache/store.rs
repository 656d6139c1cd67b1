//! Writing a loaded value: its JSON laid out by [`envelope`](super::envelope), with its
//! Redis TTL, registered in its tag sets in the same script (tags first, so that a value
//! is never stored without the tags it was given), each tag set kept near its live keys
//! ([`TAG_SET_BOUND`]).

use super::Cache;
use super::entry::{CacheEntry, millis};
use super::envelope::encode;
use super::invalidation::tag_key;
use redis::aio::ConnectionLike;
use sdk_core::catalogue::CACHE_COMPRESSION_SAVED;
use serde::Serialize;
use std::sync::Arc;

/// The size above which a tag set is pruned as it is written: when a tagged write leaves a
/// tag set with more than 1,000 members, the write also samples
/// 16 random members and removes from the set those whose key
/// no longer exists (expired, invalidated by key, deleted). A set's members are otherwise
/// never removed but by [`Cache::invalidate_tag`]; with this, the dead members of a set
/// written often go away at O(16) work per write, and its size stays near its live keys
/// (or below the bound). A key rewritten without the tag still exists, so it stays a member
/// until it is gone: invalidating the tag removes it too (one extra miss).
pub const TAG_SET_BOUND: u64 = 1_000;

/// Members a tagged write samples in a tag set larger than [`TAG_SET_BOUND`].
const TAG_SET_PRUNE_SAMPLE: u64 = 16;

/// `KEYS[1]` the value's key, `KEYS[2..]` its tag sets; `ARGV[1]` the value, `ARGV[2]`
/// its TTL in milliseconds (0: none), `ARGV[3]` [`TAG_SET_BOUND`], `ARGV[4]`
/// [`TAG_SET_PRUNE_SAMPLE`]. Each tag set gets the value's key and a TTL at least the
/// value's (none when the value has none); a set then larger than the bound loses the
/// sampled members that no longer exist (never the value's key, stored below).
const STORE_TAGGED: &str = r"
local ttl = tonumber(ARGV[2])
local bound = tonumber(ARGV[3])
local sample = tonumber(ARGV[4])
for i = 2, #KEYS do
  local created = redis.call('EXISTS', KEYS[i]) == 0
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('SCARD', KEYS[i]) > bound then
    for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[i], sample)) do
      if member ~= KEYS[1] and redis.call('EXISTS', member) == 0 then
        redis.call('SREM', KEYS[i], member)
      end
    end
  end
  if ttl == 0 then
    redis.call('PERSIST', KEYS[i])
  else
    local left = redis.call('PTTL', KEYS[i])
    if created or (left >= 0 and left < ttl) then
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
  end
end
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 0
";

impl<C> Cache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Stores `value` under `key` as `entry` says; failures are logged, never returned
    /// (the caller has its value either way).
    pub(crate) async fn store<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        entry: &CacheEntry,
        prefix: Option<&Arc<str>>,
    ) {
        let Ok(json) = serde_json::to_vec(value) else {
            tracing::debug!(target: "sdk_redis", "cache store skipped: the value does not serialize");
            return;
        };
        let encoded = encode(json, entry.fresh_until(), &self.compression);
        let ttl = entry.redis_ttl();
        // A TTL under a millisecond would be `PX 0`, which Redis refuses.
        let ttl_ms = if ttl.is_zero() { 0 } else { millis(ttl).max(1) };
        let command = if entry.tag_list().is_empty() {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(&encoded.bytes);
            if ttl_ms > 0 {
                set.arg("PX").arg(ttl_ms);
            }
            set
        } else {
            let mut eval = redis::cmd("EVAL");
            eval.arg(STORE_TAGGED)
                .arg(1 + entry.tag_list().len())
                .arg(key);
            for tag in entry.tag_list() {
                eval.arg(tag_key(&self.tag_namespace, tag));
            }
            eval.arg(&encoded.bytes)
                .arg(ttl_ms)
                .arg(TAG_SET_BOUND)
                .arg(TAG_SET_PRUNE_SAMPLE);
            eval
        };
        let mut connection = self.connection.clone();
        let stored = command.query_async::<redis::Value>(&mut connection);
        match tokio::time::timeout(self.timeout, stored).await {
            Ok(Ok(_)) => {
                if encoded.saved > 0 {
                    CACHE_COMPRESSION_SAVED
                        .counter(&super::prefix_labels(prefix))
                        .increment(encoded.saved);
                }
            }
            Ok(Err(err)) => {
                tracing::debug!(target: "sdk_redis", error = %crate::run::unquoted(err.to_string()), "cache store failed");
            }
            Err(_) => {
                tracing::debug!(target: "sdk_redis", "cache store timed out");
            }
        }
    }
}
