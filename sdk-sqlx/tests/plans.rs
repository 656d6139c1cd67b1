//! Plans of slow queries against the real PostgreSQL (`SDK_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; `cargo xtask test` starts it) and SQLite.
//!
//! Every query is slow (threshold 0), so every query through the pool is handed to the
//! planner. The worker runs in the background: tests wait for its log lines by polling the
//! captured output (deadline 60 s), and what is counted without the worker (write,
//! rate_limited) is counted before the query returns.

use sdk_core::config::{Sampler, ServiceInfo};
use sdk_core::logs::JsonLogLayer;
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::testing::{CapturedLogs, RecordedMetric, RecordedValue, capture_metrics};
use sdk_core::trace::TraceContextLayer;
use sdk_sqlx::plan::PlanConfig;
use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Postgres, Sqlite};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

const PLANS: &str = "sdk.db.client.plans";
const FINDINGS: &str = "sdk.db.client.plan.findings";
const DEADLINE: Duration = Duration::from_secs(60);

struct Captured {
    metrics: Vec<RecordedMetric>,
    spans: Vec<FinishedSpan>,
    logs: Vec<Value>,
    log_text: String,
}

impl Captured {
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.metrics
            .iter()
            .filter(|m| m.name == name)
            .filter(|m| {
                labels
                    .iter()
                    .all(|(k, v)| m.labels.iter().any(|(mk, mv)| mk == k && mv == v))
            })
            .map(|m| match m.value {
                RecordedValue::Counter(v) => v,
                _ => 0,
            })
            .sum()
    }

    fn plans(&self, result: &str) -> u64 {
        self.counter(PLANS, &[("sdk.result", result)])
    }

    /// The query span whose sanitized text is `text`.
    fn span_with_text(&self, text: &str) -> &FinishedSpan {
        self.spans
            .iter()
            .find(|s| s.attribute_str("db.query.text") == Some(text))
            .unwrap_or_else(|| panic!("no span with db.query.text {text:?}"))
    }

    /// Asserts that the plan line `line` was logged in the query's trace, in a `db.plan`
    /// span whose parent is `query`'s span.
    fn assert_plan_under(&self, line: &Value, query: &FinishedSpan) {
        assert_eq!(line["trace_id"], query.trace_id.to_string(), "{line}");
        let plan = self
            .spans
            .iter()
            .find(|s| line["span_id"] == s.span_id.to_string())
            .unwrap_or_else(|| panic!("no span has the plan line's span id: {line}"));
        assert_eq!(&*plan.name, "db.plan", "{line}");
        assert_eq!(plan.trace_id, query.trace_id);
        assert_eq!(plan.parent_span_id, Some(query.span_id), "{line}");
    }

    /// The plan line of the query whose sanitized text is `text`.
    fn plan_line(&self, text: &str) -> &Value {
        self.logs
            .iter()
            .find(|line| is_plan_of(line, text))
            .unwrap_or_else(|| panic!("no plan line for {text:?}:\n{}", self.log_text))
    }
}

fn is_plan_of(line: &Value, text: &str) -> bool {
    line["target"] == "sdk_sqlx::plan"
        && line["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("slow query plan"))
        && line["fields"]["db.query.text"] == text
}

/// Runs `body` on a current-thread runtime with spans, JSON logs and metrics captured;
/// `body` gets the log capture to wait on.
fn capture<F, Fut>(body: F) -> Captured
where
    F: FnOnce(CapturedLogs) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spans: Arc<Mutex<Vec<FinishedSpan>>> = Arc::default();
    let sink = {
        let spans = Arc::clone(&spans);
        move |span| {
            spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(span)
        }
    };
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(Arc::new(sink)))
        .with(JsonLogLayer::new(logs.clone(), &ServiceInfo::default()));
    let metrics = capture_metrics(|| {
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(body(logs.clone()));
            // The worker and the spans its jobs hold end with the runtime.
            drop(runtime);
        })
    });
    let spans = spans.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Captured {
        metrics,
        spans,
        logs: logs.lines(),
        log_text: logs.text(),
    }
}

