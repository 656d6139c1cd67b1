//! [`Instrumented`]: any connection (pooled, or the one inside a transaction) whose queries
//! are traced and measured; `&mut` of it is a sqlx executor.

use crate::database::InstrumentedDatabase;
use crate::query::{Captured, Observed, QueryRun, Shared};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::{Either, Execute, Executor, SqlStr};
use std::marker::PhantomData;
use std::ops::DerefMut;
use std::sync::Arc;

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
