//! Plans of slow queries, taken off the request path (opt-in).
//!
//! With [`SqlxConfig::slow_query_plans`](crate::SqlxConfig::slow_query_plans) (or
//! `SDK_DB_SLOW_QUERY_PLANS=on|analyze`), a query at least as slow as the slow-query
//! threshold is handed to one background task per pool, which asks the database for its
//! plan on a connection of its own and reports what it found:
//!
//! - one log line, target `sdk_sqlx::plan`, logged in a `db.plan` span that is a child of
//!   the query's span (so the line carries the query's `trace_id`, and its span's parent
//!   is the query's span; the `db.plan` span lasts as long as the `EXPLAIN`), with
//!   `db.system.name`, `db.query.summary`, the sanitized `db.query.text` (no literals), the
//!   plan's top node, cost, estimated rows, actual rows and time (with ANALYZE), the large
//!   tables read by a sequential scan, and how long the `EXPLAIN` took. WARN when something
//!   was found, INFO otherwise;
//! - `sdk.db.client.plans{db.system.name, sdk.result}`, `sdk.result` one of [`result`]'s
//!   values;
//! - `sdk.db.client.plan.findings{db.system.name, db.collection.name, sdk.finding}`:
//!   `seq_scan_large_table` (a full scan of a table of at least
//!   [`PlanConfig::large_table_rows`] rows) and `row_estimate_off` (with ANALYZE: a node's
//!   actual rows more than 10× off its estimate).
//!
//! What keeps it cheap and safe:
//!
//! - **Only reads are explained.** A statement must start with `SELECT`, `WITH`, `VALUES`
//!   or `TABLE`, hold one statement, and contain no `INSERT`, `UPDATE`, `DELETE`, `MERGE`,
//!   `INTO`, `FOR SHARE`/`FOR UPDATE` and no call of a function outside a list of built-in
//!   read-only ones; anything else counts as `write` and is not sent at all. The database
//!   work also runs in a `BEGIN READ ONLY` transaction that is always rolled back.
//! - **ANALYZE only when asked** ([`PlanConfig::analyze`]) and only for statements without
//!   parameters (it runs the query once more, bounded by the timeout).
//! - **Bounded**: at most [`PlanConfig::max_plans`] plans per period (a token bucket, the
//!   rest count as `rate_limited`), one statement per `db.query.summary` in flight (a
//!   second one counts as `rate_limited`), a queue of [`PlanConfig::queue_capacity`] jobs
//!   (a full queue counts as `queue_full`), and a timeout on the database
//!   (`statement_timeout`) and around the whole job (`timeout`).
//! - **Never the user's pool**: the worker opens its own connection from the pool's
//!   connect options when it first needs one, keeps it, and drops it after any error or
//!   timeout (it is opened again for the next plan).
//!
//! PostgreSQL 15 has no `EXPLAIN (GENERIC_PLAN)`, and the query's arguments are gone, so a
//! statement with parameters is `PREPARE`d on that connection and explained as `EXECUTE
//! stmt(NULL, …)` under `plan_cache_mode = force_generic_plan`: the plan PostgreSQL would
//! use for any arguments. Table sizes come from `pg_class.reltuples` (the planner's own
//! statistics: a sequential scan's row estimate is the rows *after* its filter, so the
//! plan alone cannot tell a large table read for one row from a small one); a table never
//! analyzed (`reltuples = -1`) falls back to the scan's estimate.
//!
//! SQLite: `EXPLAIN QUERY PLAN` (parameters stay unbound); a `SCAN t` without an index is
//! a full scan, and whether `t` is large is read with a bounded
//! `SELECT count(*) FROM (SELECT 1 FROM t LIMIT threshold + 1)`: SQLite keeps no row count,
//! `sqlite_stat1` exists only after an `ANALYZE`, and the bounded count reads at most
//! threshold + 1 rows, only for the tables a slow query scanned. An in-memory database is
//! private to its connection, so its plans fail (`error`).
//!
//! The statement text goes only to the database; telemetry gets the sanitized text.
//!
//! The worker keeps only the query span's context, never the span: the query's span ends
//! when the query does, whatever the plan's wait in the queue.

