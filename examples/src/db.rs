//! The demo's database: a SQLite file by default (no setup), PostgreSQL when
//! `DATABASE_URL` is set; either way through [`sdk_sqlx::InstrumentedPool`].

use sdk_sqlx::{InstrumentedPool, SqlxConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ConnectOptions, Postgres, Sqlite};
use std::time::Duration;

/// Users the demo seeds (`/users/1` … `/users/1000`).
pub const USERS: i64 = 1000;
/// Rows of the events table the demo seeds: large enough for a sequential scan of it to
/// be a finding (`sdk_sqlx::plan::DEFAULT_LARGE_TABLE_ROWS`).
pub const EVENTS: i64 = 50_000;

/// The instrumented pool of whichever database the demo uses.
#[derive(Debug, Clone)]
pub enum Database {
    /// The default: a SQLite file in the temporary directory.
    Sqlite(InstrumentedPool<Sqlite>),
    /// `DATABASE_URL=postgres://…`.
    Postgres(InstrumentedPool<Postgres>),
}

impl Database {
    /// Connects (to `database_url`, else a fresh SQLite file) and seeds the users table.
    pub async fn connect(database_url: Option<&str>, config: SqlxConfig) -> Result<Self, String> {
        let db = match database_url {
            Some(url) if url.starts_with("postgres") => {
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|e| format!("invalid DATABASE_URL: {e}"))?;
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(3))
                    .connect_with(options.disable_statement_logging())
                    .await
                    .map_err(|e| format!("cannot connect to DATABASE_URL: {e}"))?;
                Self::Postgres(InstrumentedPool::new(pool, config))
            }
            Some(other) => {
                return Err(format!(
                    "DATABASE_URL {other:?} is not supported: expected postgres://… (unset for SQLite)"
                ));
            }
            None => {
                let file =
                    std::env::temp_dir().join(format!("sdk-demo-{}.sqlite", std::process::id()));
                let options = SqliteConnectOptions::new()
                    .filename(&file)
                    .create_if_missing(true)
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
                Self::Sqlite(InstrumentedPool::new(pool, config))
            }
        };
        db.seed()
            .await
            .map_err(|e| format!("cannot seed the demo table: {e}"))?;
        Ok(db)
    }

    /// `postgresql` or `sqlite`.
    pub fn system(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgresql",
        }
    }

    async fn seed(&self) -> Result<(), sqlx::Error> {
        // Generated rows: the same statement on both databases.
        let create =
            "CREATE TABLE IF NOT EXISTS demo_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)";
        let fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO demo_users (id, name) SELECT i, 'user-' || i FROM n WHERE true \
             ON CONFLICT (id) DO NOTHING";
        // Events: `kind` has no index (its lookups scan the table), `note` has one that
        // no query uses (the insights report it as unused). Filled once: the conflict
        // checks of a refill would each count as an index scan.
        let create_events = "CREATE TABLE IF NOT EXISTS demo_events \
             (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, note TEXT NOT NULL)";
        let index_events = "CREATE INDEX IF NOT EXISTS demo_events_note_idx ON demo_events (note)";
        let fill_events = "WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO demo_events (id, kind, note) \
             SELECT i, 'kind-' || (i % 50), 'event ' || i FROM n \
             WHERE NOT EXISTS (SELECT 1 FROM demo_events) \
             ON CONFLICT (id) DO NOTHING";
        match self {
            Self::Sqlite(pool) => {
                sqlx::query(create).execute(pool).await?;
                sqlx::query(fill).bind(USERS).execute(pool).await?;
                sqlx::query(create_events).execute(pool).await?;
                sqlx::query(index_events).execute(pool).await?;
                sqlx::query(fill_events).bind(EVENTS).execute(pool).await?;
            }
            Self::Postgres(pool) => {
                sqlx::query(create).execute(pool).await?;
                sqlx::query(fill).bind(USERS).execute(pool).await?;
                sqlx::query(create_events).execute(pool).await?;
                sqlx::query(index_events).execute(pool).await?;
                sqlx::query(fill_events).bind(EVENTS).execute(pool).await?;
                // The planner's row count (`pg_class.reltuples`), which is also how the
                // slow-query plans tell a large table.
                sqlx::query("ANALYZE demo_events").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Events of `kind`, counted by a sequential scan (no index on `kind`).
    pub async fn events_of_kind(&self, kind: &str) -> Result<i64, sqlx::Error> {
        let sql = "SELECT count(*) FROM demo_events WHERE kind = $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).bind(kind).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).bind(kind).fetch_one(pool).await,
        }
    }

    /// The first `limit` users by id.
    pub async fn first_users(&self, limit: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let sql = "SELECT id, name FROM demo_users ORDER BY id LIMIT $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_as(sql).bind(limit).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(sql).bind(limit).fetch_all(pool).await,
        }
    }

    /// The name of user `id`.
    pub async fn user_name(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        let sql = "SELECT name FROM demo_users WHERE id = $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await,
        }
    }

    /// A deliberately slow query (about 0.3 s or more), for the slow-query report.
    pub async fn slow(&self) -> Result<i64, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                     SELECT count(*) FROM n",
                )
                .bind(3_000_000_i64)
                .fetch_one(pool)
                .await
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM (SELECT pg_sleep($1)) AS s")
                    .bind(0.3_f64)
                    .fetch_one(pool)
                    .await
            }
        }
    }

    /// Readiness check: a ping within `timeout`.
    pub fn ping(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), sdk_sqlx::PingError>> + Send + use<> {
        let db = self.clone();
        async move {
            match db {
                Self::Sqlite(pool) => pool.ping(timeout).await,
                Self::Postgres(pool) => pool.ping(timeout).await,
            }
        }
    }
}
