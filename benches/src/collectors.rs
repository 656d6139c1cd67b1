//! What the `collectors` benchmark and the `profile_collectors` example share, so that the
//! callgrind counts are of the same paths the benchmark times: the Redis connection, the
//! local health server and the bare `GET` set against a probe run, the cached records and
//! the cache they are read from. The `redis` benchmark opens its connections here too.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use sdk_redis::{Cache, Compression, InstrumentedConnection, RedisConfig};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

/// `SDK_TEST_REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("SDK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A client of [`redis_url`] and a multiplexed connection of it (its driver task spawned
/// on the current runtime); panics, saying Redis is needed, when it does not answer.
pub async fn redis_connection() -> (redis::Client, redis::aio::MultiplexedConnection) {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{url}: {e}"));
    let connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is needed for this benchmark: {e}"));
    (client, connection)
}

/// A multi-thread runtime with `workers` workers.
pub fn multi_thread_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A local axum server answering `GET /health` with `ok`, on a runtime of its own thread
/// (it serves until the returned runtime drops).
pub fn health_server() -> (SocketAddr, tokio::runtime::Runtime) {
    let server = multi_thread_runtime(1);
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    server.spawn(async move { axum::serve(listener, app).await });
    (address, server)
}

/// What the probe does, without timing or recording: connect, one HTTP/1 `GET` with the
/// probe's `Host` and `Connection: close`, the body read. The connection is driven by a
/// task spawned on the current runtime.
pub async fn bare_get(address: SocketAddr) -> u16 {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    let request = http::Request::get("/health")
        .header(http::header::HOST, address.to_string())
        .header(http::header::CONNECTION, "close")
        .body(Empty::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    black_box(body.to_bytes());
    status
}

/// One record of a cached list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    id: u64,
    customer: String,
    status: String,
    total_cents: u64,
    items: u32,
}

/// The record with id `id` (about 100 bytes of JSON).
pub fn order(id: u64) -> Order {
    Order {
        id,
        customer: format!("customer-{:05}@example.com", id * 7919 % 100_000),
        status: ["pending", "paid", "shipped", "delivered"][(id % 4) as usize].to_owned(),
        total_cents: id * 1_337 % 250_000,
        items: (id % 9 + 1) as u32,
    }
}

/// Orders whose JSON is at least `bytes` long.
pub fn orders(bytes: usize) -> Vec<Order> {
    let mut orders = Vec::new();
    let mut len = 1;
    while len < bytes {
        let next = order(orders.len() as u64 + 1);
        len += serde_json::to_vec(&next).map_or(0, |json| json.len()) + 1;
        orders.push(next);
    }
    orders
}

/// A cache on a connection of its own, opened on `runtime`: key prefix `bench:`, a
/// 1-second timeout, `compression`.
pub fn cache(
    runtime: &tokio::runtime::Runtime,
    compression: Compression,
) -> Cache<redis::aio::MultiplexedConnection> {
    let (client, connection) = runtime.block_on(redis_connection());
    let config = RedisConfig::from_client(&client).key_prefixes(["bench:"]);
    Cache::new(
        InstrumentedConnection::new(connection, config),
        Duration::from_secs(1),
    )
    .compression(compression)
}
