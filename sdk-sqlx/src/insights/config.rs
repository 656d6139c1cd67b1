//! [`InsightsConfig`]: how often and how much the insights collector reads, from code or
//! from the environment.

use crate::config::ConfigError;
use std::time::Duration;

/// `SDK_DB_INSIGHTS_INTERVAL_SECS`: seconds between two collections; `0` or unset turns the
/// collector off ([`InsightsConfig::from_env`] returns `None`).
pub const INTERVAL_ENV: &str = "SDK_DB_INSIGHTS_INTERVAL_SECS";
/// `SDK_DB_INSIGHTS_TOP_STATEMENTS`: how many statements (by total execution time) are
/// exported; `0` skips `pg_stat_statements`.
pub const TOP_STATEMENTS_ENV: &str = "SDK_DB_INSIGHTS_TOP_STATEMENTS";
/// `SDK_DB_INSIGHTS_TIMEOUT_SECS`: longest one collection may take.
pub const TIMEOUT_ENV: &str = "SDK_DB_INSIGHTS_TIMEOUT_SECS";

/// Default interval between collections.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default longest collection (connection included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of top statements exported.
pub const DEFAULT_TOP_STATEMENTS: usize = 20;
/// Default number of tables (the largest) with metrics.
pub const DEFAULT_MAX_TABLES: usize = 100;
/// Default number of indexes (the largest) with metrics.
pub const DEFAULT_MAX_INDEXES: usize = 200;
/// Default most findings of each kind in a report.
pub const DEFAULT_MAX_FINDINGS: usize = 50;
/// Default sequential scans from which a table counts as read by sequential scans.
pub const DEFAULT_SEQ_SCAN_THRESHOLD: u64 = 100;
/// Default live rows from which a table read by sequential scans is reported.
pub const DEFAULT_SEQ_SCAN_MIN_ROWS: u64 = 10_000;

/// Shortest interval accepted (a zero period would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What the insights collector reads and how often.
///
/// The bounds keep the series count fixed whatever the database holds: at most
/// `top_statements` statement series, `max_tables` tables and `max_indexes` indexes (the
/// largest on disk). Findings are searched over every table and index, not only the
/// largest, and at most `max_findings` of each kind are kept (the largest first).
#[derive(Debug, Clone)]
pub struct InsightsConfig {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) top_statements: usize,
    pub(crate) max_tables: usize,
    pub(crate) max_indexes: usize,
    pub(crate) max_findings: usize,
    pub(crate) seq_scan_threshold: u64,
    pub(crate) seq_scan_min_rows: u64,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            top_statements: DEFAULT_TOP_STATEMENTS,
            max_tables: DEFAULT_MAX_TABLES,
            max_indexes: DEFAULT_MAX_INDEXES,
            max_findings: DEFAULT_MAX_FINDINGS,
            seq_scan_threshold: DEFAULT_SEQ_SCAN_THRESHOLD,
            seq_scan_min_rows: DEFAULT_SEQ_SCAN_MIN_ROWS,
        }
    }
}

impl InsightsConfig {
    /// Defaults: every 60 s, 10 s timeout, top 20 statements, 100 tables, 200 indexes, 50
    /// findings of each kind, tables of 10,000 rows or more read by 100 sequential scans or
    /// more (and more often than by index) reported.
    pub fn new() -> Self {
        Self::default()
    }

    /// The defaults overridden by [`INTERVAL_ENV`], [`TOP_STATEMENTS_ENV`] and
    /// [`TIMEOUT_ENV`]; `Ok(None)` when the interval is `0` or unset (collector off).
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let number = |variable: &'static str, expected: &'static str| {
            lookup(variable)
                .map(|value| {
                    value.trim().parse::<u64>().map_err(|_| ConfigError {
                        variable,
                        value: value.clone(),
                        expected,
                    })
                })
                .transpose()
        };
        let interval = number(
            INTERVAL_ENV,
            "a whole number of seconds (0 turns the collector off)",
        )?;
        let top = number(
            TOP_STATEMENTS_ENV,
            "a whole number of statements (0 skips pg_stat_statements)",
        )?;
        let timeout = number(TIMEOUT_ENV, "a whole number of seconds, at least 1")?;
        let Some(interval) = interval.filter(|secs| *secs > 0) else {
            return Ok(None);
        };
        let mut config = Self::new().interval(Duration::from_secs(interval));
        if let Some(top) = top {
            config = config.top_statements(usize::try_from(top).unwrap_or(usize::MAX));
        }
        match timeout {
            Some(0) => {
                return Err(ConfigError {
                    variable: TIMEOUT_ENV,
                    value: "0".to_owned(),
                    expected: "a whole number of seconds, at least 1",
                });
            }
            Some(secs) => config = config.timeout(Duration::from_secs(secs)),
            None => {}
        }
        Ok(Some(config))
    }

    /// Time between two collections of a [spawned](super::PgInsights::spawn) collector
    /// (at least 10 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(MIN_INTERVAL);
        self
    }

    /// Longest one collection may take, connection included: a Tokio timeout around it,
    /// and the same `statement_timeout` for its statements on the server (at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many statements of `pg_stat_statements` (by total execution time) are exported;
    /// `0` skips the view.
    pub fn top_statements(mut self, n: usize) -> Self {
        self.top_statements = n;
        self
    }

    /// How many tables, the largest on disk (indexes and TOAST included), get metrics.
    pub fn max_tables(mut self, n: usize) -> Self {
        self.max_tables = n;
        self
    }

    /// How many indexes, the largest on disk, get metrics.
    pub fn max_indexes(mut self, n: usize) -> Self {
        self.max_indexes = n;
        self
    }

    /// Most findings of each kind in a report (the largest indexes and most read tables
    /// first).
    pub fn max_findings(mut self, n: usize) -> Self {
        self.max_findings = n;
        self
    }

    /// A table read by at least `seq_scans` sequential scans with at least `min_rows` live
    /// rows is reported as [`Finding::SeqScanHeavyTable`](super::Finding::SeqScanHeavyTable),
    /// however many index scans it also has: a table read both ways (an indexed key, and a
    /// column without an index) is the case an index is missing for.
    pub fn seq_scan_heavy(mut self, seq_scans: u64, min_rows: u64) -> Self {
        self.seq_scan_threshold = seq_scans.max(1);
        self.seq_scan_min_rows = min_rows;
        self
    }

    /// The `statement_timeout` value set for the collection's own statements, within what
    /// PostgreSQL accepts (1 ms to `INT_MAX` ms).
    pub(crate) fn statement_timeout(&self) -> String {
        format!("{}ms", self.timeout.as_millis().clamp(1, i32::MAX as u128))
    }
}