/// Waits until the plan line of `text` is logged (the worker is in the background).
async fn wait_for_plan(logs: &CapturedLogs, text: &str) {
    let started = Instant::now();
    loop {
        if logs.lines().iter().any(|line| is_plan_of(line, text)) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no plan line for {text:?} within {DEADLINE:?}; the log so far:\n{}",
            logs.text()
        );
        // Polling interval; yields to the worker on this runtime.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A table name no other test run uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn url() -> String {
    std::env::var("SDK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn pg_pool(plans: PlanConfig) -> InstrumentedPool<Postgres> {
    let options: PgConnectOptions = url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.disable_statement_logging())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is not reachable ({e}); `cargo xtask test` starts it",
                url()
            )
        });
    let config = SqlxConfig::new()
        .slow_query_threshold(Some(Duration::ZERO))
        .slow_query_plans(plans);
    InstrumentedPool::new(pool, config)
}

async fn raw(pool: &InstrumentedPool<Postgres>, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(pool.inner())
        .await
        .unwrap();
}

/// `rows` rows (`id` the primary key, `n` = `id % 100` unindexed, `m` = `n`), analyzed.
async fn pg_table(pool: &InstrumentedPool<Postgres>, table: &str, rows: u32) {
    raw(
        pool,
        format!(
            "DROP TABLE IF EXISTS {table}; \
             CREATE TABLE {table} (id int4 PRIMARY KEY, n int4 NOT NULL, m int4 NOT NULL, note text NOT NULL); \
             INSERT INTO {table} SELECT g, g % 100, g % 100, 'row ' || g FROM generate_series(1, {rows}) AS g; \
             ANALYZE {table}"
        ),
    )
    .await;
}

