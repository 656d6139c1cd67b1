//! Instrumented [sqlx](https://docs.rs/sqlx) pools, connections and transactions.
//!
//! Swap `Pool<DB>` for [`InstrumentedPool<DB>`] and every query through it gets:
//!
//! - a client span named by its summary (`SELECT users`) with `db.system.name`,
//!   `db.namespace`, `db.operation.name`, `db.collection.name`, `db.query.summary`,
//!   `db.query.text` ([sanitized](sanitize): no literal reaches telemetry), server address
//!   and port, `db.response.status_code` (SQLSTATE), `error.type` and rows returned or
//!   changed; the span ends when the results end or are dropped (streams included), and
//!   `RowNotFound` is not an error;
//! - `db.client.operation.duration` and `db.client.response.returned_rows` histograms;
//! - slow-query reporting above a threshold: a WARN log line inside the span (so also a span
//!   event) and `sdk.db.client.slow_queries`;
//! - opt-in [plans](plan) of slow queries that only read (`EXPLAIN` on a connection of its
//!   own, off the request path, rate-limited): a log line in the query's trace with the top
//!   node, cost, rows and large tables read by sequential scans, and
//!   `sdk.db.client.plans` / `sdk.db.client.plan.findings`
//!   ([`SqlxConfig::slow_query_plans`], `SDK_DB_SLOW_QUERY_PLANS=on|analyze`);
//! - optional trace [comments](comment) (sqlcommenter, Datadog DBM) on sampled statements.
//!
//! The pool reports connection counts by state, max and min idle, pending requests, wait
//! and use time and timeouts; transactions get `BEGIN`/`COMMIT`/`ROLLBACK` spans and
//! `sdk.db.client.transaction.duration` (a transaction dropped open counts as rolled back).
//!
//! ```no_run
//! # async fn example() -> Result<(), sqlx::Error> {
//! use sdk_sqlx::{InstrumentedPool, SqlxConfig};
//! let pool = sqlx::PgPool::connect("postgres://127.0.0.1/test").await?;
//! let pool = InstrumentedPool::new(pool, SqlxConfig::new());
//! let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
//! let mut tx = pool.begin().await?;
//! sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
//!     .bind(10).bind(7)
//!     .execute(&mut *tx)
//!     .await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! sqlx logs every statement itself (with its literals) through `tracing` at DEBUG, and
//! slow ones at WARN; the spans above replace that, so turn it off on the connect options
//! (`ConnectOptions::disable_statement_logging`).
//!
//! Insights, both off by default: [`plan`] logs the plans of slow queries (`EXPLAIN` on a
//! connection of its own, off the request path, a few a minute) with their findings, and
//! [`insights`] collects PostgreSQL's statement, table and index statistics in the
//! background into metrics and a findings report (unused indexes, tables read by
//! sequential scans).
//!
//! Features: `postgres` and `sqlite` (both default).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod comment;
pub mod config;
pub mod connection;
pub mod database;
pub mod insights;
mod instrumented;
pub mod plan;
pub mod pool;
mod pool_metrics;
mod query;
pub mod sanitize;
pub mod transaction;

pub use comment::CommentMode;
pub use config::SqlxConfig;
pub use connection::{Instrumented, InstrumentedConnection};
pub use database::InstrumentedDatabase;
#[cfg(feature = "postgres")]
pub use insights::{InsightsConfig, PgInsights};
pub use plan::PlanConfig;
pub use pool::{InstrumentedPool, PingError};
pub use transaction::InstrumentedTransaction;
