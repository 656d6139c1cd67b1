//! Cache hits and misses of read commands (`sdk.cache.requests`), counted from their
//! replies: a nil reply is a miss, not an error.

use crate::config::RedisConfig;
use redis::Value;
use std::sync::Arc;

/// Counts hits and misses of a read command from its reply.
pub(crate) fn count_lookups(
    config: &RedisConfig,
    operation: &Arc<str>,
    args: &[&[u8]],
    reply: &Value,
) {
    let keys_and_results: Vec<(&[u8], bool)> = match (&**operation, reply) {
        ("GET" | "GETEX" | "GETDEL" | "HGET", reply) => match args.get(1) {
            Some(key) if !matches!(reply, Value::ServerError(_)) => {
                vec![(*key, !matches!(reply, Value::Nil))]
            }
            _ => return,
        },
        ("MGET", Value::Array(values)) => args
            .iter()
            .skip(1)
            .zip(values)
            .map(|(key, v)| (*key, !matches!(v, Value::Nil)))
            .collect(),
        ("HMGET", Value::Array(values)) => match args.get(1) {
            Some(key) => values
                .iter()
                .map(|v| (*key, !matches!(v, Value::Nil)))
                .collect(),
            None => return,
        },
        ("EXISTS", Value::Int(found)) => {
            // EXISTS counts keys that exist; which ones is unknown, so the prefix is the
            // first key's.
            let keys = args.len().saturating_sub(1);
            let found = usize::try_from(*found).unwrap_or(0).min(keys);
            let key = args.get(1).copied().unwrap_or_default();
            (0..keys).map(|i| (key, i < found)).collect()
        }
        _ => return,
    };
    for (key, hit) in keys_and_results {
        config
            .handles()
            .lookup(operation, config.prefix_of(key), hit)
            .increment(1);
    }
}