#[test]
fn postgres_plan_of_a_large_seq_scan_is_logged_in_the_query_trace() {
    let table = unique("plans_big");
    let t = table.clone();
    let captured = capture(|logs| async move {
        let pool = pg_pool(PlanConfig::new()).await;
        pg_table(&pool, &t, 50_000).await;
        let request = tracing::info_span!("request");
        let scan_text = format!("SELECT count(*) FROM {t} WHERE n = $1 AND note <> ?");
        let count: i64 = {
            let _entered = request.enter();
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {t} WHERE n = $1 AND note <> 'sekrit-literal-1'"
            )))
            .bind(7)
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        assert_eq!(count, 500);
        wait_for_plan(&logs, &scan_text).await;

        let lookup_text = format!("SELECT note FROM {t} WHERE id = $1");
        let note: String = sqlx::query_scalar(AssertSqlSafe(lookup_text.clone()))
            .bind(42)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(note, "row 42");
        wait_for_plan(&logs, &lookup_text).await;
        raw(&pool, format!("DROP TABLE {t}")).await;
    });

    let scan_text = format!("SELECT count(*) FROM {table} WHERE n = $1 AND note <> ?");
    let scan = captured.plan_line(&scan_text);
    let span = captured.span_with_text(&scan_text);
    // Correlated: the query's trace, in a span whose parent is the query's span; the
    // query's span ended with the query, before the plan was taken.
    captured.assert_plan_under(scan, span);
    assert_eq!(scan["level"], "WARN");
    let fields = &scan["fields"];
    assert_eq!(fields["db.system.name"], "postgresql");
    assert_eq!(fields["db.query.summary"], format!("SELECT {table}"));
    assert_eq!(fields["db.plan.node"], "Aggregate");
    assert!(fields["db.plan.cost"].as_f64().unwrap() > 0.0, "{scan}");
    assert_eq!(fields["db.plan.rows.estimated"], 1.0);
    assert!(
        fields["db.plan.rows.actual"].is_null(),
        "no ANALYZE: {scan}"
    );
    assert!(
        fields["db.plan.seq_scans"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{table} (")),
        "{scan}"
    );
    assert!(fields["explain_ms"].as_f64().unwrap() >= 0.0);
    // The plan is an event of its own span, not of the query's (which ended with the query).
    assert!(
        !span
            .events
            .iter()
            .any(|e| e.name.starts_with("slow query plan")),
        "{:?}",
        span.events
    );

    let lookup_text = format!("SELECT note FROM {table} WHERE id = $1");
    let lookup = captured.plan_line(&lookup_text);
    assert_eq!(lookup["level"], "INFO", "{lookup}");
    assert!(lookup["fields"]["db.plan.seq_scans"].is_null(), "{lookup}");
    assert!(lookup["fields"]["db.plan.findings"].is_null(), "{lookup}");

    assert_eq!(captured.plans("explained"), 2);
    assert_eq!(
        captured.counter(
            FINDINGS,
            &[
                ("db.system.name", "postgresql"),
                ("db.collection.name", &table),
                ("sdk.finding", "seq_scan_large_table"),
            ]
        ),
        1
    );
    assert_eq!(captured.counter(FINDINGS, &[]), 1);
    // No literal of the statements reaches telemetry, plan lines included.
    let everything = format!("{:?}{}", captured.spans, captured.log_text);
    assert!(!everything.contains("sekrit"), "a literal leaked");
}

#[test]
fn postgres_writes_are_counted_and_never_explained() {
    let table = unique("plans_writes");
    let t = table.clone();
    let captured = capture(|logs| async move {
        // ANALYZE on: the strongest case (an EXPLAIN ANALYZE would run the write).
        let pool = pg_pool(PlanConfig::new().analyze(true)).await;
        raw(
            &pool,
            format!(
                "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id serial PRIMARY KEY, n int4 NOT NULL)"
            ),
        )
        .await;
        // pg_stat_statements (preloaded by `cargo xtask test`) sees every statement sent.
        let _ = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool.inner())
            .await;

        sqlx::query(AssertSqlSafe(format!("INSERT INTO {t} (n) VALUES (1)")))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET n = n + 1 WHERE id = $1"
        )))
        .bind(1)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "WITH x AS (SELECT 5 AS n) INSERT INTO {t} (n) SELECT n FROM x"
        )))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!("SELECT * FROM {t} FOR UPDATE")))
            .fetch_all(&pool)
            .await
            .unwrap();
        // Counted as the queries ended, before any worker ran.
        // (Checked on the metrics after the run; here: nothing was queued.)

        // The worker takes jobs in order: once this read's plan is logged, any job queued
        // before it would have run.
        let marker = format!("SELECT count(*) FROM {t}");
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(marker.clone()))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 2);
        wait_for_plan(&logs, &marker).await;

        // An EXPLAIN ANALYZE of the INSERTs, even rolled back, would have taken ids.
        let next: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT nextval(pg_get_serial_sequence('{t}', 'id'))"
        )))
        .fetch_one(pool.inner())
        .await
        .unwrap();
        assert_eq!(next, 3, "the sequence moved: a write was executed again");
        let explained: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_statements WHERE query ILIKE $1 \
             AND (query ILIKE '%INSERT%' OR query ILIKE '%UPDATE%') \
             AND (query ILIKE '%EXPLAIN%' OR query ILIKE '%PREPARE%')",
        )
        .bind(format!("%{t}%"))
        .fetch_one(pool.inner())
        .await
        .unwrap_or_else(|e| {
            panic!("pg_stat_statements is not available ({e}); `cargo xtask test` enables it")
        });
        assert_eq!(explained, 0, "a write was sent to EXPLAIN");
        raw(&pool, format!("DROP TABLE {t}")).await;
    });
    assert_eq!(captured.plans("write"), 4, "{:?}", captured.metrics);
    assert_eq!(captured.plans("explained"), 1);
    let plan_lines = captured
        .logs
        .iter()
        .filter(|l| l["target"] == "sdk_sqlx::plan")
        .count();
    assert_eq!(plan_lines, 1, "{}", captured.log_text);
    captured.plan_line(&format!("SELECT count(*) FROM {table}"));
}

