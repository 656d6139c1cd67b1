//! PostgreSQL plans: `EXPLAIN (VERBOSE, FORMAT JSON)` in a rolled-back read-only
//! transaction, statements with parameters through `PREPARE` and a generic plan (PostgreSQL
//! 15 has no `GENERIC_PLAN` option), table sizes from `pg_class.reltuples`.

use super::report::{MAX_FINDINGS, PlanSummary, estimate_off};
use super::worker::{ExplainRequest, Explainer, PlanError, own_connection};
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use std::sync::Arc;
use std::time::Duration;

/// Name of the statement prepared on the planner's connection.
const STATEMENT: &str = "sdk_sqlx_plan";
/// Most plan nodes read from one plan.
const MAX_NODES: usize = 10_000;

/// Explains on a connection of its own, opened from the pool's options when first needed.
pub(crate) struct PgExplainer {
    options: PgConnectOptions,
    connection: Option<PgConnection>,
    timeout: Duration,
    large_table_rows: u64,
}

impl PgExplainer {
    pub(crate) fn new(
        options: Arc<PgConnectOptions>,
        timeout: Duration,
        large_table_rows: u64,
    ) -> Self {
        // sqlx would log the statements (with their literals) at DEBUG: not here.
        let options = PgConnectOptions::clone(&options)
            .application_name("sdk-sqlx plans")
            .disable_statement_logging();
        Self {
            options,
            connection: None,
            timeout,
            large_table_rows,
        }
    }
}

impl Explainer for PgExplainer {
    fn explain<'a>(
        &'a mut self,
        request: ExplainRequest<'a>,
    ) -> BoxFuture<'a, Result<PlanSummary, PlanError>> {
        Box::pin(async move {
            let connection = own_connection(&mut self.connection, &self.options).await?;
            explain_on(connection, request, self.timeout, self.large_table_rows).await
        })
    }

    fn reset(&mut self) {
        self.connection = None;
    }
}

async fn execute(connection: &mut PgConnection, sql: String) -> Result<(), PlanError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *connection)
        .await?;
    Ok(())
}

async fn explain_on(
    connection: &mut PgConnection,
    request: ExplainRequest<'_>,
    timeout: Duration,
    large_table_rows: u64,
) -> Result<PlanSummary, PlanError> {
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
    execute(
        connection,
        format!("BEGIN READ ONLY; SET LOCAL statement_timeout = {ms}"),
    )
    .await?;
    let options = if request.analyze {
        "ANALYZE, VERBOSE, FORMAT JSON"
    } else {
        "VERBOSE, FORMAT JSON"
    };
    let sql = request.sql;
    let explain = if request.params > 0 {
        execute(
            connection,
            format!("SET LOCAL plan_cache_mode = force_generic_plan; PREPARE {STATEMENT} AS {sql}"),
        )
        .await?;
        let nulls = vec!["NULL"; usize::from(request.params)].join(", ");
        let plan = plan_text(
            connection,
            format!("EXPLAIN ({options}) EXECUTE {STATEMENT}({nulls})"),
        )
        .await;
        // After a failure the connection is dropped, and its prepared statement with it.
        if plan.is_ok() {
            execute(connection, format!("DEALLOCATE {STATEMENT}")).await?;
        }
        plan?
    } else {
        plan_text(connection, format!("EXPLAIN ({options}) {sql}")).await?
    };
    let (mut plan, scans) = summarise(&explain).ok_or(PlanError::Failed(None))?;
    if !scans.is_empty() {
        plan.large_scans = large_tables(connection, &scans, large_table_rows).await?;
    }
    execute(connection, "ROLLBACK".to_owned()).await?;
    Ok(plan)
}

async fn plan_text(connection: &mut PgConnection, sql: String) -> Result<String, PlanError> {
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *connection)
        .await?;
    let row = rows.first().ok_or(PlanError::Failed(None))?;
    // The column is `json`; the simple protocol sends it as text.
    Ok(row.try_get_unchecked::<String, _>(0)?)
}

/// A table read by a sequential scan: schema, name and the scan's row estimate.
#[derive(Debug, Clone, PartialEq)]
struct SeqScan {
    schema: String,
    table: String,
    plan_rows: f64,
}

