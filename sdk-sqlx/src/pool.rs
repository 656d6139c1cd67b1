//! [`InstrumentedPool`]: a sqlx pool whose queries, connections and transactions are
//! measured.

use crate::config::SqlxConfig;
use crate::connection::InstrumentedConnection;
use crate::database::InstrumentedDatabase;
use crate::pool_metrics::{PoolMetrics, PoolUse, record_state, released};
use crate::query::{Captured, Observed, QueryRun, Shared};
use crate::sanitize::QueryCache;
use crate::transaction::InstrumentedTransaction;
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::{Either, Execute, Executor, Pool, SqlStr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A sqlx [`Pool`] whose every query is traced and measured.
///
/// Use `&pool` wherever sqlx takes an executor (`query(..).fetch_all(&pool)`);
/// [`acquire`](Self::acquire) and [`begin`](Self::begin) give connections and transactions
/// that stay instrumented, also through `&mut *conn` and `&mut *tx`.
pub struct InstrumentedPool<DB: InstrumentedDatabase> {
    pool: Pool<DB>,
    pub(crate) shared: Arc<Shared>,
    metrics: Arc<PoolMetrics>,
}

impl<DB: InstrumentedDatabase> Clone for InstrumentedPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            shared: Arc::clone(&self.shared),
            metrics: Arc::clone(&self.metrics),
        }
    }
}

impl<DB: InstrumentedDatabase> std::fmt::Debug for InstrumentedPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedPool")
            .field("pool", &self.pool)
            .field("pool_name", &self.shared.pool_name)
            .finish()
    }
}

