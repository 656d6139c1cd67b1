//! Instrumented [redis-rs](https://docs.rs/redis) connections, cache hit ratio and a
//! cache-aside helper.
//!
//! Wrap any async connection (`MultiplexedConnection`, `ConnectionManager`) in
//! [`InstrumentedConnection`] and use it where the connection was used; every command and
//! pipeline then gets:
//!
//! - a client span named after the command (`GET`; `PIPELINE` or `MULTI` with
//!   `db.operation.batch.size`) with `db.system.name=redis`, `db.namespace` (the db index),
//!   server address and port, and `db.query.text` in CLI form with values
//!   [masked](mask) (credentials always);
//! - `db.response.status_code` and `error.type` from the error prefix (`WRONGTYPE`), also
//!   for errors that arrive as values inside pipelines; a nil reply is a miss, not an error;
//! - `db.client.operation.duration` by command, `db.client.operation.batch.size`;
//! - `sdk.cache.requests` by `cache.result` (hit/miss) for `GET`, `GETEX`, `GETDEL`,
//!   `HGET`, `MGET` (per key), `HMGET` (per field) and `EXISTS`, with an optional bounded
//!   `cache.key_prefix` label from configured prefixes only.
//!
//! [`Cache`] adds cache-aside with single-flight loads and a fallback when Redis is down,
//! stale-while-revalidate and tags per value ([`CacheEntry`]), invalidation by key, tag or
//! prefix, and optional LZ4 compression of large values ([`Compression`], off by default).
//!
//! [`RedisServerInfo`] ([`server_info`]) reads the server's own health from `INFO` in the
//! background: memory used, peak and limit, fragmentation, evicted and expired keys,
//! server-side hit ratio, clients connected and blocked, commands a second and the
//! replication role, as `sdk.redis.server.*` metrics.
//!
//! ```no_run
//! # async fn example() -> redis::RedisResult<()> {
//! use sdk_redis::{InstrumentedConnection, RedisConfig};
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let config = RedisConfig::from_client(&client).key_prefixes(["user:", "session:"]);
//! let mut conn = InstrumentedConnection::new(client.get_multiplexed_async_connection().await?, config);
//! let name: Option<String> = redis::cmd("GET").arg("user:7").query_async(&mut conn).await?;
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// Modules depend one way: `handles` <- `config` <- `lookups` <- `run` <- `sync_connection`
// <- `connection` (which re-exports `RedisConfig` and `InstrumentedSyncConnection`, their
// first published paths) <- `cache`; `mask` and `arguments` are leaves.
mod arguments;
pub mod cache;
mod config;
pub mod connection;
mod handles;
mod lookups;
pub mod mask;
mod run;
pub mod server_info;
mod sync_connection;

pub use cache::{Cache, CacheEntry, Compression, InvalidationError};
pub use config::RedisConfig;
pub use connection::InstrumentedConnection;
pub use server_info::RedisServerInfo;
pub use sync_connection::InstrumentedSyncConnection;

/// Why [`ping`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PingError {
    /// Redis answered with an error, or the connection failed.
    #[error("PING failed: {0}")]
    Redis(#[source] redis::RedisError),
    /// Nothing answered within the timeout.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
}

/// Readiness check: `PING` within `timeout` over a clone of `connection`.
pub fn ping<C>(
    connection: &InstrumentedConnection<C>,
    timeout: std::time::Duration,
) -> impl Future<Output = Result<(), PingError>> + Send + use<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    let mut connection = connection.clone();
    async move {
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        match tokio::time::timeout(timeout, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(PingError::Redis(err)),
            Err(_) => Err(PingError::Timeout(timeout)),
        }
    }
}
