//! Background collectors: what one run of each costs, against what a user would write by
//! hand (or the floor of the same round trip), in one run. Spans go through the collector
//! and batch queue, metrics into a Prometheus recorder, as in production.
//!
//! - process metrics: sdk-core's collection (read, record, time) vs the raw
//!   `metrics_process::collector::collect()` it is built on; one Tokio runtime sample vs
//!   the bare stable `RuntimeMetrics` reads;
//! - Redis `INFO`: `RedisServerInfo::collect` vs a bare `INFO` parsed into an `InfoDict`;
//! - PostgreSQL insights: `PgInsights::collect` vs `SELECT 1`, both on a connection of
//!   their own per collection (the default source) and both on a one-connection pool;
//! - HTTP probe: one probe run (timed phases, status, gauges) vs a bare hyper `GET` of
//!   the same URL over a fresh connection, against a local axum server;
//! - `Cache` reads: a fresh stale-while-revalidate hit vs a plain hit, and a 16 KiB JSON
//!   value stored with LZ4 vs without.
//!
//! Needs PostgreSQL and Redis (`SDK_TEST_POSTGRES_URL`, `SDK_TEST_REDIS_URL`; defaults
//! `postgres://postgres@127.0.0.1:5432/test` and `redis://127.0.0.1:6379`). Redis keys
//! start with `bench:collectors:<pid>:` and are deleted at the end.
//!
//! The loopback comparisons move with the machine's load; `cargo xtask gate --collectors`
//! counts the same pairs (the `profile_collectors` example, helpers shared through
//! `sdk_benches::collectors`) in callgrind instructions, which do not.

use criterion::{Criterion, criterion_group, criterion_main};
use sdk_benches::collectors::{
    self, bare_get, health_server, multi_thread_runtime, order, orders, redis_connection,
};
use sdk_benches::{discarding_processor, runtime, traced_subscriber};
use sdk_core::process_metrics::CollectionForBench;
use sdk_redis::server_info::RedisServerInfo;
use sdk_redis::{Cache, CacheEntry, Compression, RedisConfig};
use sdk_sqlx::insights::{InsightsConfig, PgInsights};
use sdk_tower::probe::{HttpProbe, ProbeRunner};
use serde::Serialize;
use sqlx::{ConnectOptions, Connection};
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn postgres_url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn postgres_options() -> sqlx::postgres::PgConnectOptions {
    let url = postgres_url();
    let options: sqlx::postgres::PgConnectOptions =
        url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    options.disable_statement_logging()
}

async fn postgres_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(postgres_options())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed for this benchmark: {e}",
                postgres_url()
            )
        })
}

/// The process part against its raw read, then the runtime part against the bare reads.
fn process(c: &mut Criterion) {
    let mut group = c.benchmark_group("process metrics, one collection");
    group.bench_function("metrics-process collect() (raw read)", |b| {
        b.iter(|| black_box(metrics_process::collector::collect()))
    });
    let collection = CollectionForBench::in_current_context();
    group.bench_function("sdk-core process collection", |b| {
        b.iter(|| collection.collect_process())
    });
    group.finish();

    // An application's runtime: multi-thread, two workers (this machine's cores).
    let app = multi_thread_runtime(2);
    let handle = app.handle().clone();
    let mut group = c.benchmark_group("tokio runtime sample, 2 workers");
    group.bench_function("stable RuntimeMetrics reads (floor)", |b| {
        b.iter(|| {
            let metrics = handle.metrics();
            let workers = metrics.num_workers();
            let busy: Duration = (0..workers)
                .map(|worker| metrics.worker_total_busy_duration(worker))
                .sum();
            black_box((
                workers,
                metrics.global_queue_depth(),
                metrics.num_alive_tasks(),
                busy,
            ))
        })
    });
    let collection = {
        let _entered = app.enter();
        CollectionForBench::in_current_context()
    };
    group.bench_function("sdk-core runtime sample", |b| {
        b.iter(|| collection.collect_runtime())
    });
    group.finish();
}

