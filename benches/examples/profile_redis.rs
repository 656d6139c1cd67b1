//! Runs `GET` in a loop for a profiler: `profile_redis <plain|instrumented> [commands]`
//! (Redis on loopback, spans collected into a batch queue, metrics into a Prometheus
//! recorder, as in the `redis` benchmark). Callgrind counts only this process, not Redis;
//! `--toggle-collect=profile_redis::command` counts one command's path on the calling
//! thread (the connection's driver task runs there too), without setup or the batch
//! queue's export thread.

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
            let client =
                redis::Client::open("redis://127.0.0.1:6379").unwrap_or_else(|e| panic!("{e}"));
            let mut plain = runtime
                .block_on(client.get_multiplexed_async_connection())
                .unwrap_or_else(|e| panic!("{e}"));
            let mut instrumented = InstrumentedConnection::new(
                plain.clone(),
                RedisConfig::from_client(&client).key_prefixes(["bench:"]),
            );
            let started = Instant::now();
            for _ in 0..commands {
                black_box(if variant == "plain" {
                    command(&runtime, &mut plain)
                } else {
                    command(&runtime, &mut instrumented)
                });
            }
            println!(
                "{variant}: {:.1} µs/command",
                started.elapsed().as_secs_f64() * 1e6 / commands as f64
            );
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

/// One `GET`, from building the command to its answer, on the calling thread.
#[inline(never)]
fn command(
    runtime: &tokio::runtime::Runtime,
    connection: &mut impl redis::aio::ConnectionLike,
) -> Option<String> {
    runtime.block_on(async {
        redis::cmd("GET")
            .arg("bench:key")
            .query_async::<Option<String>>(connection)
            .await
            .ok()
            .flatten()
    })
}