impl<DB: InstrumentedDatabase> InstrumentedPool<DB> {
    /// Instruments `pool` with the service identity `sdk_core::init` configured and the
    /// `SDK_DB_*` / `DD_DBM_PROPAGATION_MODE` variables ([`SqlxConfig::from_installed`]).
    pub fn configured(pool: Pool<DB>) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(pool, SqlxConfig::from_installed()?))
    }

    /// Instruments `pool` with `config`.
    pub fn new(pool: Pool<DB>, config: SqlxConfig) -> Self {
        let info = DB::connection_info(&pool);
        let pool_name: Arc<str> = match &config.pool_name {
            Some(name) => name.as_str().into(),
            None => match (&info.address, info.port, &info.namespace) {
                (Some(host), Some(port), Some(db)) => format!("{host}:{port}/{db}").into(),
                (_, _, Some(db)) => Arc::clone(db),
                _ => info.system.into(),
            },
        };
        let metrics = Arc::new(PoolMetrics::register(&pool, &pool_name));
        let plans = config
            .plans
            .as_ref()
            .and_then(|plans| crate::plan::Planner::for_pool(&pool, plans));
        let instrumented = Self {
            pool,
            shared: Arc::new(Shared {
                config,
                info,
                cache: QueryCache::with_dialect(1024, DB::DIALECT),
                pool_name,
                cancelled: Default::default(),
                plans,
            }),
            metrics,
        };
        instrumented.record_pool_state();
        instrumented
    }

    /// The wrapped pool (queries through it are not instrumented).
    pub fn inner(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The label `db.client.connection.pool.name` of this pool's metrics.
    pub fn pool_name(&self) -> &str {
        &self.shared.pool_name
    }

    /// Updates the idle/used connection gauges from the pool (done on every acquire and
    /// release; call it from a timer for an idle application).
    pub fn record_pool_state(&self) {
        record_state(&self.pool, &self.metrics);
    }

    /// A connection from the pool: wait time, timeouts and pending requests are measured,
    /// and use time when it is returned.
    pub async fn acquire(&self) -> Result<InstrumentedConnection<DB>, sqlx::Error> {
        let (connection, acquired) = self.acquire_raw().await?;
        Ok(InstrumentedConnection::new(
            connection,
            acquired,
            self.clone_parts(),
        ))
    }

    pub(crate) fn clone_parts(&self) -> (Pool<DB>, Arc<Shared>, Arc<PoolMetrics>) {
        (
            self.pool.clone(),
            Arc::clone(&self.shared),
            Arc::clone(&self.metrics),
        )
    }

    async fn acquire_raw(&self) -> Result<(PoolConnection<DB>, Instant), sqlx::Error> {
        struct Pending<'a>(&'a metrics::Gauge);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                self.0.decrement(1.0);
            }
        }
        let started = Instant::now();
        self.metrics.pending.increment(1.0);
        let pending = Pending(&self.metrics.pending);
        let result = self.pool.acquire().await;
        drop(pending);
        self.metrics
            .wait_time
            .record(started.elapsed().as_secs_f64());
        if matches!(result, Err(sqlx::Error::PoolTimedOut)) {
            self.metrics.timeouts.increment(1);
        }
        let connection = result?;
        self.metrics.in_use.fetch_add(1, Ordering::Relaxed);
        self.record_pool_state();
        Ok((connection, Instant::now()))
    }

    /// Starts a transaction: a `BEGIN` span now, `COMMIT`/`ROLLBACK` spans and the
    /// transaction duration when it ends (dropped without commit counts as rolled back).
    pub async fn begin(&self) -> Result<InstrumentedTransaction<'static, DB>, sqlx::Error> {
        let (connection, acquired) = self.acquire_raw().await?;
        let mut run = QueryRun::start_sql(&self.shared, "BEGIN");
        match sqlx::Transaction::begin(connection, None).await {
            Ok(transaction) => {
                run.finish(Ok(()));
                Ok(InstrumentedTransaction::new(
                    transaction,
                    Some(PoolUse {
                        acquired,
                        pool: self.pool.clone(),
                        metrics: Arc::clone(&self.metrics),
                    }),
                    Arc::clone(&self.shared),
                ))
            }
            Err(err) => {
                run.finish(Err(&err));
                // The connection went back to the pool with the failed transaction.
                released(&self.pool, &self.metrics, acquired);
                Err(err)
            }
        }
    }

    /// Checks the database answers within `timeout` (for a readiness endpoint): acquires a
    /// connection and pings it. The error says which step failed.
    pub fn ping(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), PingError>> + Send + use<DB> {
        let pool = self.clone();
        async move {
            let work = async {
                let mut connection = pool.acquire().await.map_err(PingError::Acquire)?;
                sqlx::Connection::ping(connection.raw())
                    .await
                    .map_err(PingError::Ping)
            };
            match tokio::time::timeout(timeout, work).await {
                Ok(result) => result,
                Err(_) => Err(PingError::Timeout(timeout)),
            }
        }
    }
}

impl<'p, DB> Executor<'p> for &'p InstrumentedPool<DB>
where
    DB: InstrumentedDatabase,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let mut captured = Captured::new(query);
        let run = QueryRun::start(&self.shared, &mut captured);
        let pool = self.clone();
        let results = async_stream::try_stream! {
            let mut connection = pool.acquire().await?;
            let mut results = connection.raw().fetch_many(captured);
            while let Some(item) = results.try_next().await? {
                yield item;
            }
        };
        Box::pin(Observed::<DB>::new(
            Box::pin(results),
            run,
            DB::rows_affected,
        ))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let mut captured = Captured::new(query);
        let mut run = QueryRun::start(&self.shared, &mut captured);
        let pool = self.clone();
        Box::pin(async move {
            let result = match pool.acquire().await {
                Ok(mut connection) => connection.raw().fetch_optional(captured).await,
                Err(err) => Err(err),
            };
            run.finish_optional(&result);
            result
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).describe(sql)
    }
}

/// Why [`InstrumentedPool::ping`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PingError {
    /// No connection could be acquired from the pool.
    #[error("cannot acquire a connection: {0}")]
    Acquire(#[source] sqlx::Error),
    /// The database did not answer the ping.
    #[error("ping failed: {0}")]
    Ping(#[source] sqlx::Error),
    /// Nothing answered within the timeout.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}
