//! Connections whose queries are instrumented: pooled ones ([`InstrumentedConnection`]) and
//! the connection inside a transaction (reached through `&mut *tx`).

pub use crate::instrumented::Instrumented;

use crate::database::InstrumentedDatabase;
use crate::pool_metrics::{PoolMetrics, released};
use crate::query::{QueryRun, Shared};
use crate::transaction::InstrumentedTransaction;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Pool};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

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
    pub async fn begin(&mut self) -> Result<InstrumentedTransaction<'_, DB>, sqlx::Error> {
        let shared = Arc::clone(&self.connection.shared);
        let mut run = QueryRun::start_sql(&shared, "BEGIN");
        match sqlx::Transaction::begin(&mut *self.connection.inner, None).await {
            Ok(transaction) => {
                run.finish(Ok(()));
                Ok(InstrumentedTransaction::new(transaction, None, shared))
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
