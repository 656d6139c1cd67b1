//! Runs one query variant in a loop for a profiler:
//! `profile_sqlx <plain|instrumented|pg-plain|pg-instrumented> [queries]` (SQLite in memory
//! or the PostgreSQL of the tests, spans collected into a
//! batch queue, metrics into a Prometheus recorder, as in the `sqlx` benchmark).
//! `--toggle-collect=profile_sqlx::query` counts one query's path on the calling thread,
//! without setup, the database's worker thread or the batch queue's export thread.

use sdk_benches::{discarding_processor, runtime, traced_subscriber};
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::ConnectOptions;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "instrumented".to_owned());
    let queries: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let runtime = runtime();
    let processor = discarding_processor();
    let subscriber = traced_subscriber(&processor);
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    let pools = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .in_memory(true)
                    .disable_statement_logging();
                let plain = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let instrumented = InstrumentedPool::new(plain.clone(), SqlxConfig::new());
                let options: sqlx::postgres::PgConnectOptions =
                    "postgres://postgres@127.0.0.1:5432/test"
                        .parse()
                        .unwrap_or_else(|e| panic!("{e}"));
                let pg = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options.disable_statement_logging())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let pg_instrumented = InstrumentedPool::new(pg.clone(), SqlxConfig::new());
                (plain, instrumented, pg, pg_instrumented)
            })
        })
    });
    let subscriber = traced_subscriber(&processor);
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            // One `block_on` per query, as the benchmark does.
            let started = Instant::now();
            for _ in 0..queries {
                black_box(query(&runtime, &variant, &pools));
            }
            println!(
                "{variant}: {:.1} µs/query",
                started.elapsed().as_secs_f64() * 1e6 / queries as f64
            );
        });
    });
    processor.shutdown(Duration::from_secs(5));
}

/// The pools a query can go through: SQLite plain and instrumented, PostgreSQL plain and
/// instrumented.
type Pools = (
    sqlx::SqlitePool,
    InstrumentedPool<sqlx::Sqlite>,
    sqlx::PgPool,
    InstrumentedPool<sqlx::Postgres>,
);

/// One query of `variant`, from building it to its row, on the calling thread (one
/// `block_on` per query, as the benchmark does).
#[inline(never)]
fn query(runtime: &tokio::runtime::Runtime, variant: &str, pools: &Pools) -> Option<i64> {
    let (plain, instrumented, pg, pg_instrumented) = pools;
    runtime
        .block_on(async {
            let q = sqlx::query_scalar::<_, i64>("SELECT ? + 1").bind(7_i64);
            let pq = sqlx::query_scalar::<_, i64>("SELECT $1::int8 + 1").bind(7_i64);
            match variant {
                "plain" => q.fetch_one(plain).await,
                "pg-plain" => pq.fetch_one(pg).await,
                "pg-instrumented" => pq.fetch_one(pg_instrumented).await,
                _ => q.fetch_one(instrumented).await,
            }
        })
        .ok()
}
