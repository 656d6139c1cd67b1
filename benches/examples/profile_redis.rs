//! Runs `GET` in a loop for a profiler: `profile_redis <plain|instrumented> [commands]`
//! (Redis on loopback, spans collected into a batch queue, metrics into a Prometheus
//! recorder, as in the `redis` benchmark). Callgrind counts only this process, not Redis.

use sdk_benches::{discarding_processor, runtime, traced_subscriber};
use sdk_redis::{InstrumentedConnection, RedisConfig};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "instrumented".to_owned());
    let commands: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let runtime = runtime();
    let processor = discarding_processor();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(traced_subscriber(&processor), || {
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let client =
                    redis::Client::open("redis://127.0.0.1:6379").unwrap_or_else(|e| panic!("{e}"));
                let mut plain = client
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut instrumented = InstrumentedConnection::new(
                    plain.clone(),
                    RedisConfig::from_client(&client).key_prefixes(["bench:"]),
                );
                let started = Instant::now();
                for _ in 0..commands {
                    let get = redis::cmd("GET").arg("bench:key").clone();
                    let v: redis::RedisResult<Option<String>> = if variant == "plain" {
                        get.query_async(&mut plain).await
                    } else {
                        get.query_async(&mut instrumented).await
                    };
                    black_box(v.ok());
                }
                println!(
                    "{variant}: {:.1} µs/command",
                    started.elapsed().as_secs_f64() * 1e6 / commands as f64
                );
            });
        });
    });
    processor.shutdown(Duration::from_secs(5));
}