#[test]
fn postgres_plan_budget_holds() {
    let table = unique("plans_budget");
    let t = table.clone();
    let captured = capture(|logs| async move {
        // Three plans per hour: no token comes back during the test.
        let pool = pg_pool(PlanConfig::new().max_plans(3, Duration::from_secs(3600))).await;
        pg_table(&pool, &t, 100).await;
        let text = format!("SELECT note FROM {t} WHERE id = $1");
        for i in 0..5usize {
            let _: Option<String> = sqlx::query_scalar(AssertSqlSafe(text.clone()))
                .bind(i as i32)
                .fetch_optional(&pool)
                .await
                .unwrap();
            if i < 3 {
                // The i-th plan is logged (and its summary no longer in flight).
                let started = Instant::now();
                while logs
                    .lines()
                    .iter()
                    .filter(|line| is_plan_of(line, &text))
                    .count()
                    <= i
                {
                    assert!(
                        started.elapsed() < DEADLINE,
                        "plan {i} not logged within {DEADLINE:?}:\n{}",
                        logs.text()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        raw(&pool, format!("DROP TABLE {t}")).await;
    });
    assert_eq!(captured.plans("explained"), 3, "{:?}", captured.metrics);
    assert_eq!(captured.plans("rate_limited"), 2);
    assert_eq!(captured.counter(PLANS, &[]), 5);
}

#[test]
fn postgres_analyze_gives_actual_rows_and_flags_a_row_estimate_off() {
    let table = unique("plans_analyze");
    let t = table.clone();
    let captured = capture(|logs| async move {
        let pool = pg_pool(PlanConfig::new().analyze(true)).await;
        pg_table(&pool, &t, 50_000).await;
        // n and m are equal, the planner takes them as independent: 5 rows estimated,
        // 500 read.
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {t} WHERE n = 7 AND m = 7 AND note <> 'sekrit-literal-2'"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(count, 500);
        wait_for_plan(
            &logs,
            &format!("SELECT count(*) FROM {t} WHERE n = ? AND m = ? AND note <> ?"),
        )
        .await;
        // With parameters there is no ANALYZE (the arguments are gone).
        let text = format!("SELECT count(*) FROM {t} WHERE n = $1");
        let _: i64 = sqlx::query_scalar(AssertSqlSafe(text.clone()))
            .bind(3)
            .fetch_one(&pool)
            .await
            .unwrap();
        wait_for_plan(&logs, &text).await;
        raw(&pool, format!("DROP TABLE {t}")).await;
    });
    let analyzed = captured.plan_line(&format!(
        "SELECT count(*) FROM {table} WHERE n = ? AND m = ? AND note <> ?"
    ));
    let fields = &analyzed["fields"];
    assert_eq!(fields["db.plan.rows.actual"], 1.0, "{analyzed}");
    assert!(fields["db.plan.time_ms.actual"].as_f64().unwrap() > 0.0);
    let findings = fields["db.plan.findings"].as_str().unwrap();
    assert!(findings.contains("row_estimate_off"), "{analyzed}");
    assert!(findings.contains("seq_scan_large_table"), "{analyzed}");
    let generic = captured.plan_line(&format!("SELECT count(*) FROM {table} WHERE n = $1"));
    assert!(
        generic["fields"]["db.plan.rows.actual"].is_null(),
        "{generic}"
    );
    assert_eq!(
        captured.counter(
            FINDINGS,
            &[
                ("db.collection.name", &table),
                ("sdk.finding", "row_estimate_off")
            ]
        ),
        1
    );
    assert_eq!(
        captured.counter(
            FINDINGS,
            &[
                ("db.collection.name", &table),
                ("sdk.finding", "seq_scan_large_table")
            ]
        ),
        2
    );
    assert!(!captured.log_text.contains("sekrit"), "a literal leaked");
}

#[test]
fn sqlite_plan_reports_a_full_scan_of_a_large_table() {
    let dir = std::env::temp_dir().join(unique("sdk-sqlx-plans"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plans.db");
    let path = file.clone();
    let captured = capture(|logs| async move {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let pool: InstrumentedPool<Sqlite> = InstrumentedPool::new(
            pool,
            SqlxConfig::new()
                .slow_query_threshold(Some(Duration::ZERO))
                .slow_query_plans(PlanConfig::new()),
        );
        sqlx::raw_sql(
            "CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, note TEXT NOT NULL); \
             WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 50000) \
             INSERT INTO big SELECT i, i % 100, 'row ' || i FROM g",
        )
        .execute(pool.inner())
        .await
        .unwrap();
        let scan = "SELECT count(*) FROM big WHERE n = ? AND note <> ?";
        let request = tracing::info_span!("request");
        let count: i64 = {
            let _entered = request.enter();
            sqlx::query_scalar(
                "SELECT count(*) FROM big WHERE n = ? AND note <> 'sekrit-literal-3'",
            )
            .bind(7)
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        assert_eq!(count, 500);
        wait_for_plan(&logs, scan).await;
        let lookup = "SELECT note FROM big WHERE id = ?";
        let _: String = sqlx::query_scalar(lookup)
            .bind(42)
            .fetch_one(&pool)
            .await
            .unwrap();
        wait_for_plan(&logs, lookup).await;
        pool.inner().close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);

    let scan_text = "SELECT count(*) FROM big WHERE n = ? AND note <> ?";
    let scan = captured.plan_line(scan_text);
    let span = captured.span_with_text(scan_text);
    captured.assert_plan_under(scan, span);
    assert_eq!(scan["level"], "WARN");
    assert_eq!(scan["fields"]["db.system.name"], "sqlite");
    assert_eq!(scan["fields"]["db.plan.node"], "SCAN");
    assert_eq!(
        scan["fields"]["db.plan.seq_scans"], "big (10001 rows)",
        "{scan}"
    );
    let lookup = captured.plan_line("SELECT note FROM big WHERE id = ?");
    assert_eq!(lookup["fields"]["db.plan.node"], "SEARCH", "{lookup}");
    assert!(lookup["fields"]["db.plan.findings"].is_null(), "{lookup}");
    assert_eq!(
        captured.counter(
            FINDINGS,
            &[
                ("db.system.name", "sqlite"),
                ("db.collection.name", "big"),
                ("sdk.finding", "seq_scan_large_table"),
            ]
        ),
        1
    );
    assert_eq!(captured.counter(FINDINGS, &[]), 1);
    assert_eq!(captured.plans("explained"), 2);
    assert!(!captured.log_text.contains("sekrit"), "a literal leaked");
}

#[test]
fn the_environment_turns_plans_on() {
    let service = ServiceInfo::default();
    let lookup = |value: &'static str| {
        move |name: &str| (name == sdk_sqlx::config::SLOW_QUERY_PLANS_ENV).then(|| value.to_owned())
    };
    let on = SqlxConfig::from_lookup(&service, lookup("on")).unwrap();
    assert!(format!("{on:?}").contains("plans: Some(PlanConfig { analyze: false"));
    let analyze = SqlxConfig::from_lookup(&service, lookup("analyze")).unwrap();
    assert!(format!("{analyze:?}").contains("plans: Some(PlanConfig { analyze: true"));
    let off = SqlxConfig::from_lookup(&service, lookup("off")).unwrap();
    assert!(format!("{off:?}").contains("plans: None"));
    let err = SqlxConfig::from_lookup(&service, lookup("always")).unwrap_err();
    assert_eq!(err.variable, "SDK_DB_SLOW_QUERY_PLANS");
    assert_eq!(err.value, "always");
    assert_eq!(err.expected, "off, on or analyze");
}
