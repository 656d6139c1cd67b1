//! Statement and index insights against the real PostgreSQL (`SDK_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`; `cargo xtask test` starts it with
//! `pg_stat_statements` preloaded).
//!
//! Each test that reads statistics works in a database of its own, created for it and
//! dropped after it: its statistics (tables, indexes and `pg_stat_statements` entries,
//! which are kept per database) are then only its own, whatever runs alongside, and
//! nothing shared is reset.
//!
//! Longer than most test files: the five scenarios share this one peer setup.

use sdk_core::config::Sampler;
use sdk_core::testing::{Everything, capture_everything};
use sdk_sqlx::config::ConfigError;
use sdk_sqlx::insights::{
    Finding, INTERVAL_ENV, InsightsConfig, InsightsError, InsightsReport, PgInsights, TIMEOUT_ENV,
    TOP_STATEMENTS_ENV,
};
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rows of the table read by sequential scans.
const BIG_ROWS: i64 = 20_000;
/// Sequential scans of it.
const SEQ_SCANS: u64 = 25;
/// Scans through the used index.
const INDEX_SCANS: u64 = 7;
/// How long the statistics may take to show the work.
const DEADLINE: Duration = Duration::from_secs(30);

fn url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn options() -> PgConnectOptions {
    url()
        .parse::<PgConnectOptions>()
        .unwrap()
        .disable_statement_logging()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `body` on `runtime` with spans, logs and metrics captured.
fn capture<Fut: Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    body: impl FnOnce() -> Fut,
) -> Everything {
    capture_everything(Sampler::default(), || runtime.block_on(body()))
}

/// A name no other run uses.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn connect(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is not reachable ({e}); `cargo xtask test` starts it",
                url()
            )
        })
}

/// A database of the test's own, dropped (with its connections) when this is dropped.
struct FreshDatabase {
    name: String,
    options: PgConnectOptions,
}

