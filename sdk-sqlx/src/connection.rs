//! Connections whose queries are instrumented: pooled ones ([`InstrumentedConnection`]) and
//! the connection inside a transaction (reached through `&mut *tx`).

use crate::database::InstrumentedDatabase;
use crate::pool::{PoolMetrics, released};
use crate::query::{Captured, Observed, QueryRun, Shared};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Either, Execute, Executor, Pool, SqlStr};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

/// A connection (`C` derefs to the driver's connection) whose queries are instrumented.
/// `&mut` of it is a sqlx executor.
pub struct Instrumented<C, DB> {
    pub(crate) inner: C,
    pub(crate) shared: Arc<Shared>,
    pub(crate) database: PhantomData<fn() -> DB>,
}

impl<C, DB> Instrumented<C, DB> {
    pub(crate) fn new(inner: C, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            database: PhantomData,
        }
    }
}

impl<C, DB> std::fmt::Debug for Instrumented<C, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("pool_name", &self.shared.pool_name)
            .finish_non_exhaustive()
    }
}

impl<'c, C, DB> Executor<'c> for &'c mut Instrumented<C, DB>
where
    C: DerefMut<Target = DB::Connection> + Send,
    DB: InstrumentedDatabase,
    for<'x> &'x mut DB::Connection: Executor<'x, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let mut captured = Captured::new(query);
        let run = QueryRun::start(&self.shared, &mut captured);
        let results = (&mut *self.inner).fetch_many(captured);
        Box::pin(Observed::<DB>::new(results, run, DB::rows_affected))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let mut captured = Captured::new(query);
        let mut run = QueryRun::start(&self.shared, &mut captured);
        let result = (&mut *self.inner).fetch_optional(captured);
        Box::pin(async move {
            let result = result.await;
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
        'c: 'e,
    {
        (&mut *self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut *self.inner).describe(sql)
    }
}

/// A connection acquired from an [`InstrumentedPool`](crate::InstrumentedPool); its use
/// time is recorded when it is dropped (returned to the pool). `&mut *conn` is an executor.
pub struct InstrumentedConnection<DB: InstrumentedDatabase> {
    connection: Instrumented<PoolConnection<DB>, DB>,
    acquired: Instant,
    pool: Pool<DB>,
    metrics: Arc<PoolMetrics>,
}

impl<DB: InstrumentedDatabase> std::fmt::Debug for InstrumentedConnection<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl<DB: InstrumentedDatabase> InstrumentedConnection<DB> {
    pub(crate) fn new(
        connection: PoolConnection<DB>,
        acquired: Instant,
        (pool, shared, metrics): (Pool<DB>, Arc<Shared>, Arc<PoolMetrics>),
    ) -> Self {
        Self {
            connection: Instrumented::new(connection, shared),
            acquired,
            pool,
            metrics,
        }
    }

    /// The driver's connection (queries through it are not instrumented).
    pub fn raw(&mut self) -> &mut DB::Connection {
        &mut self.connection.inner
    }

    /// Starts a transaction on this connection, instrumented like
    /// [`InstrumentedPool::begin`](crate::InstrumentedPool::begin).
    pub async fn begin(&mut self) -> Result<crate::InstrumentedTransaction<'_, DB>, sqlx::Error> {
        let shared = Arc::clone(&self.connection.shared);
        let mut run = QueryRun::start_sql(&shared, "BEGIN");
        match sqlx::Transaction::begin(&mut *self.connection.inner, None).await {
            Ok(transaction) => {
                run.finish(Ok(()));
                Ok(crate::InstrumentedTransaction::new(
                    transaction,
                    None,
                    shared,
                ))
            }
            Err(err) => {
                run.finish(Err(&err));
                Err(err)
            }
        }
    }

    /// Pings the server.
    pub async fn ping(&mut self) -> Result<(), sqlx::Error> {
        self.raw().ping().await
    }
}

impl<DB: InstrumentedDatabase> Deref for InstrumentedConnection<DB> {
    type Target = Instrumented<PoolConnection<DB>, DB>;
    fn deref(&self) -> &Self::Target {
        &self.connection
    }
}

impl<DB: InstrumentedDatabase> DerefMut for InstrumentedConnection<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connection
    }
}

impl<DB: InstrumentedDatabase> Drop for InstrumentedConnection<DB> {
    fn drop(&mut self) {
        released(&self.pool, &self.metrics, self.acquired);
    }
}
