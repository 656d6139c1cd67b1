//! Statement and index insights from PostgreSQL's statistics views.
//!
//! [`PgInsights`] reads, once per [`collect`](PgInsights::collect) or every interval once
//! [spawned](PgInsights::spawn):
//!
//! - the top statements of `pg_stat_statements` by total execution time, in the current
//!   database: `sdk.db.statement.exec_time` (seconds), `sdk.db.statement.calls` and
//!   `sdk.db.statement.rows`, labelled by `sdk.db.query_id` (`queryid`) and
//!   `db.query.summary`: the summary this crate's [sanitizer](crate::sanitize) makes of
//!   the normalized text, never the text itself (utility statements such as
//!   `ALTER ROLE … PASSWORD '…'` keep their literals there);
//! - the largest tables (`pg_stat_user_tables`): `sdk.db.table.scans` by `sdk.db.scan`
//!   (`seq`, `index`), `sdk.db.table.size` and `sdk.db.table.rows`; and the largest
//!   indexes (`pg_stat_user_indexes`): `sdk.db.index.scans` and `sdk.db.index.size`.
//!   Tables are named `schema.table`, or `table` in the `public` schema;
//! - [findings](Finding): unused indexes (never scanned since the statistics were reset,
//!   constraint indexes excepted), large tables read by many sequential scans, and
//!   `pg_stat_statements` being unavailable; `sdk.db.insights.findings` counts them by
//!   kind;
//! - `sdk.collector.duration{sdk.collector=postgresql, sdk.result=ok|error|timeout}`.
//!
//! The counts are PostgreSQL's own totals since its statistics were reset, exported as
//! absolute counter values (a reset lowers them; a counter keeps its highest value, so
//! after a reset the series stay flat until the totals pass it again). The bounds of
//! [`InsightsConfig`] limit what one collection records; a statement or table that
//! leaves the top keeps its last value until the process ends, so the series of a
//! long-running process grow with the churn of the top (new `queryid`s after deploys and
//! schema changes) up to the catalogue's ceilings (500 statement, 500 table and 1,000
//! index series), past which new ones fold into the overflow series and are counted in
//! `sdk.metric.overflow`.
//!
//! Nothing runs unless built and spawned (or [`InsightsConfig::from_env`] finds
//! `SDK_DB_INSIGHTS_INTERVAL_SECS`). The collector does no DDL: install
//! `pg_stat_statements` yourself (`shared_preload_libraries`, then
//! `CREATE EXTENSION pg_stat_statements`); without it the report says so and the tables
//! and indexes are still collected.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use sdk_sqlx::insights::{InsightsConfig, PgInsights};
//! use sqlx::postgres::PgConnectOptions;
//! use std::time::Duration;
//!
//! let options: PgConnectOptions = "postgres://monitor@127.0.0.1/app".parse()?;
//! let insights = PgInsights::new(options, InsightsConfig::new().top_statements(20));
//! // One collection, for a CLI:
//! let report = insights.collect().await?;
//! print!("{report}");
//! // Or every minute in the background, the latest report for an ops page:
//! let handle = insights.spawn()?;
//! if let Some(report) = handle.latest_report() {
//!     let _json = serde_json::to_string(&*report)?;
//! }
//! handle.stop();
//! # Ok(()) }
//! ```
//!
//! # Which connection
//!
//! [`InsightsSource`] is either connect options (recommended) or a pool; either way one
//! connection at a time, on which the collector's statements run in one read-only
//! transaction with a transaction-local `statement_timeout`.
//!
//! - **Connect options**: a dedicated connection opened for each collection and closed
//!   after it. The collector never takes a slot from, or waits on, the application's pool
//!   (an exhausted pool is when insights matter), holds no idle backend between
//!   collections, and never keeps a broken connection. Its `application_name` is
//!   `sdk-insights` unless the options set one. A monitoring role with
//!   `pg_read_all_stats` suffices.
//! - **A pool** (`PgPool`, or an [`InstrumentedPool`](crate::InstrumentedPool)'s inner
//!   pool): one connection borrowed for one collection, for deployments with a fixed
//!   connection budget.
//!
//! Either way the statements go through sqlx directly, not through an instrumented pool,
//! so they make no query spans; they start with the comment `/* sdk-insights */` and are
//! left out of the top statements.
//!
//! Needs the `postgres` feature.
#![cfg(feature = "postgres")]

mod config;
mod gather;
mod record;
mod report;
mod task;

pub use config::{
    DEFAULT_INTERVAL, DEFAULT_MAX_FINDINGS, DEFAULT_MAX_INDEXES, DEFAULT_MAX_TABLES,
    DEFAULT_SEQ_SCAN_MIN_ROWS, DEFAULT_SEQ_SCAN_THRESHOLD, DEFAULT_TIMEOUT, DEFAULT_TOP_STATEMENTS,
    INTERVAL_ENV, InsightsConfig, TIMEOUT_ENV, TOP_STATEMENTS_ENV,
};
pub use report::{Finding, IndexStats, InsightsReport, StatementStats, TableStats};
pub use task::{InsightsHandle, NoRuntime};

