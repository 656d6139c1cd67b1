//! [`InsightsReport`] and its [`Finding`]s: what one collection saw, for a CLI (`Display`,
//! one finding per line) and an ops page (`serde::Serialize`).

use serde::Serialize;
use std::fmt;

/// What one collection read: the bounded statistics behind the metrics, and the findings.
///
/// Statement text never appears: a statement is its `queryid` and its summary
/// (`SELECT orders`), computed by this crate's [sanitizer](crate::sanitize) from the
/// normalized text (utility statements such as `ALTER ROLE … PASSWORD '…'` keep their
/// literals in `pg_stat_statements`).
///
/// Table names are schema-qualified (`audit.events`) except in the `public` schema
/// (`orders`); so are the `db.collection.name` labels.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct InsightsReport {
    /// `db.system.name` (`postgresql`).
    pub system: &'static str,
    /// `db.namespace`: the database the statistics are about.
    pub namespace: String,
    /// When the database's statistics (`pg_stat_database.stats_reset`) were last reset,
    /// RFC 3339 in UTC; `None` when never.
    pub stats_since: Option<String>,
    /// When `pg_stat_statements` was last reset (`pg_stat_statements_info.stats_reset`),
    /// RFC 3339 in UTC; `None` when unknown or the view is unavailable.
    pub statements_since: Option<String>,
    /// The top statements by total execution time, slowest first.
    pub statements: Vec<StatementStats>,
    /// The largest tables.
    pub tables: Vec<TableStats>,
    /// The largest indexes.
    pub indexes: Vec<IndexStats>,
    /// What deserves a look.
    pub findings: Vec<Finding>,
}

/// One normalized statement of `pg_stat_statements`, summed over the database's users.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatementStats {
    /// PostgreSQL's `queryid` (`sdk.db.query_id`).
    pub query_id: i64,
    /// Operation and tables (`db.query.summary`); empty when the text was not readable
    /// (`<insufficient privilege>`) or has no known operation.
    pub summary: String,
    /// Calls since the statistics were reset.
    pub calls: u64,
    /// Rows returned or affected.
    pub rows: u64,
    /// Total execution time, seconds.
    pub exec_time_seconds: f64,
}

/// One table of `pg_stat_user_tables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableStats {
    /// Name, schema-qualified outside `public`.
    pub table: String,
    /// Sequential scans.
    pub seq_scans: u64,
    /// Rows read by sequential scans.
    pub seq_rows_read: u64,
    /// Index scans; `None` for a table without indexes.
    pub index_scans: Option<u64>,
    /// Estimated live rows (`n_live_tup`).
    pub rows: u64,
    /// Size on disk without indexes (`pg_table_size`: TOAST and maps included).
    pub size_bytes: u64,
}

/// One index of `pg_stat_user_indexes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IndexStats {
    /// Its table, schema-qualified outside `public`.
    pub table: String,
    /// The index name.
    pub index: String,
    /// Scans using the index.
    pub scans: u64,
    /// Size on disk (`pg_relation_size`).
    pub size_bytes: u64,
    /// Whether it enforces a constraint (unique, primary key or exclusion), so it is
    /// needed even when never scanned.
    pub enforces_constraint: bool,
}

/// Something in the statistics that deserves a look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// An index never scanned since the statistics were reset that enforces no constraint:
    /// it costs writes and space for nothing (unless it serves a rare job, or was created
    /// after the reset).
    UnusedIndex {
        /// Its table.
        table: String,
        /// The index.
        index: String,
        /// Size on disk.
        size_bytes: u64,
        /// Statistics reset (RFC 3339, UTC); `None` when never reset.
        since: Option<String>,
    },
    /// A table with many rows read mostly by sequential scans: a missing index, or a query
    /// that cannot use one.
    SeqScanHeavyTable {
        /// The table.
        table: String,
        /// Sequential scans.
        seq_scans: u64,
        /// Rows read by them.
        seq_rows_read: u64,
        /// Index scans, fewer than `seq_scans`.
        index_scans: u64,
        /// Estimated live rows.
        rows: u64,
        /// Statistics reset (RFC 3339, UTC); `None` when never reset.
        since: Option<String>,
    },
    /// `pg_stat_statements` could not be read; tables and indexes were still collected.
    StatementsUnavailable {
        /// Why, and what to do.
        reason: String,
    },
}

impl Finding {
    /// The `sdk.finding` label of this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnusedIndex { .. } => "unused_index",
            Self::SeqScanHeavyTable { .. } => "seq_scan_heavy_table",
            Self::StatementsUnavailable { .. } => "statements_unavailable",
        }
    }

    /// Every kind, for gauges that must return to zero.
    pub const KINDS: [&'static str; 3] = [
        "unused_index",
        "seq_scan_heavy_table",
        "statements_unavailable",
    ];
}

/// `since stats reset (…)` or `since the statistics began`.
struct Since<'a>(&'a Option<String>);

impl fmt::Display for Since<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(f, "since stats reset ({at})"),
            None => f.write_str("since the statistics began (never reset)"),
        }
    }
}

/// A byte count for people: `8.0 KiB`, `1.4 MiB`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        // Precision loss above 2^53 bytes does not matter for one decimal.
        #[allow(clippy::cast_precision_loss)]
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnusedIndex {
                table,
                index,
                size_bytes,
                since,
            } => write!(
                f,
                "index {index} on {table} ({}) unused {}",
                Bytes(*size_bytes),
                Since(since)
            ),
            Self::SeqScanHeavyTable {
                table,
                seq_scans,
                seq_rows_read,
                index_scans,
                rows,
                since,
            } => write!(
                f,
                "table {table} ({rows} rows) read by sequential scan {seq_scans} times \
                 ({seq_rows_read} rows read; {index_scans} index scans) {}",
                Since(since)
            ),
            Self::StatementsUnavailable { reason } => {
                write!(f, "top statements unavailable: {reason}")
            }
        }
    }
}

/// One finding per line, each ending in a newline; nothing when there is none.
impl fmt::Display for InsightsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        Ok(())
    }
}

impl InsightsReport {
    /// How many findings of `kind` (an `sdk.finding` value) the report holds.
    pub fn count(&self, kind: &str) -> usize {
        self.findings.iter().filter(|f| f.kind() == kind).count()
    }
}
