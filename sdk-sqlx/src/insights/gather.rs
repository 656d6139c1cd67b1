//! The statements one collection runs, on one connection, in one read-only transaction.
//!
//! Each statement starts with the marker comment `/* sdk-insights */`, so the collector's own
//! entries in `pg_stat_statements` are recognised and left out of the top statements.
//! The transaction bounds every statement by `statement_timeout` (lock waits behind an
//! `ACCESS EXCLUSIVE` lock on a table being sized included) and, being transaction-local,
//! leaves nothing behind on a pooled connection.

use super::InsightsError;
use super::config::InsightsConfig;
use super::report::{Finding, IndexStats, InsightsReport, StatementStats, TableStats};
use sqlx::{AssertSqlSafe, PgConnection};

/// `timestamptz` as RFC 3339 in UTC, by the server (no date crate needed).
macro_rules! rfc3339 {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}

/// `schema.name`, or `name` in `public`.
macro_rules! qualified {
    ($schema:literal, $name:literal) => {
        concat!(
            "CASE WHEN ",
            $schema,
            " = 'public' THEN ",
            $name,
            "::text ELSE ",
            $schema,
            " || '.' || ",
            $name,
            " END"
        )
    };
}

const SETTINGS: &str = "/* sdk-insights */ SELECT set_config('statement_timeout', $1, true), \
     set_config('transaction_read_only', 'on', true)";

const DATABASE: &str = concat!(
    "/* sdk-insights */ SELECT current_database()::text, (SELECT ",
    rfc3339!("stats_reset"),
    " FROM pg_stat_database WHERE datname = current_database()), \
     (SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
     WHERE e.extname = 'pg_stat_statements')"
);

const TABLES: &str = concat!(
    "/* sdk-insights */ SELECT ",
    qualified!("schemaname", "relname"),
    ", seq_scan, seq_tup_read, idx_scan, n_live_tup, pg_table_size(relid) \
     FROM pg_stat_user_tables \
     ORDER BY pg_total_relation_size(relid) DESC NULLS LAST, relid LIMIT $1"
);

const INDEXES: &str = concat!(
    "/* sdk-insights */ SELECT ",
    qualified!("s.schemaname", "s.relname"),
    ", s.indexrelname::text, s.idx_scan, pg_relation_size(s.indexrelid), \
     i.indisunique OR i.indisprimary OR i.indisexclusion \
     FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
     ORDER BY pg_relation_size(s.indexrelid) DESC NULLS LAST, s.indexrelid LIMIT $1"
);

const UNUSED_INDEXES: &str = concat!(
    "/* sdk-insights */ SELECT ",
    qualified!("s.schemaname", "s.relname"),
    ", s.indexrelname::text, pg_relation_size(s.indexrelid) \
     FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
     WHERE s.idx_scan = 0 AND i.indisvalid \
     AND NOT (i.indisunique OR i.indisprimary OR i.indisexclusion) \
     ORDER BY 3 DESC NULLS LAST, s.indexrelid LIMIT $1"
);

const SEQ_SCAN_HEAVY: &str = concat!(
    "/* sdk-insights */ SELECT ",
    qualified!("schemaname", "relname"),
    ", seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup \
     FROM pg_stat_user_tables \
     WHERE seq_scan >= $1 AND n_live_tup >= $2 \
     ORDER BY seq_tup_read DESC, relid LIMIT $3"
);

/// The top statements of this database, summed over users (`{schema}` is the
/// extension's quoted schema). The marker is matched after `pg_stat_statements`
/// normalized the text, which keeps comments.
const STATEMENTS: &str = "/* sdk-insights */ SELECT queryid, min(query), sum(calls)::int8, \
     sum(total_exec_time)::float8 / 1000, sum(rows)::int8 FROM {schema}.pg_stat_statements \
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND queryid IS NOT NULL AND query NOT LIKE '/* sdk-insights */%' \
     GROUP BY queryid ORDER BY 4 DESC, queryid LIMIT $1";

const STATEMENTS_SINCE: &str = concat!(
    "/* sdk-insights */ SELECT ",
    rfc3339!("stats_reset"),
    " FROM {schema}.pg_stat_statements_info"
);

