//! SQLite plans: `EXPLAIN QUERY PLAN` (parameters unbound), full scans (`SCAN t` without
//! an index), and a bounded count to tell whether a scanned table is large.

use super::report::{MAX_FINDINGS, PlanSummary};
use super::worker::{ExplainRequest, Explainer, PlanError, own_connection};
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
            let connection = own_connection(&mut self.connection, &self.options).await?;
            let rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", request.sql)))
                .fetch_all(&mut *connection)
                .await?;
            let details: Vec<String> = rows
                .iter()
                .filter_map(|row| row.try_get::<String, _>("detail").ok())
                .collect();
            let (mut plan, scanned) = summarise(&details);
            for name in scanned {
                // The plan names a table by its alias when it has one (`FROM orders o`:
                // `SCAN o`): the statement says which table the alias stands for, and only
                // a name that is a table of the database is counted.
                let table = aliased_table(request.sql, &name).unwrap_or(name);
                if !is_table(connection, &table).await {
                    continue;
                }
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

/// Whether `name` is a table of the database (not a view, an alias or a common table
/// expression).
async fn is_table(connection: &mut SqliteConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
    )
    .bind(name)
    .persistent(false)
    .fetch_one(&mut *connection)
    .await
    .is_ok_and(|n| n > 0)
}

/// The table `alias` stands for in `sql` (`FROM orders o`, `JOIN orders AS o`), if the
/// statement gives it one.
fn aliased_table(sql: &str, alias: &str) -> Option<String> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let is = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
    for (i, word) in words.iter().enumerate() {
        if !is(word, alias) || i == 0 {
            continue;
        }
        let table = if is(words[i - 1], "AS") && i >= 2 {
            words[i - 2]
        } else {
            words[i - 1]
        };
        let before_table = words.get(i.wrapping_sub(if is(words[i - 1], "AS") { 3 } else { 2 }));
        if before_table.is_some_and(|w| is(w, "FROM") || is(w, "JOIN")) {
            return Some(table.trim_matches(|c| c == '"' || c == '`').to_owned());
        }
    }
    None
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

    #[test]
    fn aliases_lead_to_their_tables() {
        let sql = "SELECT o.id FROM orders o JOIN \"Items\" AS i ON i.o = o.id, users u";
        assert_eq!(aliased_table(sql, "o").as_deref(), Some("orders"));
        assert_eq!(aliased_table(sql, "i").as_deref(), Some("Items"));
        assert_eq!(aliased_table(sql, "u"), None, "after a comma: not resolved");
        assert_eq!(aliased_table(sql, "orders"), None, "a table, not an alias");
        assert_eq!(aliased_table("SELECT 1 FROM t", "x"), None);
    }
}