impl FreshDatabase {
    /// Creates it with its statistics reset (so they have a reset time), and
    /// `pg_stat_statements` installed when `statements`.
    async fn create(statements: bool) -> Self {
        let name = unique("sdk_insights");
        let mut admin = connect(&options()).await;
        if statements {
            let preload: String = sqlx::query_scalar("SHOW shared_preload_libraries")
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(
                preload.contains("pg_stat_statements"),
                "pg_stat_statements is not preloaded ({preload}); `cargo xtask test` configures it"
            );
        }
        // Concurrent CREATE DATABASEs may find the template busy for a moment.
        let mut attempt = 0;
        loop {
            let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await;
            match created {
                Ok(_) => break,
                Err(err) if attempt < 10 && is_code(&err, "55006") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("CREATE DATABASE {name}: {err}"),
            }
        }
        let options = options().database(&name);
        let mut conn = connect(&options).await;
        sqlx::query("SELECT pg_stat_reset()")
            .execute(&mut conn)
            .await
            .unwrap();
        if statements {
            sqlx::query("CREATE EXTENSION pg_stat_statements")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
        Self { name, options }
    }
}

impl FreshDatabase {
    /// A role name of this test's own (roles are cluster-wide), dropped with the database.
    fn role(&self) -> String {
        format!("{}_role", self.name)
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let role = self.role();
        // Its own runtime on its own thread: this may run inside (or after) a test's.
        let dropped = std::thread::spawn(move || {
            runtime().block_on(async {
                let mut admin = connect(&options()).await;
                // One statement each: DROP DATABASE refuses a transaction block.
                for sql in [
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    format!("DROP ROLE IF EXISTS {role}"),
                ] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await?;
                }
                Ok::<(), sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("DROP DATABASE {}: {dropped:?}", self.name);
        }
    }
}

fn is_code(err: &sqlx::Error, code: &str) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|c| c == code)
}

async fn run(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Ends the session's statistics delay: its counts reach the shared statistics before
/// this returns (PostgreSQL 15 flushes them at most once a second otherwise).
async fn flush_stats(conn: &mut PgConnection) {
    run(conn, "SELECT pg_stat_force_next_flush()").await;
}

/// Collects until `ready` holds for the report, or fails with what was last seen.
async fn collect_until(
    insights: &PgInsights,
    what: &str,
    ready: impl Fn(&InsightsReport) -> bool,
) -> InsightsReport {
    let started = Instant::now();
    loop {
        let report = insights.collect().await.unwrap();
        if ready(&report) {
            return report;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the statistics did not show {what} within {DEADLINE:?}; last report: {report:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn table_of<'a>(
    report: &'a InsightsReport,
    name: &str,
) -> Option<&'a sdk_sqlx::insights::TableStats> {
    report.tables.iter().find(|t| t.table == name)
}

fn samples(captured: &Everything, result: &str) -> Vec<f64> {
    captured.histogram_samples(
        "sdk.collector.duration",
        &[("sdk.collector", "postgresql"), ("sdk.result", result)],
    )
}

fn series(captured: &Everything, name: &str) -> usize {
    captured.metrics.iter().filter(|m| m.name == name).count()
}

#[test]
fn collect_reports_unused_indexes_seq_scan_heavy_tables_and_top_statements() {
    let rt = runtime();
    let db = rt.block_on(FreshDatabase::create(true));
    let secret = unique("sekrit");
    let role = db.role();
    let mut report = None;
    let captured = capture(&rt, || async {
        let mut work = connect(&db.options).await;
        run(&mut work, "SET max_parallel_workers_per_gather = 0").await;
        // Read only by sequential scans; no index at all.
        run(&mut work, "CREATE TABLE ins_big (id int8, payload text)").await;
        run(
            &mut work,
            &format!(
                "INSERT INTO ins_big SELECT g, 'row ' || g FROM generate_series(1, {BIG_ROWS}) g"
            ),
        )
        .await;
        // An index never used, a unique index never used, and primary keys.
        run(
            &mut work,
            "CREATE TABLE ins_events (id int8 PRIMARY KEY, kind text, at int8); \
             CREATE INDEX ins_events_kind_idx ON ins_events (kind); \
             CREATE UNIQUE INDEX ins_events_at_key ON ins_events (at); \
             INSERT INTO ins_events SELECT g, 'k' || (g % 7), g FROM generate_series(1, 1000) g",
        )
        .await;
        // An index used.
        run(
            &mut work,
            "CREATE TABLE ins_orders (id int8 PRIMARY KEY, customer int8); \
             CREATE INDEX ins_orders_customer_idx ON ins_orders (customer); \
             INSERT INTO ins_orders SELECT g, g % 100 FROM generate_series(1, 1000) g",
        )
        .await;
        for _ in 0..SEQ_SCANS {
            let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM ins_big WHERE payload = '{secret}'"
            )))
            .fetch_one(&mut work)
            .await
            .unwrap();
            assert_eq!(found, 0);
        }
        run(&mut work, "SET enable_seqscan = off").await;
        for customer in 0..INDEX_SCANS {
            let _: i64 = sqlx::query_scalar("SELECT count(*) FROM ins_orders WHERE customer = $1")
                .bind(i64::try_from(customer).unwrap())
                .fetch_one(&mut work)
                .await
                .unwrap();
        }
        run(&mut work, "RESET enable_seqscan").await;
        // Utility statements keep their literals in pg_stat_statements.
        run(&mut work, &format!("CREATE ROLE {role}")).await;
        run(&mut work, &format!("ALTER ROLE {role} PASSWORD '{secret}'")).await;
        run(&mut work, &format!("SET application_name = '{secret}'")).await;
        flush_stats(&mut work).await;

        let raw: Vec<String> = sqlx::query_scalar(
            "SELECT query FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_all(&mut work)
        .await
        .unwrap();
        assert!(
            raw.iter().any(|q| q.contains(&secret)),
            "the premise: pg_stat_statements keeps the literals of utility statements: {raw:#?}"
        );
        let (seq_query_id, seq_calls): (i64, i64) = sqlx::query_as(
            "SELECT queryid, calls FROM pg_stat_statements \
             WHERE query LIKE 'SELECT count(*) FROM ins_big WHERE payload = $1' \
             AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut work)
        .await
        .unwrap();
        assert!(seq_calls >= i64::try_from(SEQ_SCANS).unwrap());

        let insights = PgInsights::new(
            db.options.clone(),
            InsightsConfig::new()
                .top_statements(100)
                .seq_scan_heavy(SEQ_SCANS - 5, 10_000),
        );
        let seen = collect_until(&insights, "the work", |report| {
            table_of(report, "ins_big").is_some_and(|t| {
                t.seq_scans >= SEQ_SCANS && t.rows >= u64::try_from(BIG_ROWS).unwrap()
            }) && report
                .indexes
                .iter()
                .any(|i| i.index == "ins_orders_customer_idx" && i.scans >= INDEX_SCANS)
        })
        .await;
        report = Some((seen, seq_query_id));
        run(&mut work, &format!("DROP ROLE {role}")).await;
        run(&mut work, "DROP TABLE ins_big, ins_events, ins_orders").await;
        work.close().await.unwrap();
    });
    let (report, seq_query_id) = report.unwrap();
    println!("{report}");

    assert_eq!(report.namespace, db.name);
    assert!(report.stats_since.is_some(), "{report:#?}");
    // Unused: the plain index only; not the used index, nor the unique or primary keys.
    let unused: Vec<&str> = report
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::UnusedIndex { index, .. } => Some(index.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(unused, ["ins_events_kind_idx"], "{report:#?}");
    let Some(Finding::UnusedIndex {
        table,
        size_bytes,
        since,
        ..
    }) = report.findings.iter().find(|f| f.kind() == "unused_index")
    else {
        unreachable!()
    };
    assert_eq!(table, "ins_events");
    assert!(*size_bytes > 0);
    assert_eq!(since, &report.stats_since);

    let heavy: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind() == "seq_scan_heavy_table")
        .collect();
    assert_eq!(heavy.len(), 1, "{report:#?}");
    let Finding::SeqScanHeavyTable {
        table,
        seq_scans,
        seq_rows_read,
        index_scans,
        rows,
        ..
    } = heavy[0]
    else {
        unreachable!()
    };
    assert_eq!(table, "ins_big");
    assert_eq!(*seq_scans, SEQ_SCANS, "one sequential scan per query");
    assert_eq!(*seq_rows_read, SEQ_SCANS * u64::try_from(BIG_ROWS).unwrap());
    assert_eq!(*index_scans, 0);
    assert!(*rows >= u64::try_from(BIG_ROWS).unwrap());
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind() == "statements_unavailable"),
        "{report:#?}"
    );

    // Display: one finding per line.
    let text = report.to_string();
    assert_eq!(text.lines().count(), report.findings.len(), "{text}");
    assert!(
        text.contains("index ins_events_kind_idx on ins_events ("),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "unused since stats reset ({})",
            report.stats_since.as_deref().unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "table ins_big ({BIG_ROWS} rows) read by sequential scan {SEQ_SCANS} times"
        )),
        "{text}"
    );
    // JSON for an ops page.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["namespace"], db.name.as_str());
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "unused_index" && f["index"] == "ins_events_kind_idx"),
        "{json:#}"
    );

    // Sizes.
    let big = table_of(&report, "ins_big").unwrap();
    assert!(big.size_bytes > 0);
    assert_eq!(big.index_scans, None);
    assert!(
        report.indexes.iter().all(|i| i.size_bytes > 0),
        "{report:#?}"
    );

    // The statement: its summary and queryid, never its text.
    let statement = report
        .statements
        .iter()
        .find(|s| s.query_id == seq_query_id)
        .unwrap_or_else(|| panic!("queryid {seq_query_id} not in {report:#?}"));
    assert_eq!(statement.summary, "SELECT ins_big");
    assert!(statement.calls >= SEQ_SCANS);
    assert!(statement.exec_time_seconds > 0.0);
    assert!(
        report
            .statements
            .iter()
            .all(|s| !s.summary.contains("pg_stat_user") && !s.summary.contains("pg_stat_database")),
        "the collector's own statements are left out: {report:#?}"
    );
    let query_id = seq_query_id.to_string();
    let labels = [
        ("db.system.name", "postgresql"),
        ("db.namespace", db.name.as_str()),
        ("sdk.db.query_id", query_id.as_str()),
        ("db.query.summary", "SELECT ins_big"),
    ];
    assert!(captured.counter("sdk.db.statement.calls", &labels) >= SEQ_SCANS);
    assert!(
        captured
            .gauge("sdk.db.statement.exec_time", &labels)
            .unwrap()
            > 0.0
    );
    assert!(
        !captured
            .metrics("sdk.db.statement.rows", &labels)
            .is_empty()
    );

    // Tables and indexes.
    let big_labels = |scan| {
        [
            ("db.collection.name", "ins_big"),
            ("sdk.db.scan", scan),
            ("db.namespace", db.name.as_str()),
        ]
    };
    assert_eq!(
        captured.counter("sdk.db.table.scans", &big_labels("seq")),
        SEQ_SCANS
    );
    assert!(
        captured
            .metrics("sdk.db.table.scans", &big_labels("index"))
            .is_empty()
    );
    assert!(
        captured
            .gauge("sdk.db.table.size", &[("db.collection.name", "ins_big")])
            .unwrap()
            > 0.0
    );
    assert!(
        captured
            .gauge("sdk.db.table.rows", &[("db.collection.name", "ins_big")])
            .unwrap()
            >= 20_000.0
    );
    assert!(
        captured.counter(
            "sdk.db.index.scans",
            &[
                ("sdk.db.index", "ins_orders_customer_idx"),
                ("db.collection.name", "ins_orders")
            ]
        ) >= INDEX_SCANS
    );
    assert!(
        captured
            .gauge(
                "sdk.db.index.size",
                &[("sdk.db.index", "ins_events_kind_idx")]
            )
            .unwrap()
            > 0.0
    );
    let findings = |kind| {
        captured.gauge(
            "sdk.db.insights.findings",
            &[("sdk.finding", kind), ("db.namespace", db.name.as_str())],
        )
    };
    assert_eq!(findings("unused_index"), Some(1.0));
    assert_eq!(findings("seq_scan_heavy_table"), Some(1.0));
    assert_eq!(findings("statements_unavailable"), Some(0.0));

    // Each collection timed; the collector's statements made no query spans.
    assert!(!samples(&captured, "ok").is_empty());
    assert!(
        samples(&captured, "ok")
            .iter()
            .all(|s| *s > 0.0 && *s < 30.0)
    );
    assert!(samples(&captured, "error").is_empty());
    assert!(captured.spans.is_empty(), "{:?}", captured.names());

    // No literal anywhere.
    let everything = format!(
        "{:?}{:?}{}{}{}",
        captured.metrics,
        report,
        report,
        serde_json::to_string(&report).unwrap(),
        captured.log_text
    );
    assert!(!everything.contains(&secret), "{secret} leaked");

    // The bounds hold the series count.
    let bounded = PgInsights::new(
        db.options.clone(),
        InsightsConfig::new()
            .top_statements(3)
            .max_tables(2)
            .max_indexes(2),
    );
    let mut small = None;
    let captured = capture(&rt, || async {
        small = Some(bounded.collect().await.unwrap());
    });
    let small = small.unwrap();
    assert!(small.statements.len() <= 3 && small.tables.len() <= 2 && small.indexes.len() <= 2);
    assert!(series(&captured, "sdk.db.statement.calls") <= 3);
    assert!(series(&captured, "sdk.db.statement.exec_time") <= 3);
    assert!(series(&captured, "sdk.db.table.size") <= 2);
    assert!(series(&captured, "sdk.db.table.scans") <= 4);
    assert!(series(&captured, "sdk.db.index.size") <= 2);
    assert_eq!(series(&captured, "sdk.db.insights.findings"), 3);
    drop(db);
}

