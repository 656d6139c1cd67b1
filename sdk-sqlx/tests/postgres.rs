//! Against the real PostgreSQL (`SDK_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; `cargo xtask test` starts it and enables
//! `pg_stat_statements`).

mod common;

use common::{capture, int_attr, str_attr};
use futures_util::TryStreamExt;
use sdk_core::config::{RootSampler, Sampler};
use sdk_core::spans::{SpanKind, SpanStatus};
use sdk_sqlx::{CommentMode, InstrumentedPool, PingError, SqlxConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Postgres, Row};
use std::time::Duration;

fn url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn pool(config: SqlxConfig, max: u32) -> InstrumentedPool<Postgres> {
    let options: PgConnectOptions = url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_millis(300))
        .connect_with(options.disable_statement_logging())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is not reachable ({e}); `cargo xtask test` starts it",
                url()
            )
        });
    InstrumentedPool::new(pool, config)
}

#[test]
fn query_spans_carry_semantic_attributes_and_no_literals() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 2).await;
        sqlx::raw_sql("DROP TABLE IF EXISTS sqlx_users; CREATE TABLE sqlx_users (id int4 PRIMARY KEY, email text NOT NULL)")
            .execute(pool.inner())
            .await
            .unwrap();
        let request = tracing::info_span!("request");
        let _entered = request.enter();
        sqlx::query(
            "INSERT INTO sqlx_users (id, email) VALUES ($1, $2), (2, 'bob@sekrit.example')",
        )
        .bind(1)
        .bind("alice@example.com")
        .execute(&pool)
        .await
        .unwrap();
        let row =
            sqlx::query("SELECT email FROM sqlx_users WHERE id = $1 AND email <> 'sekrit-literal'")
                .bind(1)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(row.get::<String, _>(0), "alice@example.com");
        let none = sqlx::query("SELECT email FROM sqlx_users WHERE id = $1")
            .bind(99)
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert!(none.is_none());
        let missing = sqlx::query("SELECT email FROM sqlx_users WHERE id = 12345")
            .fetch_one(&pool)
            .await;
        assert!(matches!(missing, Err(sqlx::Error::RowNotFound)));
    });
    let request = captured.span("request");
    let insert = captured.span("INSERT sqlx_users");
    assert_eq!(insert.kind, SpanKind::Client);
    assert_eq!(insert.parent_span_id, Some(request.span_id));
    assert_eq!(insert.trace_id, request.trace_id);
    assert_eq!(str_attr(insert, "db.system.name"), Some("postgresql"));
    assert_eq!(str_attr(insert, "db.namespace"), Some("test"));
    assert_eq!(str_attr(insert, "db.operation.name"), Some("INSERT"));
    assert_eq!(str_attr(insert, "db.collection.name"), Some("sqlx_users"));
    assert_eq!(
        str_attr(insert, "db.query.summary"),
        Some("INSERT sqlx_users")
    );
    assert_eq!(
        str_attr(insert, "db.query.text"),
        Some("INSERT INTO sqlx_users (id, email) VALUES ($1, $2), (?, ?)")
    );
    assert_eq!(str_attr(insert, "server.address"), Some("127.0.0.1"));
    assert_eq!(int_attr(insert, "server.port"), Some(5432));
    assert_eq!(int_attr(insert, "db.response.affected_rows"), Some(2));
    assert_eq!(insert.status, SpanStatus::Unset);

    let selects = captured.spans_named("SELECT sqlx_users");
    assert_eq!(selects.len(), 3, "{:?}", captured.names());
    assert_eq!(int_attr(selects[0], "db.response.returned_rows"), Some(1));
    assert_eq!(
        str_attr(selects[0], "db.query.text"),
        Some("SELECT email FROM sqlx_users WHERE id = $1 AND email <> ?")
    );
    assert_eq!(int_attr(selects[1], "db.response.returned_rows"), Some(0));
    // Row not found is an answer, not a failure.
    assert_eq!(selects[2].status, SpanStatus::Unset);
    assert!(selects[2].attribute("error.type").is_none());

    // No literal reaches any span or log line.
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    for secret in [
        "alice@example.com",
        "bob@sekrit.example",
        "sekrit-literal",
        "12345",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }

    // Durations by operation and collection; rows returned for SELECTs.
    let durations = captured.histogram_samples(
        "db.client.operation.duration",
        &[
            ("db.system.name", "postgresql"),
            ("db.operation.name", "SELECT"),
            ("db.collection.name", "sqlx_users"),
            ("db.namespace", "test"),
            ("server.address", "127.0.0.1"),
            ("server.port", "5432"),
        ],
    );
    assert_eq!(durations.len(), 3);
    assert!(durations.iter().all(|d| *d > 0.0 && *d < 5.0));
    let mut rows = captured.histogram_samples(
        "db.client.response.returned_rows",
        &[("db.operation.name", "SELECT")],
    );
    rows.sort_by(f64::total_cmp);
    assert_eq!(rows, vec![0.0, 0.0, 1.0]);
}

