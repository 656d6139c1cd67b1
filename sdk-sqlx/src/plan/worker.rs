//! [`Planner`]: the gate on the request path and the one background task per pool that
//! asks the database for plans, on a connection of its own.

use super::classify::StatementClass;
use super::gate::{InFlight, InFlightGuard, TokenBucket};
use super::report::{PlanSummary, QueryLabels, count, report, report_failure};
use super::{PlanConfig, result};
use crate::sanitize::SanitizedQuery;
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One statement to explain.
#[derive(Debug, Clone, Copy)]
// Only the PostgreSQL planner reads the parameters and ANALYZE.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct ExplainRequest<'a> {
    /// The statement as the application sent it (never logged).
    pub(crate) sql: &'a str,
    /// Its highest `$n` placeholder.
    pub(crate) params: u16,
    /// Run it (`EXPLAIN ANALYZE`) in a rolled-back read-only transaction.
    pub(crate) analyze: bool,
}

/// Why a plan was not read.
#[derive(Debug)]
pub(crate) enum PlanError {
    /// The database gave up at `statement_timeout`.
    Timeout,
    /// The database (or the connection) failed; the SQLSTATE when there is one.
    Failed(Option<String>),
}

impl From<sqlx::Error> for PlanError {
    fn from(err: sqlx::Error) -> Self {
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        match code.as_deref() {
            // query_canceled: statement_timeout.
            Some("57014") => Self::Timeout,
            _ => Self::Failed(code),
        }
    }
}

/// Reads plans from one database, on a connection it owns.
pub(crate) trait Explainer: Send + 'static {
    /// The plan of `request`, summarised.
    fn explain<'a>(
        &'a mut self,
        request: ExplainRequest<'a>,
    ) -> BoxFuture<'a, Result<PlanSummary, PlanError>>;

    /// Forgets the connection (after an error or a timeout: its state is unknown).
    fn reset(&mut self);
}

/// An explainer's own connection in `slot`, opened from `options` on first use and after
/// [`Explainer::reset`] forgot it.
pub(crate) async fn own_connection<'c, O>(
    slot: &'c mut Option<O::Connection>,
    options: &O,
) -> Result<&'c mut O::Connection, PlanError>
where
    O: sqlx::ConnectOptions,
    O::Connection: Sized,
{
    if slot.is_none() {
        *slot = Some(options.connect().await?);
    }
    slot.as_mut().ok_or(PlanError::Failed(None))
}

type MakeExplainer = Box<dyn Fn() -> Box<dyn Explainer> + Send + Sync>;

struct PlanJob {
    sql: Arc<str>,
    params: u16,
    query: QueryLabels,
    /// The query span's context: the plan is logged in a child span of it. Holding the
    /// span itself would keep it open (and its exported end late) until the plan is in.
    parent: Option<sdk_core::propagation::SpanContext>,
    in_flight: InFlightGuard,
}

/// The plans of one pool: the checks made when a slow query ends, and the queue to the
/// worker (started on the first plan, on the runtime the query ran on).
pub(crate) struct Planner {
    config: PlanConfig,
    system: &'static str,
    make: MakeExplainer,
    sender: Mutex<Option<mpsc::Sender<PlanJob>>>,
    bucket: TokenBucket,
    in_flight: InFlight,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("config", &self.config)
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

impl Planner {
    /// The planner of `pool`, for the databases that have one (PostgreSQL, SQLite).
    ///
    /// The database is found by type here, once per pool, rather than through a bound on
    /// [`InstrumentedDatabase`](crate::InstrumentedDatabase), so that code generic over
    /// instrumented pools keeps compiling.
    pub(crate) fn for_pool<DB: sqlx::Database>(
        pool: &sqlx::Pool<DB>,
        config: &PlanConfig,
    ) -> Option<Self> {
        let any: &dyn std::any::Any = pool;
        #[cfg(feature = "postgres")]
        if let Some(pool) = any.downcast_ref::<sqlx::PgPool>() {
            let options = pool.connect_options();
            let timeout = config.timeout;
            let large = config.large_table_rows;
            return Some(Self::new(
                config,
                sdk_core::semconv::db::system::POSTGRESQL,
                Box::new(move || {
                    Box::new(super::postgres::PgExplainer::new(
                        Arc::clone(&options),
                        timeout,
                        large,
                    ))
                }),
            ));
        }
        #[cfg(feature = "sqlite")]
        if let Some(pool) = any.downcast_ref::<sqlx::SqlitePool>() {
            let options = pool.connect_options();
            let timeout = config.timeout;
            let large = config.large_table_rows;
            return Some(Self::new(
                config,
                sdk_core::semconv::db::system::SQLITE,
                Box::new(move || {
                    Box::new(super::sqlite::SqliteExplainer::new(
                        Arc::clone(&options),
                        timeout,
                        large,
                    ))
                }),
            ));
        }
        let _ = any;
        None
    }

