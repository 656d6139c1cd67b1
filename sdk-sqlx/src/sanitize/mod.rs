//! SQL sanitizing and summaries: what a query span may carry without leaking data.
//!
//! [`sanitize`] makes one pass over the statement:
//!
//! - literals become `?`: strings (`'it''s'`, `E'\n'`, `X'1f'`, `N'…'`, `U&'…'`),
//!   dollar-quoted strings (`$$…$$`, `$tag$…$tag$`), numbers (`42`, `-1.5e3` keeps its sign
//!   outside, `.5`, `0x1F`) and `TRUE`/`FALSE`;
//! - placeholders stay: `$1`, `?`, `?1`, `:name`, `@p1`;
//! - comments (`-- …`, nested `/* … */`) are removed, runs of white space become one space;
//! - `IN (?, ?, ?)` becomes `IN (?)`, so statements differing only in list length match;
//! - the text is cut at [`MAX_TEXT_LEN`] bytes (at a character boundary).
//!
//! It also reads the operation (`SELECT`; for `WITH …` the main statement's) and the tables
//! after `FROM`, `JOIN`, `INTO`, `UPDATE` and `TABLE`, which give `db.operation.name`,
//! `db.collection.name` (when there is exactly one) and `db.query.summary`
//! (`SELECT users orders`), also the span name.
//!
//! [`QueryCache`] keeps results per statement text, so an application's repeated
//! statements are sanitized once.

mod cache;
mod dialect;
mod lexer;
mod summary;
mod text;

pub use cache::{MAX_CACHED_SQL_LEN, QueryCache};
pub use dialect::Dialect;
pub use summary::MAX_SUMMARY_LEN;
use summary::{shape, summary};
pub use text::{MAX_TEXT_LEN, sanitize_text, sanitize_text_for};

use std::sync::Arc;

/// A statement as telemetry may show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedQuery {
    /// The text with literals replaced and comments removed (`db.query.text`).
    pub text: Arc<str>,
    /// Upper-case operation (`SELECT`, `INSERT`), when recognised (`db.operation.name`).
    pub operation: Option<&'static str>,
    /// The table, when the statement names exactly one (`db.collection.name`).
    pub collection: Option<Arc<str>>,
    /// Operation and tables, `SELECT users orders` (`db.query.summary`, the span name).
    pub summary: Arc<str>,
}

/// Sanitizes `sql` (PostgreSQL rules) and reads its operation, tables and summary.
pub fn sanitize(sql: &str) -> SanitizedQuery {
    sanitize_for(sql, Dialect::Postgres)
}

/// Sanitizes `sql` by the rules of `dialect` and reads its operation, tables and summary.
pub fn sanitize_for(sql: &str, dialect: Dialect) -> SanitizedQuery {
    let text = sanitize_text_for(sql, dialect);
    let (operation, tables) = shape(&text);
    let collection = match tables.as_slice() {
        [only] => Some(Arc::from(*only)),
        _ => None,
    };
    let summary = summary(operation, &tables);
    SanitizedQuery {
        text: Arc::from(text.as_str()),
        operation,
        collection,
        summary,
    }
}
