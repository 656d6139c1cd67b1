//! What the wrapper needs to know about each database sqlx supports.

use sqlx::{Database, Pool};
use std::sync::Arc;

/// Where a pool's connections go, for span attributes and metric labels.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// `db.system.name`.
    pub system: &'static str,
    /// `db.namespace`: the database name (SQLite: the file).
    pub namespace: Option<Arc<str>>,
    /// `server.address`.
    pub address: Option<Arc<str>>,
    /// `server.port`.
    pub port: Option<u16>,
}

/// A database the wrapper instruments: PostgreSQL and SQLite.
pub trait InstrumentedDatabase: Database {
    /// `db.system.name`.
    const SYSTEM: &'static str;
    /// Sanitizer rules for its SQL.
    const DIALECT: crate::sanitize::Dialect;

    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Database, host and port the pool connects to.
    fn connection_info(pool: &Pool<Self>) -> ConnectionInfo;
}

#[cfg(feature = "postgres")]
impl InstrumentedDatabase for sqlx::Postgres {
    const SYSTEM: &'static str = sdk_core::semconv::db::system::POSTGRESQL;
    const DIALECT: crate::sanitize::Dialect = crate::sanitize::Dialect::Postgres;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn connection_info(pool: &Pool<Self>) -> ConnectionInfo {
        let options = pool.connect_options();
        ConnectionInfo {
            system: Self::SYSTEM,
            namespace: options.get_database().map(Arc::from),
            address: Some(Arc::from(options.get_host())),
            port: Some(options.get_port()),
        }
    }
}

#[cfg(feature = "sqlite")]
impl InstrumentedDatabase for sqlx::Sqlite {
    const SYSTEM: &'static str = sdk_core::semconv::db::system::SQLITE;
    const DIALECT: crate::sanitize::Dialect = crate::sanitize::Dialect::Sqlite;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn connection_info(pool: &Pool<Self>) -> ConnectionInfo {
        let options = pool.connect_options();
        ConnectionInfo {
            system: Self::SYSTEM,
            namespace: Some(Arc::from(options.get_filename().to_string_lossy().as_ref())),
            address: None,
            port: None,
        }
    }
}
