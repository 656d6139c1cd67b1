//! The real Redis of the tests (`SDK_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`;
//! `cargo xtask test` starts it) and the capture of one async test body.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use sdk_core::config::Sampler;
use sdk_core::testing::{Everything, capture_everything};
use sdk_redis::{InstrumentedConnection, RedisConfig};
use std::future::Future;

pub type Conn = redis::aio::MultiplexedConnection;

pub fn url() -> String {
    std::env::var("SDK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Runs `body` on a current-thread runtime with spans, logs and metrics captured.
pub fn capture<F, Fut>(body: F) -> Everything
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    capture_everything(Sampler::default(), || runtime.block_on(body()))
}

async fn open() -> (redis::Client, Conn) {
    let url = url();
    let client = redis::Client::open(url.as_str()).unwrap();
    let connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!("Redis at {url} is not reachable ({e}); `cargo xtask test` starts it")
        });
    (client, connection)
}

/// A plain (uninstrumented) connection, for setting up and checking.
pub async fn raw() -> Conn {
    open().await.1
}

/// An instrumented connection whose cache key prefixes are `prefixes`.
pub async fn connect(prefixes: &[&str]) -> InstrumentedConnection<Conn> {
    let (client, connection) = open().await;
    InstrumentedConnection::new(
        connection,
        RedisConfig::from_client(&client).key_prefixes(prefixes.iter().copied()),
    )
}