#[test]
fn streams_end_their_span_when_they_end_or_are_cancelled_when_dropped() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 2).await;
        let all: Vec<i32> = sqlx::query_scalar("SELECT g FROM generate_series(1, 1000) AS g")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(all.len(), 1000);
        let mut stream = sqlx::query("SELECT g FROM generate_series(1, 100000) AS g WHERE g > $1")
            .bind(0)
            .fetch(&pool);
        for _ in 0..3 {
            assert!(stream.try_next().await.unwrap().is_some());
        }
        drop(stream);
        // The pool still works after a dropped stream.
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
    });
    let spans = captured.spans_named("SELECT generate_series");
    assert_eq!(spans.len(), 2, "{:?}", captured.names());
    assert_eq!(int_attr(spans[0], "db.response.returned_rows"), Some(1000));
    assert_eq!(spans[0].status, SpanStatus::Unset);
    // Dropped before its end: cancelled, with what was read.
    assert_eq!(int_attr(spans[1], "db.response.returned_rows"), Some(3));
    assert_eq!(str_attr(spans[1], "error.type"), Some("cancelled"));
    assert_eq!(spans[1].status, SpanStatus::Error("cancelled".into()));
    assert!(spans[1].end >= spans[1].start);
}

#[test]
fn a_query_dropped_by_a_timeout_is_cancelled_with_its_duration() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 2).await;
        let gave_up = tokio::time::timeout(
            Duration::from_millis(200),
            sqlx::query("SELECT pg_sleep(5)").execute(&pool),
        )
        .await;
        assert!(gave_up.is_err(), "the query should outlast the timeout");
    });
    let span = captured.span("SELECT");
    assert_eq!(str_attr(span, "error.type"), Some("cancelled"));
    assert_eq!(span.status, SpanStatus::Error("cancelled".into()));
    let durations = captured.histogram_samples(
        "db.client.operation.duration",
        &[
            ("db.system.name", "postgresql"),
            ("error.type", "cancelled"),
        ],
    );
    assert_eq!(durations.len(), 1, "{:?}", captured.metrics);
    assert!(durations[0] >= 0.2, "{durations:?}");
    assert_eq!(
        captured.counter("sdk.operation.cancelled", &[("sdk.operation", "db.sql")]),
        1
    );
}

#[test]
fn database_errors_carry_sqlstate() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 2).await;
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS sqlx_errors; CREATE TABLE sqlx_errors (id int4 PRIMARY KEY)",
        )
        .execute(pool.inner())
        .await
        .unwrap();
        sqlx::query("INSERT INTO sqlx_errors VALUES (1)")
            .execute(&pool)
            .await
            .unwrap();
        let duplicate = sqlx::query("INSERT INTO sqlx_errors VALUES (1)")
            .execute(&pool)
            .await;
        assert!(duplicate.is_err());
        let syntax = sqlx::query("SELEC 1").fetch_all(&pool).await;
        assert!(syntax.is_err());
        // PostgreSQL quotes the bad value in its message; it must not reach telemetry.
        let bad_bind = sqlx::query("SELECT $1::int4 FROM sqlx_errors")
            .bind("hunter2-bound")
            .fetch_all(&pool)
            .await;
        assert!(bad_bind.is_err());
    });
    let inserts = captured.spans_named("INSERT sqlx_errors");
    assert_eq!(inserts.len(), 2);
    let failed = inserts[1];
    assert_eq!(str_attr(failed, "db.response.status_code"), Some("23505"));
    assert_eq!(str_attr(failed, "error.type"), Some("23505"));
    assert_eq!(
        failed.status,
        SpanStatus::Error("database error 23505".to_owned())
    );
    let syntax = captured
        .spans
        .iter()
        .find(|s| str_attr(s, "db.query.text") == Some("SELEC ?"))
        .unwrap();
    assert_eq!(str_attr(syntax, "db.response.status_code"), Some("42601"));
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    assert!(
        !everything.contains("hunter2-bound"),
        "a bound value leaked"
    );
    assert!(
        captured
            .spans
            .iter()
            .any(|s| str_attr(s, "db.response.status_code") == Some("22P02"))
    );
    assert_eq!(
        captured
            .histogram_samples(
                "db.client.operation.duration",
                &[
                    ("db.response.status_code", "23505"),
                    ("error.type", "23505")
                ]
            )
            .len(),
        1
    );
}

