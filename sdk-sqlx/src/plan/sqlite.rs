//! SQLite plans: `EXPLAIN QUERY PLAN` (parameters unbound), full scans (`SCAN t` without
//! an index), and a bounded count to tell whether a scanned table is large.

use super::report::{MAX_FINDINGS, PlanSummary};
use super::worker::{ExplainRequest, Explainer, PlanError};
use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use std::sync::Arc;
use std::time::Duration;

/// Explains on a connection of its own, opened from the pool's options when first needed.
pub(crate) struct SqliteExplainer {
    options: SqliteConnectOptions,
    connection: Option<SqliteConnection>,
    large_table_rows: u64,
}

impl SqliteExplainer {
    pub(crate) fn new(
        options: Arc<SqliteConnectOptions>,
        timeout: Duration,
        large_table_rows: u64,
    ) -> Self {
        let options = SqliteConnectOptions::clone(&options)
            .busy_timeout(timeout)
            .disable_statement_logging();
        Self {
            options,
            connection: None,
            large_table_rows,
        }
    }
}

impl Explainer for SqliteExplainer {
    fn explain<'a>(
        &'a mut self,
        request: ExplainRequest<'a>,
    ) -> BoxFuture<'a, Result<PlanSummary, PlanError>> {
        Box::pin(async move {
            if self.connection.is_none() {
                self.connection = Some(self.options.connect().await?);
            }
            let Some(connection) = self.connection.as_mut() else {
                return Err(PlanError::Failed(None));
            };
            let rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", request.sql)))
                .fetch_all(&mut *connection)
                .await?;
            let details: Vec<String> = rows
                .iter()
                .filter_map(|row| row.try_get::<String, _>("detail").ok())
                .collect();
            let (mut plan, scanned) = summarise(&details);
            for table in scanned {
                if let Some(rows) = count_up_to(connection, &table, self.large_table_rows).await
                    && rows >= self.large_table_rows
                {
                    plan.large_scans.push((table, rows));
                }
            }
            Ok(plan)
        })
    }

    fn reset(&mut self) {
        self.connection = None;
    }
}

/// Rows of `table`, counted up to `limit` (SQLite keeps no row count); `None` when it is
/// not a table (a view, a common table expression, a subquery).
async fn count_up_to(connection: &mut SqliteConnection, table: &str, limit: u64) -> Option<u64> {
    let quoted = table.replace('"', "\"\"");
    let limit = limit.saturating_add(1).min(i64::MAX as u64);
    let sql = format!("SELECT count(*) FROM (SELECT 1 FROM \"{quoted}\" LIMIT {limit})");
    let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_one(&mut *connection)
        .await
        .ok()?;
    u64::try_from(count).ok()
}

/// The top node (first step's verb), and the tables read by a full scan.
fn summarise(details: &[String]) -> (PlanSummary, Vec<String>) {
    let mut plan = PlanSummary {
        top_node: details
            .first()
            .and_then(|d| d.split_whitespace().next())
            .unwrap_or("")
            .to_owned(),
        ..PlanSummary::default()
    };
    let mut scanned: Vec<String> = Vec::new();
    for detail in details {
        if let Some(table) = full_scan(detail)
            && !scanned.iter().any(|t| t == table)
            && scanned.len() < MAX_FINDINGS
        {
            scanned.push(table.to_owned());
        }
    }
    plan.top_node.truncate(32);
    (plan, scanned)
}

/// `SCAN t` (`SCAN TABLE t` before SQLite 3.36), not `SCAN t USING [COVERING] INDEX i`,
/// `SCAN CONSTANT ROW` or `SCAN (subquery-1)`.
fn full_scan(detail: &str) -> Option<&str> {
    let mut words = detail.split_whitespace();
    if words.next() != Some("SCAN") {
        return None;
    }
    let mut table = words.next()?;
    if table == "TABLE" {
        table = words.next()?;
    }
    if table == "CONSTANT" || table.starts_with('(') || detail.contains(" INDEX ") {
        return None;
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scans_are_told_from_index_use() {
        assert_eq!(full_scan("SCAN orders"), Some("orders"));
        assert_eq!(full_scan("SCAN TABLE orders"), Some("orders"));
        assert_eq!(full_scan("SCAN orders USING COVERING INDEX i"), None);
        assert_eq!(full_scan("SEARCH orders USING INDEX i (a=?)"), None);
        assert_eq!(full_scan("SCAN CONSTANT ROW"), None);
        assert_eq!(full_scan("SCAN (subquery-1)"), None);
    }
}
