//! A report turned into the catalogue's metrics, and the collector's duration.

use super::report::{Finding, InsightsReport};
use metrics::SharedString;
use sdk_core::catalogue::{
    COLLECTOR_DURATION, DB_INDEX_SCANS, DB_INDEX_SIZE, DB_INSIGHT_FINDINGS, DB_STATEMENT_CALLS,
    DB_STATEMENT_EXEC_TIME, DB_STATEMENT_ROWS, DB_TABLE_ROWS, DB_TABLE_SCANS, DB_TABLE_SIZE,
};
use sdk_core::semconv::{db, sdk};
use std::time::Duration;

/// `sdk.collector` of this collector.
pub(crate) const COLLECTOR: &str = "postgresql";

/// Outcome of one collection (`sdk.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Error,
    Timeout,
}

/// `sdk.collector.duration` of one collection.
pub(crate) fn duration(outcome: Outcome, elapsed: Duration) {
    let result = match outcome {
        Outcome::Ok => "ok",
        Outcome::Error => "error",
        Outcome::Timeout => "timeout",
    };
    COLLECTOR_DURATION
        .histogram(&[
            (sdk::COLLECTOR, SharedString::const_str(COLLECTOR)),
            (sdk::RESULT, SharedString::const_str(result)),
        ])
        .record(elapsed.as_secs_f64());
}

/// Counts are exported as the absolute values PostgreSQL keeps (they restart at a reset).
#[allow(
    clippy::cast_precision_loss,
    reason = "gauges are f64; sizes and rows fit"
)]
pub(crate) fn report(report: &InsightsReport) {
    let system = SharedString::const_str(report.system);
    let namespace = SharedString::from(report.namespace.clone());
    let base = [
        (db::SYSTEM_NAME, system.clone()),
        (db::NAMESPACE, namespace.clone()),
    ];

    for statement in &report.statements {
        let mut labels = base.to_vec();
        labels.push((sdk::DB_QUERY_ID, statement.query_id.to_string().into()));
        if !statement.summary.is_empty() {
            labels.push((db::QUERY_SUMMARY, statement.summary.clone().into()));
        }
        DB_STATEMENT_EXEC_TIME
            .gauge(&labels)
            .set(statement.exec_time_seconds);
        DB_STATEMENT_CALLS
            .counter(&labels)
            .absolute(statement.calls);
        DB_STATEMENT_ROWS.counter(&labels).absolute(statement.rows);
    }

    for table in &report.tables {
        let mut labels = base.to_vec();
        labels.push((db::COLLECTION_NAME, table.table.clone().into()));
        DB_TABLE_SIZE.gauge(&labels).set(table.size_bytes as f64);
        DB_TABLE_ROWS.gauge(&labels).set(table.rows as f64);
        let scans = |kind: &'static str, value: u64| {
            let mut labels = labels.clone();
            labels.push((sdk::DB_SCAN, SharedString::const_str(kind)));
            DB_TABLE_SCANS.counter(&labels).absolute(value);
        };
        scans("seq", table.seq_scans);
        if let Some(index_scans) = table.index_scans {
            scans("index", index_scans);
        }
    }

    for index in &report.indexes {
        let mut labels = base.to_vec();
        labels.push((db::COLLECTION_NAME, index.table.clone().into()));
        labels.push((sdk::DB_INDEX, index.index.clone().into()));
        DB_INDEX_SCANS.counter(&labels).absolute(index.scans);
        DB_INDEX_SIZE.gauge(&labels).set(index.size_bytes as f64);
    }

    // Every kind, so a gauge returns to 0 once its findings are gone.
    for kind in Finding::KINDS {
        let mut labels = base.to_vec();
        labels.push((sdk::FINDING, SharedString::const_str(kind)));
        DB_INSIGHT_FINDINGS
            .gauge(&labels)
            .set(report.count(kind) as f64);
    }
}