fn redis_info(c: &mut Criterion) {
    let mut group = c.benchmark_group("redis INFO, one collection");
    {
        let runtime = runtime();
        let (_, mut plain) = runtime.block_on(redis_connection());
        group.bench_function("redis-rs INFO + InfoDict (hand-rolled)", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let info: redis::InfoDict = redis::cmd("INFO")
                        .query_async(&mut plain)
                        .await
                        .unwrap_or_else(|e| panic!("INFO: {e}"));
                    black_box(info.get::<u64>("used_memory"))
                })
            })
        });
    }
    {
        let runtime = runtime();
        let (client, connection) = runtime.block_on(redis_connection());
        let collector = RedisServerInfo::new(connection, &RedisConfig::from_client(&client));
        group.bench_function("sdk-redis RedisServerInfo::collect", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let info = collector.collect().await.unwrap_or_else(|e| panic!("{e}"));
                    black_box(info)
                })
            })
        });
    }
    group.finish();
}

fn postgres_insights(c: &mut Criterion) {
    // A collection takes milliseconds: fewer samples keep the run short.
    let mut group = c.benchmark_group("postgres insights, connection per collection");
    group.sample_size(20);
    {
        let runtime = runtime();
        let options = postgres_options().application_name("sdk-bench-floor");
        group.bench_function("connect + SELECT 1 + close (floor)", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let mut connection = sqlx::PgConnection::connect_with(&options)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    let one: i32 = sqlx::query_scalar("SELECT 1")
                        .fetch_one(&mut connection)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    let _ = connection.close().await;
                    black_box(one)
                })
            })
        });
    }
    {
        let runtime = runtime();
        let insights = PgInsights::new(postgres_options(), InsightsConfig::new());
        group.bench_function("sdk-sqlx PgInsights::collect", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    black_box(insights.collect().await.unwrap_or_else(|e| panic!("{e}")))
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("postgres insights, one-connection pool");
    group.sample_size(20);
    {
        let runtime = runtime();
        let pool = runtime.block_on(postgres_pool());
        group.bench_function("SELECT 1 (floor)", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let one: i32 = sqlx::query_scalar("SELECT 1")
                        .fetch_one(&pool)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(one)
                })
            })
        });
    }
    {
        let runtime = runtime();
        let pool = runtime.block_on(postgres_pool());
        let insights = PgInsights::new(pool, InsightsConfig::new());
        let report = runtime
            .block_on(insights.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "postgres insights: {} statements, {} tables, {} indexes, {} findings per report",
            report.statements.len(),
            report.tables.len(),
            report.indexes.len(),
            report.findings.len()
        );
        group.bench_function("sdk-sqlx PgInsights::collect", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    black_box(insights.collect().await.unwrap_or_else(|e| panic!("{e}")))
                })
            })
        });
    }
    group.finish();
}

fn probe(c: &mut Criterion) {
    let (address, _server) = health_server();
    let url = format!("http://{address}/health");
    let mut group = c.benchmark_group("http probe, one run over loopback");
    {
        let runtime = runtime();
        group.bench_function("hyper GET, fresh connection", |b| {
            b.iter(|| runtime.block_on(bare_get(address)))
        });
    }
    {
        let runtime = runtime();
        let probe = ProbeRunner::new(HttpProbe::get("bench-health", url.as_str()))
            .unwrap_or_else(|e| panic!("{e}"));
        let first = runtime.block_on(probe.run_once());
        assert!(
            first.as_ref().is_some_and(|run| run.success),
            "probe of {url} failed: {first:?}"
        );
        group.bench_function("sdk-tower probe run", |b| {
            b.iter(|| black_box(runtime.block_on(probe.run_once())))
        });
    }
    group.finish();
}

/// A cache on its own runtime and connection.
fn cache(
    compression: Compression,
) -> (
    tokio::runtime::Runtime,
    Cache<redis::aio::MultiplexedConnection>,
) {
    let runtime = runtime();
    let cache = collectors::cache(&runtime, compression);
    (runtime, cache)
}