#[test]
fn slow_queries_log_a_warning_an_event_and_a_counter() {
    // Far apart, so a loaded machine cannot make the fast query slow.
    let config = SqlxConfig::new().slow_query_threshold(Some(Duration::from_millis(250)));
    let captured = capture(Sampler::default(), || async move {
        let pool = pool(config, 2).await;
        sqlx::query("SELECT pg_sleep(0.4), 'sleepy-secret'")
            .fetch_all(&pool)
            .await
            .unwrap();
        sqlx::query("SELECT 'fast'").fetch_all(&pool).await.unwrap();
    });
    let slow = captured
        .spans
        .iter()
        .find(|s| str_attr(s, "db.query.text") == Some("SELECT pg_sleep(?), ?"))
        .unwrap();
    assert_eq!(slow.events.len(), 1);
    assert_eq!(slow.events[0].name, "slow query");
    assert_eq!(slow.events[0].level, tracing::Level::WARN);
    let line = captured
        .logs
        .iter()
        .find(|l| l["message"] == "slow query")
        .unwrap_or_else(|| panic!("no slow-query line in {}", captured.log_text));
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["db.query.text"], "SELECT pg_sleep(?), ?");
    assert!(line["fields"]["duration_ms"].as_f64().unwrap() >= 400.0);
    assert_eq!(line["trace_id"], slow.trace_id.to_hex());
    assert!(!captured.log_text.contains("sleepy-secret"));
    assert_eq!(
        captured.counter(
            "sdk.db.client.slow_queries",
            &[("db.operation.name", "SELECT")]
        ),
        1
    );
}

#[test]
fn transactions_commit_roll_back_and_count_drops_as_rollbacks() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 2).await;
        sqlx::raw_sql("DROP TABLE IF EXISTS sqlx_tx; CREATE TABLE sqlx_tx (id int4 PRIMARY KEY)")
            .execute(pool.inner())
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO sqlx_tx VALUES ($1)")
            .bind(1)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO sqlx_tx VALUES ($1)")
            .bind(2)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO sqlx_tx VALUES ($1)")
                .bind(3)
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without commit.
        }

        // A connection from acquire() is instrumented through `&mut *conn` too.
        let mut conn = pool.acquire().await.unwrap();
        let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM sqlx_tx ORDER BY id")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert_eq!(ids, vec![1]);
    });
    assert_eq!(captured.spans_named("BEGIN").len(), 3);
    assert_eq!(captured.spans_named("COMMIT").len(), 1);
    let rollbacks = captured.spans_named("ROLLBACK");
    assert_eq!(rollbacks.len(), 2);
    assert!(
        rollbacks[0]
            .attribute("sdk.db.transaction.dropped")
            .is_none()
    );
    assert_eq!(
        rollbacks[1].attribute("sdk.db.transaction.dropped"),
        Some(&sdk_core::spans::AttrValue::Bool(true))
    );
    assert_eq!(captured.spans_named("INSERT sqlx_tx").len(), 3);
    assert_eq!(captured.spans_named("SELECT sqlx_tx").len(), 1);
    let tx = |op: &str| {
        captured
            .histogram_samples(
                "sdk.db.client.transaction.duration",
                &[("db.operation.name", op)],
            )
            .len()
    };
    assert_eq!(tx("COMMIT"), 1);
    assert_eq!(tx("ROLLBACK"), 2);
}

#[test]
fn pool_metrics_wait_use_and_timeouts() {
    let captured = capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new().pool_name("main"), 1).await;
        let held = pool.acquire().await.unwrap();
        let timed_out = sqlx::query("SELECT 1").fetch_all(&pool).await;
        assert!(matches!(timed_out, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        sqlx::query("SELECT 1").fetch_all(&pool).await.unwrap();
        pool.record_pool_state();
    });
    let pool = [("db.client.connection.pool.name", "main")];
    assert_eq!(captured.counter("db.client.connection.timeouts", &pool), 1);
    let waits = captured.histogram_samples("db.client.connection.wait_time", &pool);
    assert_eq!(waits.len(), 3);
    assert!(waits.iter().any(|w| *w >= 0.29), "{waits:?}");
    assert_eq!(
        captured
            .histogram_samples("db.client.connection.use_time", &pool)
            .len(),
        2
    );
    assert_eq!(captured.gauge("db.client.connection.max", &pool), Some(1.0));
    assert_eq!(
        captured.gauge("db.client.connection.pending_requests", &pool),
        Some(0.0)
    );
    let idle = captured.gauge(
        "db.client.connection.count",
        &[
            ("db.client.connection.pool.name", "main"),
            ("db.client.connection.state", "idle"),
        ],
    );
    let used = captured.gauge(
        "db.client.connection.count",
        &[
            ("db.client.connection.pool.name", "main"),
            ("db.client.connection.state", "used"),
        ],
    );
    // Everything was given back: the one connection is idle.
    assert_eq!(used, Some(0.0));
    assert_eq!(idle, Some(1.0));
    let failed = captured
        .spans
        .iter()
        .find(|s| str_attr(s, "error.type") == Some("PoolTimedOut"))
        .unwrap();
    assert!(matches!(failed.status, SpanStatus::Error(_)));
}

