//! sdk-redis: one `GET` over loopback through plain redis-rs and through
//! `InstrumentedConnection`, same run, each on its own runtime and connection. Spans go
//! through the collector and batch queue, metrics into a Prometheus recorder.

use criterion::{Criterion, criterion_group, criterion_main};
use sdk_benches::collectors::redis_connection;
use sdk_benches::{discarding_processor, runtime, traced_subscriber};
use sdk_redis::{InstrumentedConnection, RedisConfig};
use std::hint::black_box;
use std::time::Duration;

fn commands(c: &mut Criterion) {
    let processor = discarding_processor();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(traced_subscriber(&processor), || {
        metrics::with_local_recorder(&recorder, || {
            let mut group = c.benchmark_group("redis GET over loopback");
            {
                let runtime = runtime();
                let (_, mut plain) = runtime.block_on(redis_connection());
                group.bench_function("plain redis-rs", |b| {
                    b.iter(|| {
                        runtime.block_on(async {
                            let v: Option<String> = redis::cmd("GET")
                                .arg("bench:key")
                                .query_async(&mut plain)
                                .await
                                .unwrap_or(None);
                            black_box(v)
                        })
                    })
                });
            }
            {
                let runtime = runtime();
                let (client, connection) = runtime.block_on(redis_connection());
                let mut instrumented = InstrumentedConnection::new(
                    connection,
                    RedisConfig::from_client(&client).key_prefixes(["bench:"]),
                );
                group.bench_function("sdk-redis InstrumentedConnection", |b| {
                    b.iter(|| {
                        runtime.block_on(async {
                            let v: Option<String> = redis::cmd("GET")
                                .arg("bench:key")
                                .query_async(&mut instrumented)
                                .await
                                .unwrap_or(None);
                            black_box(v)
                        })
                    })
                });
            }
            group.finish();
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

criterion_group!(benches, commands);
criterion_main!(benches);
