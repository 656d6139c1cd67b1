//! [`InstrumentedTransaction`]: `BEGIN`, `COMMIT` and `ROLLBACK` spans, the transaction's
//! duration, and instrumented queries through `&mut *tx`.

use crate::database::InstrumentedDatabase;
use crate::instrumented::Instrumented;
use crate::pool_metrics::{PoolUse, released};
use crate::query::{QueryRun, Shared};
use sdk_core::catalogue::DB_CLIENT_TRANSACTION_DURATION;
use sdk_core::semconv::db;
use sqlx::Transaction;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

/// Records how the transaction ended; a transaction dropped while open was rolled back
/// (sqlx queues the `ROLLBACK` on its connection).
struct Ending<DB: InstrumentedDatabase> {
    shared: Arc<Shared>,
    started: Instant,
    pool_use: Option<PoolUse<DB>>,
    done: bool,
}

impl<DB: InstrumentedDatabase> Ending<DB> {
    fn finish(&mut self, operation: &'static str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let info = &self.shared.info;
        let mut labels = vec![
            (
                db::SYSTEM_NAME,
                metrics::SharedString::const_str(info.system),
            ),
            (
                db::OPERATION_NAME,
                metrics::SharedString::const_str(operation),
            ),
        ];
        if let Some(namespace) = &info.namespace {
            labels.push((
                db::NAMESPACE,
                metrics::SharedString::from(Arc::clone(namespace)),
            ));
        }
        DB_CLIENT_TRANSACTION_DURATION
            .histogram(&labels)
            .record(self.started.elapsed().as_secs_f64());
        if let Some(pool_use) = &self.pool_use {
            released(&pool_use.pool, &pool_use.metrics, pool_use.acquired);
        }
    }
}

impl<DB: InstrumentedDatabase> Drop for Ending<DB> {
    fn drop(&mut self) {
        if !self.done {
            let mut run = QueryRun::start_sql(&self.shared, "ROLLBACK");
            sdk_core::record::with_record(run.span(), |record| {
                record.push(
                    "sdk.db.transaction.dropped",
                    sdk_core::spans::AttrValue::Bool(true),
                );
            });
            run.finish(Ok(()));
            self.finish("ROLLBACK");
        }
    }
}

/// A transaction from [`InstrumentedPool::begin`](crate::InstrumentedPool::begin) or
/// [`InstrumentedConnection::begin`](crate::InstrumentedConnection::begin).
/// `&mut *tx` is an executor whose queries are instrumented.
pub struct InstrumentedTransaction<'c, DB: InstrumentedDatabase> {
    connection: Instrumented<Transaction<'c, DB>, DB>,
    ending: Ending<DB>,
}

impl<DB: InstrumentedDatabase> std::fmt::Debug for InstrumentedTransaction<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedTransaction")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl<'c, DB: InstrumentedDatabase> InstrumentedTransaction<'c, DB> {
    pub(crate) fn new(
        transaction: Transaction<'c, DB>,
        pool_use: Option<PoolUse<DB>>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            connection: Instrumented::new(transaction, Arc::clone(&shared)),
            ending: Ending {
                shared,
                started: Instant::now(),
                pool_use,
                done: false,
            },
        }
    }

    /// Commits, in a `COMMIT` span.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    /// Rolls back, in a `ROLLBACK` span.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(self, operation: &'static str) -> Result<(), sqlx::Error> {
        let Self {
            connection,
            mut ending,
        } = self;
        let mut run = QueryRun::start_sql(&ending.shared, operation);
        let result = if operation == "COMMIT" {
            connection.inner.commit().await
        } else {
            connection.inner.rollback().await
        };
        run.finish(result.as_ref().map(|_| ()));
        // A failed COMMIT leaves the transaction rolled back.
        ending.finish(if result.is_ok() {
            operation
        } else {
            "ROLLBACK"
        });
        result
    }

    /// The driver's transaction (queries through it are not instrumented).
    pub fn raw(&mut self) -> &mut Transaction<'c, DB> {
        &mut self.connection.inner
    }
}

impl<'c, DB: InstrumentedDatabase> Deref for InstrumentedTransaction<'c, DB> {
    type Target = Instrumented<Transaction<'c, DB>, DB>;
    fn deref(&self) -> &Self::Target {
        &self.connection
    }
}

impl<DB: InstrumentedDatabase> DerefMut for InstrumentedTransaction<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connection
    }
}