/// The query text a second connection sees in `pg_stat_activity` while `sql` runs.
async fn seen_in_pg_stat_activity(pool: &InstrumentedPool<Postgres>, marker: &str) -> String {
    let observer = sqlx::PgPool::connect(&url()).await.unwrap();
    let running = {
        let pool = pool.clone();
        let sql = format!("SELECT pg_sleep(0.4), '{marker}'");
        tokio::spawn(async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap();
        })
    };
    let mut seen = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let found: Option<String> = sqlx::query_scalar(
            "SELECT query FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
        )
        .bind(marker)
        .fetch_optional(&observer)
        .await
        .unwrap();
        if let Some(found) = found {
            seen = found;
            break;
        }
    }
    running.await.unwrap();
    seen
}

#[test]
fn trace_comments_reach_pg_stat_activity_for_sampled_spans_only() {
    let config = SqlxConfig::new().comments(CommentMode::SqlCommenter);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let captured = capture(Sampler::default(), || {
        let seen = std::sync::Arc::clone(&seen);
        async move {
            let pool = pool(config, 2).await;
            *seen.lock().unwrap() = seen_in_pg_stat_activity(&pool, "comment-probe-sampled").await;
        }
    });
    let seen = seen.lock().unwrap().clone();
    let span = captured
        .spans
        .iter()
        .find(|s| str_attr(s, "db.query.text") == Some("SELECT pg_sleep(?), ?"))
        .unwrap();
    // The comment names this very span; the recorded text has no comment.
    let expected = format!("00-{}-{}-01", span.trace_id.to_hex(), span.span_id.to_hex());
    assert!(
        seen.ends_with(&format!("/*traceparent='{expected}'*/")),
        "{seen} should name {expected}"
    );

    let unsampled = Sampler {
        root: RootSampler::AlwaysOff,
        parent_based: true,
    };
    let config = SqlxConfig::new().comments(CommentMode::SqlCommenter);
    capture(unsampled, || async move {
        let pool = pool(config, 2).await;
        let seen = seen_in_pg_stat_activity(&pool, "comment-probe-unsampled").await;
        assert!(seen.contains("comment-probe-unsampled"), "{seen}");
        assert!(!seen.contains("/*"), "{seen}");
    });
}

#[test]
fn datadog_full_mode_comment_and_pg_stat_statements_folds_commented_statements() {
    let service = sdk_core::config::ServiceInfo {
        name: "sqlx-test".to_owned(),
        version: Some("1.0".to_owned()),
        environment: Some("ci".to_owned()),
    };
    let config = SqlxConfig::new()
        .service(&service)
        .comments(CommentMode::DatadogFull);
    capture(Sampler::default(), || async move {
        let pool = pool(config, 2).await;
        let seen = seen_in_pg_stat_activity(&pool, "dbm-probe").await;
        assert!(
            seen.contains("/*dddb='test',dde='ci',ddh='127.0.0.1',ddps='sqlx-test',ddpv='1.0',traceparent='00-"),
            "{seen}"
        );

        let admin = sqlx::PgPool::connect(&url()).await.unwrap();
        let preload: String = sqlx::query_scalar("SHOW shared_preload_libraries")
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(
            preload.contains("pg_stat_statements"),
            "pg_stat_statements is not preloaded ({preload}); `cargo xtask test` configures it"
        );
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&admin)
            .await
            .unwrap();
        for i in 0..5 {
            sqlx::query("SELECT $1::int4 + 1 AS stmt_fold_probe")
                .bind(i)
                .fetch_one(&pool)
                .await
                .unwrap();
        }
        let entries: Vec<(String, i64)> = sqlx::query_as(
            "SELECT query, calls FROM pg_stat_statements WHERE query LIKE '%stmt_fold_probe%' AND query NOT LIKE '%pg_stat_statements%'",
        )
        .fetch_all(&admin)
        .await
        .unwrap();
        // Five statements with five different trace comments: one normalized entry
        // (calls accumulate across test runs; entries must not multiply).
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(entries[0].1 >= 5, "{entries:?}");
    });
}

#[test]
fn readiness_ping() {
    capture(Sampler::default(), || async {
        let pool = pool(SqlxConfig::new(), 1).await;
        let answer = pool.ping(Duration::from_secs(2)).await;
        assert!(answer.is_ok(), "{answer:?}");
        let held = pool.acquire().await.unwrap();
        let err = pool.ping(Duration::from_millis(100)).await.unwrap_err();
        assert!(
            matches!(
                err,
                PingError::Timeout(_) | PingError::Acquire(sqlx::Error::PoolTimedOut)
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("100 ms") || err.to_string().contains("acquire"),
            "{err}"
        );
        drop(held);
    });
}