/// The sizes of the scanned tables, from the planner's statistics; those of at least
/// `threshold` rows. A table never analyzed (`reltuples` −1) counts by the scan's estimate.
async fn large_tables(
    connection: &mut PgConnection,
    scans: &[SeqScan],
    threshold: u64,
) -> Result<Vec<(String, u64)>, PlanError> {
    let schemas: Vec<String> = scans.iter().map(|s| s.schema.clone()).collect();
    let tables: Vec<String> = scans.iter().map(|s| s.table.clone()).collect();
    let sizes: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT u.s, u.r, c.reltuples::float8 FROM unnest($1::text[], $2::text[]) AS u(s, r) \
         JOIN pg_namespace n ON n.nspname = u.s \
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = u.r",
    )
    .bind(schemas)
    .bind(tables)
    .persistent(false)
    .fetch_all(&mut *connection)
    .await?;
    let mut large = Vec::new();
    for scan in scans {
        let reltuples = sizes
            .iter()
            .find(|(s, r, _)| *s == scan.schema && *r == scan.table)
            .map(|(_, _, rows)| *rows);
        let rows = match reltuples {
            Some(rows) if rows >= 0.0 => rows,
            _ => scan.plan_rows,
        };
        let rows = rows.max(0.0).round() as u64;
        if rows >= threshold && large.len() < MAX_FINDINGS {
            large.push((scan.table.clone(), rows));
        }
    }
    Ok(large)
}

/// The summary of an `EXPLAIN (FORMAT JSON)` answer, and its sequential scans (distinct
/// tables); `None` when it is not a plan.
fn summarise(json: &str) -> Option<(PlanSummary, Vec<SeqScan>)> {
    let value: Value = serde_json::from_str(json).ok()?;
    let top = value.get(0)?.get("Plan")?;
    let number = |node: &Value, key: &str| node.get(key).and_then(Value::as_f64);
    let mut plan = PlanSummary {
        top_node: top.get("Node Type")?.as_str()?.to_owned(),
        total_cost: number(top, "Total Cost"),
        estimated_rows: number(top, "Plan Rows"),
        actual_rows: number(top, "Actual Rows"),
        actual_time_ms: number(top, "Actual Total Time"),
        ..PlanSummary::default()
    };
    let mut scans: Vec<SeqScan> = Vec::new();
    let mut stack = vec![top];
    let mut seen = 0usize;
    while let Some(node) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            break;
        }
        let relation = node.get("Relation Name").and_then(Value::as_str);
        if node.get("Node Type").and_then(Value::as_str) == Some("Seq Scan")
            && let Some(table) = relation
        {
            let schema = node
                .get("Schema")
                .and_then(Value::as_str)
                .unwrap_or("public");
            let plan_rows = number(node, "Plan Rows").unwrap_or(0.0);
            let full = scans.len() >= MAX_FINDINGS;
            match scans
                .iter_mut()
                .find(|s| s.schema == schema && s.table == table)
            {
                Some(scan) => scan.plan_rows = scan.plan_rows.max(plan_rows),
                None if !full => scans.push(SeqScan {
                    schema: schema.to_owned(),
                    table: table.to_owned(),
                    plan_rows,
                }),
                None => {}
            }
        }
        // Actual rows are per loop, as the estimate is; a node never run has no loops.
        if let (Some(estimated), Some(actual), Some(loops)) = (
            number(node, "Plan Rows"),
            number(node, "Actual Rows"),
            number(node, "Actual Loops"),
        ) && loops > 0.0
            && estimate_off(estimated, actual)
            && plan.estimates_off.len() < MAX_FINDINGS
        {
            plan.estimates_off
                .push((relation.map(str::to_owned), estimated, actual));
        }
        if let Some(children) = node.get("Plans").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
    }
    Some((plan, scans))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_summarised_with_its_scans_and_estimates() {
        let json = r#"[{"Plan": {"Node Type": "Aggregate", "Total Cost": 1000.5,
            "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 1, "Actual Total Time": 12.5,
            "Plans": [{"Node Type": "Seq Scan", "Relation Name": "orders", "Schema": "shop",
              "Plan Rows": 5, "Actual Rows": 500, "Actual Loops": 1}]}}]"#;
        let (plan, scans) = summarise(json).unwrap();
        assert_eq!(plan.top_node, "Aggregate");
        assert_eq!(plan.total_cost, Some(1000.5));
        assert_eq!(plan.actual_rows, Some(1.0));
        assert_eq!(plan.actual_time_ms, Some(12.5));
        assert_eq!(
            scans,
            [SeqScan {
                schema: "shop".into(),
                table: "orders".into(),
                plan_rows: 5.0
            }]
        );
        assert_eq!(
            plan.estimates_off,
            [(Some("orders".to_owned()), 5.0, 500.0)]
        );
        assert!(summarise("not json").is_none());
        assert!(summarise("[{}]").is_none());
    }
}