fn count(value: Option<i64>) -> u64 {
    value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn step(step: &'static str) -> impl FnOnce(sqlx::Error) -> InsightsError {
    move |source| InsightsError::from_query(step, source)
}

/// `"schema"` with inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads everything one report holds, in one read-only transaction on `conn`.
pub(crate) async fn gather(
    conn: &mut PgConnection,
    config: &InsightsConfig,
) -> Result<InsightsReport, InsightsError> {
    let mut tx = sqlx::Connection::begin(conn).await.map_err(step("begin"))?;
    let result = gather_in(&mut tx, config).await;
    // Read-only: nothing to keep. A failed rollback leaves sqlx to roll back on the
    // connection's next use.
    let _ = tx.rollback().await;
    result
}

async fn gather_in(
    tx: &mut PgConnection,
    config: &InsightsConfig,
) -> Result<InsightsReport, InsightsError> {
    sqlx::query(SETTINGS)
        .bind(config.statement_timeout())
        .execute(&mut *tx)
        .await
        .map_err(step("settings"))?;
    let (namespace, stats_since, statements_schema): (String, Option<String>, Option<String>) =
        sqlx::query_as(DATABASE)
            .fetch_one(&mut *tx)
            .await
            .map_err(step("database"))?;

    let tables = sqlx::query_as::<
        _,
        (
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        ),
    >(TABLES)
    .bind(limit(config.max_tables))
    .fetch_all(&mut *tx)
    .await
    .map_err(step("tables"))?
    .into_iter()
    .map(|(table, seq, seq_read, idx, rows, size)| TableStats {
        table,
        seq_scans: count(seq),
        seq_rows_read: count(seq_read),
        index_scans: idx.map(|v| count(Some(v))),
        rows: count(rows),
        size_bytes: count(size),
    })
    .collect();

    let indexes =
        sqlx::query_as::<_, (String, String, Option<i64>, Option<i64>, Option<bool>)>(INDEXES)
            .bind(limit(config.max_indexes))
            .fetch_all(&mut *tx)
            .await
            .map_err(step("indexes"))?
            .into_iter()
            .map(|(table, index, scans, size, constraint)| IndexStats {
                table,
                index,
                scans: count(scans),
                size_bytes: count(size),
                enforces_constraint: constraint.unwrap_or(true),
            })
            .collect();

    let mut findings: Vec<Finding> =
        sqlx::query_as::<_, (String, String, Option<i64>)>(UNUSED_INDEXES)
            .bind(limit(config.max_findings))
            .fetch_all(&mut *tx)
            .await
            .map_err(step("unused indexes"))?
            .into_iter()
            .map(|(table, index, size)| Finding::UnusedIndex {
                table,
                index,
                size_bytes: count(size),
                since: stats_since.clone(),
            })
            .collect();
    findings.extend(
        sqlx::query_as::<_, (String, Option<i64>, Option<i64>, Option<i64>, Option<i64>)>(
            SEQ_SCAN_HEAVY,
        )
        .bind(i64::try_from(config.seq_scan_threshold).unwrap_or(i64::MAX))
        .bind(i64::try_from(config.seq_scan_min_rows).unwrap_or(i64::MAX))
        .bind(limit(config.max_findings))
        .fetch_all(&mut *tx)
        .await
        .map_err(step("sequential scans"))?
        .into_iter()
        .map(
            |(table, seq, seq_read, idx, rows)| Finding::SeqScanHeavyTable {
                table,
                seq_scans: count(seq),
                seq_rows_read: count(seq_read),
                index_scans: count(idx),
                rows: count(rows),
                since: stats_since.clone(),
            },
        ),
    );

    let mut report = InsightsReport {
        system: sdk_core::semconv::db::system::POSTGRESQL,
        namespace,
        stats_since,
        statements_since: None,
        statements: Vec::new(),
        tables,
        indexes,
        findings,
    };
    // Last, as a failure here aborts the transaction.
    if config.top_statements > 0 {
        match statements_schema {
            None => report.findings.push(Finding::StatementsUnavailable {
                reason: format!(
                    "the pg_stat_statements extension is not installed in database {} \
                     (add it to shared_preload_libraries, then CREATE EXTENSION pg_stat_statements)",
                    report.namespace
                ),
            }),
            Some(schema) => {
                statements(tx, config, &quote_ident(&schema), &mut report).await?;
            }
        }
    }
    Ok(report)
}

/// Fills the top statements, or adds [`Finding::StatementsUnavailable`] when the view
/// cannot be read (not preloaded, no privilege); a timeout fails the collection.
async fn statements(
    tx: &mut PgConnection,
    config: &InsightsConfig,
    schema: &str,
    report: &mut InsightsReport,
) -> Result<(), InsightsError> {
    let rows = sqlx::query_as::<_, (i64, Option<String>, Option<i64>, Option<f64>, Option<i64>)>(
        AssertSqlSafe(STATEMENTS.replace("{schema}", schema)),
    )
    .bind(limit(config.top_statements))
    .fetch_all(&mut *tx)
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(err) => {
            let err = InsightsError::from_query("statements", err);
            if err.is_timeout() {
                return Err(err);
            }
            report.findings.push(Finding::StatementsUnavailable {
                reason: match &err {
                    InsightsError::Query { source, .. } => unavailable_reason(source),
                    other => other.to_string(),
                },
            });
            return Ok(());
        }
    };
    report.statements = rows
        .into_iter()
        .map(|(query_id, text, calls, seconds, rows)| StatementStats {
            query_id,
            // The summary only: the text may hold literals (utility statements).
            summary: text
                .map(|text| crate::sanitize::sanitize(&text).summary.to_string())
                .unwrap_or_default(),
            calls: count(calls),
            rows: count(rows),
            exec_time_seconds: seconds.unwrap_or(0.0).max(0.0),
        })
        .collect();
    // pg_stat_statements 1.9 (PostgreSQL 14) and later; older ones leave it unknown.
    report.statements_since = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(
        STATEMENTS_SINCE.replace("{schema}", schema),
    ))
    .fetch_optional(&mut *tx)
    .await
    .ok()
    .flatten()
    .flatten();
    Ok(())
}

/// Why `pg_stat_statements` could not be read, from the server's error (our statement
/// holds no literal, so neither does its error).
fn unavailable_reason(err: &sqlx::Error) -> String {
    match err.as_database_error() {
        Some(db) if db.code().as_deref() == Some("55000") => format!(
            "{} (add pg_stat_statements to shared_preload_libraries and restart PostgreSQL)",
            db.message()
        ),
        Some(db) if db.code().as_deref() == Some("42501") => format!(
            "{} (grant pg_read_all_stats to the collector's role)",
            db.message()
        ),
        Some(db) => db.message().to_owned(),
        None => err.to_string(),
    }
}