#[test]
fn missing_pg_stat_statements_is_a_finding_and_tables_are_still_collected() {
    let rt = runtime();
    let db = rt.block_on(FreshDatabase::create(false));
    let mut report = None;
    let captured = capture(&rt, || async {
        let mut work = connect(&db.options).await;
        run(
            &mut work,
            "CREATE SCHEMA audit; \
             CREATE TABLE audit.entries (id int8 PRIMARY KEY, actor text); \
             CREATE INDEX entries_actor_idx ON audit.entries (actor); \
             INSERT INTO audit.entries SELECT g, 'a' || g FROM generate_series(1, 100) g",
        )
        .await;
        flush_stats(&mut work).await;
        let insights = PgInsights::new(db.options.clone(), InsightsConfig::new());
        report = Some(
            collect_until(&insights, "audit.entries", |r| {
                table_of(r, "audit.entries").is_some_and(|t| t.rows >= 100)
            })
            .await,
        );
        work.close().await.unwrap();
    });
    let report = report.unwrap();
    println!("{report}");
    let reason = report
        .findings
        .iter()
        .find_map(|f| match f {
            Finding::StatementsUnavailable { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no statements_unavailable in {report:#?}"));
    assert!(reason.contains("not installed"), "{reason}");
    assert!(
        reason.contains("CREATE EXTENSION pg_stat_statements"),
        "{reason}"
    );
    assert!(report.statements.is_empty());
    // Schema-qualified outside public.
    assert!(
        report.findings.iter().any(|f| matches!(f,
            Finding::UnusedIndex { table, index, .. }
                if table == "audit.entries" && index == "entries_actor_idx")),
        "{report:#?}"
    );
    assert!(!report.findings.iter().any(|f| matches!(f,
        Finding::UnusedIndex { index, .. } if index == "entries_pkey")));
    assert!(
        report.to_string().contains(
            "top statements unavailable: the pg_stat_statements extension is not installed"
        )
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "statements_unavailable"),
        "{json:#}"
    );
    assert_eq!(
        captured.gauge(
            "sdk.db.insights.findings",
            &[("sdk.finding", "statements_unavailable")]
        ),
        Some(1.0)
    );
    assert!(
        captured
            .gauge(
                "sdk.db.table.rows",
                &[("db.collection.name", "audit.entries")]
            )
            .unwrap()
            >= 100.0
    );
    assert!(samples(&captured, "error").is_empty());
    assert!(!samples(&captured, "ok").is_empty());
    drop(db);
}

#[test]
fn spawned_collector_borrows_one_pool_connection_and_stops_on_drop() {
    let rt = runtime();
    let mut collections = 0;
    let captured = capture(&rt, || async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options())
            .await
            .unwrap();
        let pool = InstrumentedPool::new(pool, SqlxConfig::new());
        let handle = PgInsights::new(
            &pool,
            InsightsConfig::new()
                .interval(Duration::from_millis(20))
                .top_statements(5),
        )
        .spawn()
        .unwrap();
        // Three reports, each a new collection.
        let started = Instant::now();
        let mut last: Option<Arc<InsightsReport>> = None;
        while collections < 3 {
            if let Some(report) = handle.latest_report()
                && !last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &report))
            {
                collections += 1;
                last = Some(report);
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{collections} collections in {DEADLINE:?}; last error: {:?}",
                handle.last_error()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(handle.last_error().is_none());
        assert_eq!(last.unwrap().namespace, "test");
        handle.stop();
        // The one connection is back in the pool.
        let conn = pool.acquire().await.unwrap();
        drop(conn);
    });
    assert!(samples(&captured, "ok").len() >= collections);
    // The application's own acquire made no span either; the collector's queries none.
    assert!(
        captured
            .spans
            .iter()
            .all(|s| s.attribute("db.system.name").is_none()),
        "{:?}",
        captured.names()
    );
}

#[test]
fn failures_are_errors_and_timeouts_never_panics_and_log_once() {
    let rt = runtime();
    let captured = capture(&rt, || async {
        // Nothing listens.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let refused = PgInsights::new(
            options().port(closed),
            InsightsConfig::new().timeout(Duration::from_secs(10)),
        );
        let err = refused.collect().await.unwrap_err();
        assert!(matches!(err, InsightsError::Connect(_)), "{err:?}");

        // Accepts, never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let stuck = PgInsights::new(
            options().port(port),
            InsightsConfig::new().timeout(Duration::from_millis(200)),
        );
        let err = stuck.collect().await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.to_string().contains("200 ms"), "{err}");
        hold.abort();

        // In the background: logged once, however many times it fails.
        let handle = PgInsights::new(
            options().port(closed),
            InsightsConfig::new().interval(Duration::from_millis(10)),
        )
        .spawn()
        .unwrap();
        let started = Instant::now();
        let mut failures = 0;
        let mut last: Option<Arc<InsightsError>> = None;
        while failures < 4 {
            if let Some(err) = handle.last_error()
                && !last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &err))
            {
                failures += 1;
                last = Some(err);
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{failures} failures in {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(handle.latest_report().is_none());
        handle.stop();
    });
    assert!(samples(&captured, "error").len() >= 5);
    assert_eq!(samples(&captured, "timeout").len(), 1);
    let warnings = captured
        .logs
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("database insights collection failed"))
        })
        .count();
    assert_eq!(warnings, 1, "{}", captured.log_text);
}