use record::Outcome;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{ConnectOptions, Connection};
use std::time::{Duration, Instant};

/// Where the collector gets its one connection (see the [module](self) documentation).
#[derive(Debug, Clone)]
pub struct InsightsSource(Source);

#[derive(Debug, Clone)]
enum Source {
    Dedicated(Box<PgConnectOptions>),
    Pool(PgPool),
}

impl From<PgConnectOptions> for InsightsSource {
    /// A dedicated connection per collection (sqlx's statement logging off).
    fn from(options: PgConnectOptions) -> Self {
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name("sdk-insights"),
        };
        Self(Source::Dedicated(Box::new(
            options.disable_statement_logging(),
        )))
    }
}

impl From<PgPool> for InsightsSource {
    /// One connection borrowed from `pool` for each collection.
    fn from(pool: PgPool) -> Self {
        Self(Source::Pool(pool))
    }
}

impl From<&crate::InstrumentedPool<sqlx::Postgres>> for InsightsSource {
    /// The wrapped pool (the collector's statements make no spans).
    fn from(pool: &crate::InstrumentedPool<sqlx::Postgres>) -> Self {
        Self(Source::Pool(pool.inner().clone()))
    }
}

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InsightsError {
    /// No connection: connecting, or acquiring from the pool, failed.
    #[error("cannot connect for database insights: {0}")]
    Connect(#[source] sqlx::Error),
    /// A statement of the collection failed.
    #[error("database insights: reading {step} failed: {source}")]
    Query {
        /// What was being read (`tables`, `indexes`, `statements`, …).
        step: &'static str,
        /// The error.
        #[source]
        source: sqlx::Error,
    },
    /// The collection took longer than its timeout (client or `statement_timeout`).
    #[error("database insights: no result within {} ms{}", .limit.as_millis(), .step.map(|s| format!(" (reading {s})")).unwrap_or_default())]
    Timeout {
        /// The configured timeout.
        limit: Duration,
        /// The step the server cancelled, when it was the server.
        step: Option<&'static str>,
    },
}

impl InsightsError {
    /// Whether the collection ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// `query_canceled` (57014) is the server's `statement_timeout`.
    fn from_query(step: &'static str, source: sqlx::Error) -> Self {
        let cancelled = source
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code == "57014");
        if cancelled {
            Self::Timeout {
                limit: Duration::ZERO,
                step: Some(step),
            }
        } else {
            Self::Query { step, source }
        }
    }
}

/// The PostgreSQL statement and index insights collector.
#[derive(Debug, Clone)]
pub struct PgInsights {
    source: InsightsSource,
    config: InsightsConfig,
}

impl PgInsights {
    /// A collector reading through `source` (connect options or a pool) with `config`.
    pub fn new(source: impl Into<InsightsSource>, config: InsightsConfig) -> Self {
        Self {
            source: source.into(),
            config,
        }
    }

    /// A collector configured by the environment ([`InsightsConfig::from_env`]);
    /// `Ok(None)` when `SDK_DB_INSIGHTS_INTERVAL_SECS` is `0` or unset.
    pub fn from_env(
        source: impl Into<InsightsSource>,
    ) -> Result<Option<Self>, crate::config::ConfigError> {
        Ok(InsightsConfig::from_env()?.map(|config| Self::new(source, config)))
    }

    /// Its configuration.
    pub fn config(&self) -> &InsightsConfig {
        &self.config
    }

    /// One collection: records the metrics and `sdk.collector.duration`, and returns the
    /// report. Never panics; an error is returned (and recorded as `error` or `timeout`),
    /// not logged.
    pub async fn collect(&self) -> Result<InsightsReport, InsightsError> {
        let started = Instant::now();
        let limit = self.config.timeout;
        let result = match tokio::time::timeout(limit, self.collect_once()).await {
            Ok(Err(InsightsError::Timeout { step, .. })) => {
                Err(InsightsError::Timeout { limit, step })
            }
            Ok(result) => result,
            Err(_) => Err(InsightsError::Timeout { limit, step: None }),
        };
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(err) if err.is_timeout() => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        if let Ok(report) = &result {
            record::report(report);
        }
        record::duration(outcome, started.elapsed());
        result
    }

    async fn collect_once(&self) -> Result<InsightsReport, InsightsError> {
        match &self.source.0 {
            Source::Dedicated(options) => {
                let mut conn = PgConnection::connect_with(&**options)
                    .await
                    .map_err(InsightsError::Connect)?;
                let result = gather::gather(&mut conn, &self.config).await;
                // Best effort: the server ends the session when the socket closes anyway.
                let _ = conn.close().await;
                result
            }
            Source::Pool(pool) => {
                let mut conn = pool.acquire().await.map_err(InsightsError::Connect)?;
                gather::gather(&mut conn, &self.config).await
            }
        }
    }
}