    fn new(config: &PlanConfig, system: &'static str, make: MakeExplainer) -> Self {
        Self {
            config: config.clone(),
            system,
            make,
            sender: Mutex::new(None),
            bucket: TokenBucket::new(config.max_plans, config.period),
            in_flight: InFlight::default(),
        }
    }

    /// Hands a slow query to the worker, or counts why not. Never waits.
    pub(crate) fn submit(
        &self,
        sql: &Arc<str>,
        class: StatementClass,
        query: &SanitizedQuery,
        span: &tracing::Span,
    ) {
        let StatementClass::Read { params } = class else {
            count(self.system, result::WRITE);
            return;
        };
        let Some(in_flight) = self.in_flight.enter(&query.summary) else {
            count(self.system, result::RATE_LIMITED);
            return;
        };
        let permit = loop {
            let Some(sender) = self.sender(false) else {
                // No tokio runtime here (the query was dropped outside one).
                count(self.system, result::ERROR);
                return;
            };
            match sender.try_reserve_owned() {
                Ok(permit) => break permit,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    count(self.system, result::QUEUE_FULL);
                    return;
                }
                // The worker's runtime is gone: start one on this runtime.
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    if self.sender(true).is_none() {
                        count(self.system, result::ERROR);
                        return;
                    }
                }
            }
        };
        if !self.bucket.take() {
            count(self.system, result::RATE_LIMITED);
            return;
        }
        permit.send(PlanJob {
            sql: Arc::clone(sql),
            params,
            query: QueryLabels {
                system: self.system,
                summary: Arc::clone(&query.summary),
                text: Arc::clone(&query.text),
                collection: query.collection.clone(),
            },
            parent: sdk_core::trace::span_context(span),
            in_flight,
        });
    }

    /// The worker's queue, starting the worker when there is none (or `restart`).
    fn sender(&self, restart: bool) -> Option<mpsc::Sender<PlanJob>> {
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = sender.as_ref()
            && !restart
            && !existing.is_closed()
        {
            return Some(existing.clone());
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(self.config.queue_capacity.max(1));
        let budget = self.config.timeout + Duration::from_secs(1);
        let analyze = self.config.analyze;
        runtime.spawn(work(rx, (self.make)(), budget, analyze));
        *sender = Some(tx.clone());
        Some(tx)
    }
}

/// The worker: one plan at a time until the pool (the sender) is gone.
async fn work(
    mut jobs: mpsc::Receiver<PlanJob>,
    mut explainer: Box<dyn Explainer>,
    budget: Duration,
    analyze: bool,
) {
    while let Some(job) = jobs.recv().await {
        let PlanJob {
            sql,
            params,
            query,
            parent,
            in_flight,
        } = job;
        // A short child span of the query's, holding the plan's log line: the line carries
        // the query's trace id, and its span's parent is the query's span.
        let span = tracing::info_span!(target: "sdk_sqlx::plan", "db.plan");
        if let Some(parent) = &parent {
            sdk_core::trace::set_parent(&span, parent);
        }
        let request = ExplainRequest {
            sql: &sql,
            params,
            analyze: analyze && params == 0,
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(budget, explainer.explain(request)).await;
        let took = started.elapsed();
        // Released before the report, so that whoever sees the report may plan again.
        drop(in_flight);
        match outcome {
            Ok(Ok(plan)) => report(&query, &plan, took, &span),
            Ok(Err(err)) => {
                explainer.reset();
                match err {
                    PlanError::Timeout => report_failure(&query, result::TIMEOUT, None, &span),
                    PlanError::Failed(code) => {
                        report_failure(&query, result::ERROR, code.as_deref(), &span);
                    }
                }
            }
            Err(_) => {
                explainer.reset();
                report_failure(&query, result::TIMEOUT, None, &span);
            }
        }
    }
}