// Without a database feature there is nothing to explain: the planner is never built.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_variables)
)]

mod classify;
mod gate;
#[cfg(feature = "postgres")]
mod postgres;
mod report;
#[cfg(feature = "sqlite")]
mod sqlite;
mod worker;

pub(crate) use classify::{StatementClass, classify};
pub(crate) use worker::Planner;

use std::time::Duration;

/// Values of `sdk.result` on `sdk.db.client.plans`.
pub mod result {
    /// The plan was read and reported.
    pub const EXPLAINED: &str = "explained";
    /// Over the plan budget, or a plan of the same summary already in flight.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The statement writes, or could not be shown to only read: not explained.
    pub const WRITE: &str = "write";
    /// The database did not answer within [`PlanConfig::timeout`](super::PlanConfig::timeout).
    pub const TIMEOUT: &str = "timeout";
    /// The database refused the `EXPLAIN`, or no connection could be opened.
    pub const ERROR: &str = "error";
    /// The worker's queue was full.
    pub const QUEUE_FULL: &str = "queue_full";
}

/// Values of `sdk.finding` on `sdk.db.client.plan.findings`.
pub mod finding {
    /// A sequential (SQLite: full) scan of a table of at least
    /// [`PlanConfig::large_table_rows`](super::PlanConfig::large_table_rows) rows.
    pub const SEQ_SCAN_LARGE_TABLE: &str = "seq_scan_large_table";
    /// A node's actual rows more than 10× off its estimate (ANALYZE only).
    pub const ROW_ESTIMATE_OFF: &str = "row_estimate_off";
}

/// Default plan budget: plans per [`DEFAULT_PERIOD`].
pub const DEFAULT_MAX_PLANS: u32 = 6;
/// Default budget period.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);
/// Default size from which a scanned table is large, in rows.
pub const DEFAULT_LARGE_TABLE_ROWS: u64 = 10_000;
/// Default time the database gets for one plan.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default number of plans waiting for the worker.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4;
/// Estimates off by more than this factor are a finding.
pub const ROW_ESTIMATE_FACTOR: f64 = 10.0;

/// How slow queries are explained (see the [module](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    pub(crate) analyze: bool,
    pub(crate) max_plans: u32,
    pub(crate) period: Duration,
    pub(crate) large_table_rows: u64,
    pub(crate) timeout: Duration,
    pub(crate) queue_capacity: usize,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            analyze: false,
            max_plans: DEFAULT_MAX_PLANS,
            period: DEFAULT_PERIOD,
            large_table_rows: DEFAULT_LARGE_TABLE_ROWS,
            timeout: DEFAULT_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl PlanConfig {
    /// `EXPLAIN` without ANALYZE, 6 plans a minute, tables large from 10,000 rows, 2 s per
    /// plan, 4 queued.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also run `EXPLAIN ANALYZE` (actual rows and time) for statements without parameters:
    /// the query runs once more, in a read-only transaction that is rolled back.
    pub fn analyze(mut self, analyze: bool) -> Self {
        self.analyze = analyze;
        self
    }

    /// At most `plans` plans per `period` (a token bucket holding `plans`, refilled evenly
    /// over `period`).
    pub fn max_plans(mut self, plans: u32, period: Duration) -> Self {
        self.max_plans = plans;
        self.period = period;
        self
    }

    /// A table of at least `rows` rows read by a sequential scan is a finding.
    pub fn large_table_rows(mut self, rows: u64) -> Self {
        self.large_table_rows = rows;
        self
    }

    /// Time the database gets for one plan (`statement_timeout`; the whole job, connecting
    /// included, gets one second more).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Plans that may wait for the worker (at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }
}