#[test]
fn environment_turns_the_collector_on_with_typed_errors() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert!(InsightsConfig::from_lookup(env(&[])).unwrap().is_none());
    assert!(
        InsightsConfig::from_lookup(env(&[(INTERVAL_ENV, "0")]))
            .unwrap()
            .is_none()
    );
    let config = InsightsConfig::from_lookup(env(&[
        (INTERVAL_ENV, " 30 "),
        (TOP_STATEMENTS_ENV, "5"),
        (TIMEOUT_ENV, "3"),
    ]))
    .unwrap()
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        debug.contains("interval: 30s")
            && debug.contains("top_statements: 5")
            && debug.contains("timeout: 3s"),
        "{debug}"
    );

    let err = InsightsConfig::from_lookup(env(&[(INTERVAL_ENV, "1m")])).unwrap_err();
    assert_eq!(
        err,
        ConfigError {
            variable: INTERVAL_ENV,
            value: "1m".to_owned(),
            expected: "a whole number of seconds (0 turns the collector off)",
        }
    );
    assert!(
        err.to_string()
            .contains("SDK_DB_INSIGHTS_INTERVAL_SECS=\"1m\" is invalid"),
        "{err}"
    );
    let err = InsightsConfig::from_lookup(env(&[(INTERVAL_ENV, "10"), (TOP_STATEMENTS_ENV, "-1")]))
        .unwrap_err();
    assert_eq!(err.variable, TOP_STATEMENTS_ENV);
    let err =
        InsightsConfig::from_lookup(env(&[(INTERVAL_ENV, "10"), (TIMEOUT_ENV, "0")])).unwrap_err();
    assert_eq!(err.variable, TIMEOUT_ENV);
    // Outside a runtime, spawning is an error, not a panic.
    let insights = PgInsights::new(options(), InsightsConfig::new());
    assert!(insights.spawn().is_err());
}
