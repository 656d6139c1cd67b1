//! What a plan says, as the worker reports it: the log line and the counters.

use super::{finding, result};
use sdk_core::catalogue::{DB_CLIENT_PLAN_FINDINGS, DB_CLIENT_PLANS};
use sdk_core::semconv::{db, sdk};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Most large scans and off estimates kept per plan.
pub(crate) const MAX_FINDINGS: usize = 16;

/// The few numbers of a plan worth a log line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PlanSummary {
    /// The top node (`Seq Scan`, `Aggregate`; SQLite: `SCAN`, `SEARCH`).
    pub(crate) top_node: String,
    /// The planner's total cost of the top node (PostgreSQL).
    pub(crate) total_cost: Option<f64>,
    /// Rows the planner expects from the top node (PostgreSQL).
    pub(crate) estimated_rows: Option<f64>,
    /// Rows the top node returned (ANALYZE).
    pub(crate) actual_rows: Option<f64>,
    /// Time of the top node in milliseconds (ANALYZE).
    pub(crate) actual_time_ms: Option<f64>,
    /// Tables of at least the configured size read by a sequential scan, with their rows.
    pub(crate) large_scans: Vec<(String, u64)>,
    /// Nodes whose actual rows were more than 10× off the estimate: table (if the node
    /// reads one), estimate, actual.
    pub(crate) estimates_off: Vec<(Option<String>, f64, f64)>,
}

/// Whether `actual` is more than [`ROW_ESTIMATE_FACTOR`](super::ROW_ESTIMATE_FACTOR) off
/// `estimated` (both at least 1, so that 0 against 3 is not a finding).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn estimate_off(estimated: f64, actual: f64) -> bool {
    let (e, a) = (estimated.max(1.0), actual.max(1.0));
    e.max(a) / e.min(a) > super::ROW_ESTIMATE_FACTOR
}

/// The query a plan belongs to, as telemetry may show it.
#[derive(Debug, Clone)]
pub(crate) struct QueryLabels {
    pub(crate) system: &'static str,
    pub(crate) summary: Arc<str>,
    pub(crate) text: Arc<str>,
    pub(crate) collection: Option<Arc<str>>,
}

/// Counts one plan outcome.
pub(crate) fn count(system: &'static str, outcome: &'static str) {
    DB_CLIENT_PLANS
        .counter(&[
            (db::SYSTEM_NAME, metrics::SharedString::const_str(system)),
            (sdk::RESULT, metrics::SharedString::const_str(outcome)),
        ])
        .increment(1);
}

fn count_finding(system: &'static str, table: Option<&str>, kind: &'static str) {
    let mut labels = vec![
        (db::SYSTEM_NAME, metrics::SharedString::const_str(system)),
        (sdk::FINDING, metrics::SharedString::const_str(kind)),
    ];
    if let Some(table) = table {
        labels.push((db::COLLECTION_NAME, table.to_owned().into()));
    }
    DB_CLIENT_PLAN_FINDINGS.counter(&labels).increment(1);
}

/// Counts the plan and its findings, then logs it under `span` (the plan's, a child of
/// the query's).
pub(crate) fn report(
    query: &QueryLabels,
    plan: &PlanSummary,
    took: Duration,
    span: &tracing::Span,
) {
    count(query.system, result::EXPLAINED);
    let mut seq_scans = String::new();
    let mut findings = String::new();
    for (table, rows) in &plan.large_scans {
        count_finding(query.system, Some(table), finding::SEQ_SCAN_LARGE_TABLE);
        let sep = if seq_scans.is_empty() { "" } else { ", " };
        let _ = write!(seq_scans, "{sep}{table} ({rows} rows)");
        let sep = if findings.is_empty() { "" } else { ", " };
        let _ = write!(findings, "{sep}{} {table}", finding::SEQ_SCAN_LARGE_TABLE);
    }
    for (table, estimated, actual) in &plan.estimates_off {
        let table = table.as_deref().or(query.collection.as_deref());
        count_finding(query.system, table, finding::ROW_ESTIMATE_OFF);
        let sep = if findings.is_empty() { "" } else { ", " };
        let _ = write!(
            findings,
            "{sep}{} {} ({estimated} estimated, {actual} actual)",
            finding::ROW_ESTIMATE_OFF,
            table.unwrap_or("-")
        );
    }
    let explain_ms = took.as_secs_f64() * 1000.0;
    macro_rules! plan_line {
        ($level:expr, $message:literal) => {
            tracing::event!(
                target: "sdk_sqlx::plan",
                parent: span,
                $level,
                {
                    db.system.name = query.system,
                    db.query.summary = &*query.summary,
                    db.query.text = &*query.text,
                    db.plan.node = plan.top_node.as_str(),
                    db.plan.cost = plan.total_cost,
                    db.plan.rows.estimated = plan.estimated_rows,
                    db.plan.rows.actual = plan.actual_rows,
                    db.plan.time_ms.actual = plan.actual_time_ms,
                    db.plan.seq_scans = (!seq_scans.is_empty()).then_some(seq_scans.as_str()),
                    db.plan.findings = (!findings.is_empty()).then_some(findings.as_str()),
                    explain_ms,
                },
                $message
            )
        };
    }
    if findings.is_empty() {
        plan_line!(tracing::Level::INFO, "slow query plan");
    } else {
        plan_line!(tracing::Level::WARN, "slow query plan with findings");
    }
}

/// Counts a plan that was not taken and says why at DEBUG (an SQLSTATE at most: a
/// database's message can quote the statement).
pub(crate) fn report_failure(
    query: &QueryLabels,
    outcome: &'static str,
    code: Option<&str>,
    span: &tracing::Span,
) {
    count(query.system, outcome);
    tracing::debug!(
        target: "sdk_sqlx::plan",
        parent: span,
        {
            db.system.name = query.system,
            db.query.summary = &*query.summary,
            sdk.result = outcome,
            db.response.status_code = code,
        },
        "slow query plan not taken"
    );
}
