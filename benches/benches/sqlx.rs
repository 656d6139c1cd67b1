//! sdk-sqlx: the SQL sanitizer's throughput, cached lookups, and the per-query overhead of
//! `InstrumentedPool` over plain sqlx on the same query (SQLite in memory and the real
//! PostgreSQL), in one run. Spans go through the collector and batch queue as in
//! production, metrics into a Prometheus recorder.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sdk_benches::{SQL_CORPUS, discarding_processor, runtime, traced_subscriber};
use sdk_sqlx::sanitize::{QueryCache, sanitize};
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::ConnectOptions;
use std::hint::black_box;
use std::time::Duration;

fn sanitizer(c: &mut Criterion) {
    let bytes: usize = SQL_CORPUS.iter().map(|s| s.len()).sum();
    let mut group = c.benchmark_group("sql sanitizer");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("sanitize corpus (uncached)", |b| {
        b.iter(|| {
            for sql in SQL_CORPUS {
                black_box(sanitize(black_box(sql)));
            }
        })
    });
    group.finish();

    let cache = QueryCache::default();
    let sql = SQL_CORPUS[0];
    cache.get(sql);
    let mut group = c.benchmark_group("sql sanitizer");
    group.bench_function("cached lookup, 88-byte statement", |b| {
        b.iter(|| black_box(cache.get(black_box(sql))))
    });
    group.finish();
}

/// Plain pool vs instrumented pool, same query, same run. Each variant gets its own
/// runtime and a fresh pool from `$connect` (in one shared pool, whichever variant ran
/// second measured about 25 µs slower, either way round). A macro: the two databases'
/// executor bounds do not fit one generic function.
macro_rules! compare {
    ($c:expr, $label:expr, $connect:expr, $sql:expr) => {{
        let mut group = $c.benchmark_group(format!("query {}", $label));
        {
            let runtime = runtime();
            let plain = runtime.block_on($connect);
            group.bench_function("plain sqlx", |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let v: i64 = sqlx::query_scalar($sql)
                            .bind(7_i64)
                            .fetch_one(&plain)
                            .await
                            .unwrap_or(0);
                        black_box(v)
                    })
                })
            });
        }
        {
            let runtime = runtime();
            let instrumented = InstrumentedPool::new(
                runtime.block_on($connect),
                SqlxConfig::new().slow_query_threshold(None),
            );
            group.bench_function("sdk-sqlx InstrumentedPool", |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let v: i64 = sqlx::query_scalar($sql)
                            .bind(7_i64)
                            .fetch_one(&instrumented)
                            .await
                            .unwrap_or(0);
                        black_box(v)
                    })
                })
            });
        }
        group.finish();
    }};
}

fn postgres_url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn sqlite_pool() -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .in_memory(true)
        .disable_statement_logging();
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("SQLite in memory: {e}"))
}

async fn postgres_pool() -> sqlx::PgPool {
    let url = postgres_url();
    let options: sqlx::postgres::PgConnectOptions =
        url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.disable_statement_logging())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for this benchmark: {e}"))
}

fn queries(c: &mut Criterion) {
    let processor = discarding_processor();
    let subscriber = traced_subscriber(&processor);
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            compare!(c, "SQLite in memory", sqlite_pool(), "SELECT ? + 1");
            compare!(
                c,
                "PostgreSQL loopback",
                postgres_pool(),
                "SELECT $1::int8 + 1"
            );
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

criterion_group!(benches, sanitizer, queries);
criterion_main!(benches);