/// Reads `key` with `get_or_load` in each iteration, after one priming load; asserts that
/// the loader ran only that once (every timed read was a hit).
fn bench_hit<T>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    compression: Compression,
    key: &str,
    value: &T,
) where
    T: Serialize + serde::de::DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
{
    let (runtime, cache) = cache(compression);
    let loads = AtomicUsize::new(0);
    let read = || {
        cache.get_or_load(key, Duration::from_secs(600), || async {
            loads.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(value.clone())
        })
    };
    let primed = runtime.block_on(read()).unwrap_or_else(|e| match *e {});
    assert!(primed == *value);
    group.bench_function(name, |b| {
        b.iter(|| black_box(runtime.block_on(read()).unwrap_or_else(|e| match *e {})))
    });
    assert_eq!(
        loads.load(Ordering::Relaxed),
        1,
        "{name}: a timed read missed"
    );
}

fn cache_reads(c: &mut Criterion) {
    let namespace = format!("bench:collectors:{}:", std::process::id());
    let small = order(42);

    let mut group = c.benchmark_group("cache hit, one record");
    bench_hit(
        &mut group,
        "get_or_load (plain JSON)",
        Compression::off(),
        &format!("{namespace}plain"),
        &small,
    );
    {
        let (runtime, cache) = cache(Compression::off());
        let key = format!("{namespace}swr");
        let entry =
            CacheEntry::stale_while_revalidate(Duration::from_secs(600), Duration::from_secs(600));
        let loads = Arc::new(AtomicUsize::new(0));
        let read = || {
            let loads = Arc::clone(&loads);
            let value = small.clone();
            cache.get_or_load_with(&key, &entry, move || async move {
                loads.fetch_add(1, Ordering::Relaxed);
                Ok::<_, Infallible>(value)
            })
        };
        runtime.block_on(read()).unwrap_or_else(|e| match *e {});
        group.bench_function("get_or_load_with stale-while-revalidate, fresh", |b| {
            b.iter(|| black_box(runtime.block_on(read()).unwrap_or_else(|e| match *e {})))
        });
        assert_eq!(loads.load(Ordering::Relaxed), 1, "a timed read missed");
    }
    group.finish();

    let large = orders(16 * 1024);
    let json_len = serde_json::to_vec(&large).map_or(0, |json| json.len());
    let mut group = c.benchmark_group(format!("cache hit, {json_len}-byte JSON value"));
    bench_hit(
        &mut group,
        "get_or_load, no compression",
        Compression::off(),
        &format!("{namespace}large-plain"),
        &large,
    );
    bench_hit(
        &mut group,
        "get_or_load, Compression::lz4()",
        Compression::lz4(),
        &format!("{namespace}large-lz4"),
        &large,
    );
    group.finish();

    let runtime = runtime();
    let (_, mut plain) = runtime.block_on(redis_connection());
    runtime.block_on(async {
        for suffix in ["large-plain", "large-lz4"] {
            let stored: u64 = redis::cmd("STRLEN")
                .arg(format!("{namespace}{suffix}"))
                .query_async(&mut plain)
                .await
                .unwrap_or(0);
            eprintln!("cache: {json_len}-byte JSON value stored as {stored} bytes ({suffix})");
        }
        let keys: Vec<String> = ["plain", "swr", "large-plain", "large-lz4"]
            .iter()
            .map(|suffix| format!("{namespace}{suffix}"))
            .collect();
        let _: Result<u64, _> = redis::cmd("DEL").arg(&keys).query_async(&mut plain).await;
    });
}

fn collectors(c: &mut Criterion) {
    let processor = discarding_processor();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(traced_subscriber(&processor), || {
        metrics::with_local_recorder(&recorder, || {
            process(c);
            redis_info(c);
            postgres_insights(c);
            probe(c);
            cache_reads(c);
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

criterion_group!(benches, collectors);
criterion_main!(benches);
