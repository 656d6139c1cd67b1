//! One instrumented query: its span, its metrics, and the stream wrapper that ends both
//! when the results end, fail or are dropped.

use crate::comment::{CommentContext, CommentMode, with_comment};
use crate::config::SqlxConfig;
use crate::database::ConnectionInfo;
use crate::plan::{Planner, StatementClass};
use crate::sanitize::{QueryCache, SanitizedQuery};
use futures_core::Stream;
use futures_util::stream::BoxStream;
use sdk_core::catalogue::{
    DB_CLIENT_OPERATION_DURATION, DB_CLIENT_RESPONSE_RETURNED_ROWS, DB_CLIENT_SLOW_QUERIES,
};
use sdk_core::operation::{CancelledCounter, Finished, OnFinish, Operation, Outcome};
use sdk_core::semconv::{db, error, server};
use sdk_core::spans::{AttrValue, SpanKind};
use sqlx::error::BoxDynError;
use sqlx::{AssertSqlSafe, Database, Either, Execute, SqlSafeStr, SqlStr};
use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use tracing::field::Empty;

/// What every query of one pool shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SqlxConfig,
    pub(crate) info: ConnectionInfo,
    pub(crate) cache: QueryCache<Statement>,
    pub(crate) pool_name: Arc<str>,
    /// `sdk.operation.cancelled` for this pool's queries.
    pub(crate) cancelled: CancelledCounter,
    /// Plans of slow queries, when configured.
    pub(crate) plans: Option<Planner>,
}

/// A statement as the pool knows it: sanitized, with the metric handles of its successful
/// runs registered on first use.
#[derive(Debug)]
pub(crate) struct Statement {
    pub(crate) query: SanitizedQuery,
    handles: OnceLock<Handles>,
    /// With plans configured: the text to explain and whether it only reads, kept on the
    /// first run.
    plan: OnceLock<PlanStatement>,
}

impl Statement {
    pub(crate) fn new(query: SanitizedQuery) -> Self {
        Self {
            query,
            handles: OnceLock::new(),
            plan: OnceLock::new(),
        }
    }
}

/// What the planner needs of a statement.
#[derive(Debug)]
struct PlanStatement {
    /// The original text (only ever sent to the database).
    sql: Arc<str>,
    class: StatementClass,
}

/// Handles for a statement's successful runs.
#[derive(Debug)]
struct Handles {
    duration: metrics::Histogram,
    rows: metrics::Histogram,
    slow: metrics::Counter,
}

/// A query taken apart so its SQL can be read (and commented) while its arguments,
/// prepared statement and persistence flag go on to the driver unchanged.
pub(crate) struct Captured<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Captured<DB> {
    /// Reads `query` in the order the drivers do (`sql` consumes it).
    pub(crate) fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        let arguments = Some(query.take_arguments());
        let persistent = query.persistent();
        Self {
            sql: query.sql(),
            statement,
            arguments,
            persistent,
        }
    }

    pub(crate) fn sql_text(&self) -> &str {
        self.sql.as_str()
    }

    /// Replaces the SQL text (a trace comment); the prepared statement no longer matches.
    fn rewrite(&mut self, sql: String) {
        self.sql = AssertSqlSafe(sql).into_sql_str();
        self.statement = None;
    }
}

impl<'q, DB: Database> Execute<'q, DB> for Captured<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// The span and measurements of one query, finished exactly once: when the results end,
/// when they fail, or — as cancelled — when the caller drops them first (sdk-core's one
/// operation lifecycle).
pub(crate) struct QueryRun {
    op: Operation<QueryFinish>,
}

/// The `sdk.operation` label of SQL queries.
const OPERATION: &str = "db.sql";

/// What a query records when it ends.
pub(crate) struct QueryFinish {
    statement: Arc<Statement>,
    shared: Arc<Shared>,
    rows: u64,
    affected: u64,
    /// The SQLSTATE of a database error.
    status_code: Option<String>,
}

impl std::fmt::Debug for QueryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRun")
            .field("operation", &self.op)
            .finish_non_exhaustive()
    }
}

impl QueryRun {
    /// Starts the span for `captured` (as a child of the current span) and adds the
    /// configured trace comment when the span is sampled.
    pub(crate) fn start<DB: Database>(shared: &Arc<Shared>, captured: &mut Captured<DB>) -> Self {
        let run = Self::start_sql(shared, captured.sql_text());
        if shared.plans.is_some()
            && let Some(state) = run.op_state()
        {
            // The text before any trace comment; classified once per cached statement.
            let statement = &state.statement;
            statement.plan.get_or_init(|| PlanStatement {
                sql: Arc::from(captured.sql_text()),
                class: crate::plan::classify(&statement.query.text),
            });
        }
        if shared.config.comments != CommentMode::Off
            && let Some(commented) = run.comment(captured.sql_text())
        {
            captured.rewrite(commented);
        }
        run
    }

    /// Starts the span of a statement the wrapper does not send itself (`BEGIN`, `COMMIT`).
    pub(crate) fn start_sql(shared: &Arc<Shared>, sql: &str) -> Self {
        let statement = shared.cache.get_with(sql, Statement::new);
        let hook = sdk_core::record::RecordHook::current();
        let span = if hook.needs_fields() {
            // No SDK layer in the subscriber: the attributes become span fields.
            tracing::info_span!(
                "db.query",
                otel.name = Empty,
                otel.kind = Empty,
                otel.status_code = Empty,
                otel.status_message = Empty,
                db.system.name = Empty,
                db.namespace = Empty,
                db.operation.name = Empty,
                db.collection.name = Empty,
                db.query.summary = Empty,
                db.query.text = Empty,
                db.response.status_code = Empty,
                db.response.returned_rows = Empty,
                db.response.affected_rows = Empty,
                db.system = Empty,
                server.address = Empty,
                server.port = Empty,
                error.type = Empty,
            )
        } else {
            tracing::info_span!(
                "db.query",
                otel.status_code = Empty,
                otel.status_message = Empty,
            )
        };
        let info = &shared.info;
        let finish = QueryFinish {
            statement: Arc::clone(&statement),
            shared: Arc::clone(shared),
            rows: 0,
            affected: 0,
            status_code: None,
        };
        let query = &statement.query;
        let op = Operation::start_with(hook, span, OPERATION, SpanKind::Client, finish, |record| {
            if query.summary.is_empty() {
                record.name(info.system);
            } else {
                record.name_shared(Arc::clone(&query.summary));
            }
            record.push(db::SYSTEM_NAME, AttrValue::Str(Cow::Borrowed(info.system)));
            if let Some(namespace) = &info.namespace {
                record.push(db::NAMESPACE, AttrValue::Shared(Arc::clone(namespace)));
            }
            if let Some(operation) = query.operation {
                record.push(db::OPERATION_NAME, AttrValue::Str(Cow::Borrowed(operation)));
            }
            if let Some(collection) = &query.collection {
                record.push(
                    db::COLLECTION_NAME,
                    AttrValue::Shared(Arc::clone(collection)),
                );
            }
            if !query.summary.is_empty() {
                record.push(
                    db::QUERY_SUMMARY,
                    AttrValue::Shared(Arc::clone(&query.summary)),
                );
            }
            record.push(db::QUERY_TEXT, AttrValue::Shared(Arc::clone(&query.text)));
            if let Some(address) = &info.address {
                record.push(server::ADDRESS, AttrValue::Shared(Arc::clone(address)));
            }
            if let Some(port) = info.port {
                record.push(server::PORT, AttrValue::I64(i64::from(port)));
            }
            // Datadog's database monitoring still reads the legacy keys.
            if matches!(
                shared.config.comments,
                CommentMode::DatadogService | CommentMode::DatadogFull
            ) {
                record.push(
                    db::LEGACY_SYSTEM,
                    AttrValue::Str(Cow::Borrowed(info.system)),
                );
            }
        });
        Self { op }
    }

    /// The statement with its trace comment, for a sampled span.
    fn comment(&self, sql: &str) -> Option<String> {
        let traceparent = self
            .op
            .trace_state(|state| {
                state.sampled.then(|| {
                    sdk_core::propagation::w3c::traceparent_bytes(
                        state.trace_id,
                        state.span_id,
                        state.sampled,
                    )
                })
            })
            .flatten()?;
        let traceparent = std::str::from_utf8(&traceparent).ok()?;
        let shared = &self.op_state()?.shared;
        let config = &shared.config;
        let info = &shared.info;
        let context = CommentContext {
            traceparent: Some(traceparent),
            service: &config.service,
            environment: config.environment.as_deref(),
            version: config.version.as_deref(),
            database: info.namespace.as_deref(),
            database_service: config.database_service.as_deref(),
            host: info.address.as_deref(),
        };
        with_comment(sql, config.comments, &context)
    }

    fn op_state(&self) -> Option<&QueryFinish> {
        // Only read before the query finishes (when the comment is built).
        self.op.state()
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        self.op.span()
    }

    /// Finishes with what `fetch_optional` returned.
    pub(crate) fn finish_optional<R>(&mut self, result: &Result<Option<R>, sqlx::Error>) {
        match result {
            Ok(row) => {
                if row.is_some() {
                    self.row();
                }
                self.finish(Ok(()));
            }
            Err(err) => self.finish(Err(err)),
        }
    }

    pub(crate) fn row(&mut self) {
        if let Some(state) = self.op.state_mut() {
            state.rows += 1;
        }
    }

    pub(crate) fn affected(&mut self, rows: u64) {
        if let Some(state) = self.op.state_mut() {
            state.affected += rows;
        }
    }

    /// Ends the span and records the metrics; `Err` marks the query failed (except
    /// `RowNotFound`, which is an answer, not a failure).
    pub(crate) fn finish(&mut self, outcome: Result<(), &sqlx::Error>) {
        let failure = match outcome {
            Err(sqlx::Error::RowNotFound) | Ok(()) => None,
            Err(err) => Some(err),
        };
        let outcome = match failure {
            None => Outcome::Ok,
            Some(err) => {
                let code: Option<String> = err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(Cow::into_owned);
                // The database's message often quotes bound values ("invalid input syntax
                // for type integer: \"…\""), so the status carries only the code or the kind.
                let outcome = match &code {
                    Some(code) => {
                        Outcome::failed_with(code.clone(), format!("database error {code}"))
                    }
                    None => Outcome::failed_with(error_kind(err), error_kind(err)),
                };
                if let Some(state) = self.op.state_mut() {
                    state.status_code = code;
                }
                outcome
            }
        };
        self.op.finish_in_place(outcome);
    }
}

impl OnFinish for QueryFinish {
    fn cancelled_counter(&self) -> Option<metrics::Counter> {
        Some(self.shared.cancelled.handle(OPERATION))
    }

    fn on_finish(&mut self, span: &Finished<'_>, outcome: &Outcome) {
        let elapsed = span.elapsed();
        let rows = self.rows;
        let affected = self.affected;
        let query = &self.statement.query;
        let returns_rows = rows > 0 || query.operation == Some("SELECT");
        span.record(|record| {
            if returns_rows {
                record.push(
                    db::RESPONSE_RETURNED_ROWS,
                    AttrValue::I64(i64::try_from(rows).unwrap_or(i64::MAX)),
                );
            }
            // SQLite reports the previous statement's change count on a SELECT.
            if affected > 0 && query.operation != Some("SELECT") {
                record.push(
                    db::RESPONSE_AFFECTED_ROWS,
                    AttrValue::I64(i64::try_from(affected).unwrap_or(i64::MAX)),
                );
            }
            if let Some(code) = &self.status_code {
                record.push(
                    db::RESPONSE_STATUS_CODE,
                    AttrValue::Str(Cow::Owned(code.clone())),
                );
            }
        });

        let slow = self
            .shared
            .config
            .slow_query
            .is_some_and(|threshold| elapsed >= threshold);
        match outcome.error_type() {
            None => {
                // The common path: handles registered once per statement.
                let handles = self.statement.handles.get_or_init(|| {
                    let labels = self.labels();
                    Handles {
                        duration: DB_CLIENT_OPERATION_DURATION.histogram(&labels),
                        rows: DB_CLIENT_RESPONSE_RETURNED_ROWS.histogram(&labels),
                        slow: DB_CLIENT_SLOW_QUERIES.counter(&labels),
                    }
                });
                handles.duration.record(elapsed.as_secs_f64());
                if returns_rows {
                    handles.rows.record(rows as f64);
                }
                if slow {
                    handles.slow.increment(1);
                }
            }
            Some(error_type) => {
                let mut labels = self.labels();
                if slow {
                    DB_CLIENT_SLOW_QUERIES.counter(&labels).increment(1);
                }
                if let Some(code) = &self.status_code {
                    labels.push((db::RESPONSE_STATUS_CODE, code.clone().into()));
                }
                labels.push((error::TYPE, error_type.to_owned().into()));
                DB_CLIENT_OPERATION_DURATION
                    .histogram(&labels)
                    .record(elapsed.as_secs_f64());
            }
        }
        if slow {
            let text: &str = &query.text;
            let duration_ms = elapsed.as_secs_f64() * 1000.0;
            // Inside the span: it becomes a span event and the log line carries the trace.
            span.span().in_scope(|| {
                tracing::warn!(
                    target: "sdk_sqlx",
                    { db.query.text = text, db.query.summary = &*query.summary, duration_ms },
                    "slow query"
                );
            });
            if let Some(planner) = &self.shared.plans
                && let Some(plan) = self.statement.plan.get()
            {
                planner.submit(&plan.sql, plan.class, query, span.span());
            }
        }
    }
}

impl QueryFinish {
    /// Labels of the statement's operation metrics, without the outcome.
    fn labels(&self) -> Vec<(&'static str, metrics::SharedString)> {
        let info = &self.shared.info;
        let query = &self.statement.query;
        let mut labels: Vec<(&'static str, metrics::SharedString)> = Vec::with_capacity(8);
        labels.push((
            db::SYSTEM_NAME,
            metrics::SharedString::const_str(info.system),
        ));
        if let Some(namespace) = &info.namespace {
            labels.push((
                db::NAMESPACE,
                metrics::SharedString::from(Arc::clone(namespace)),
            ));
        }
        if let Some(operation) = query.operation {
            labels.push((
                db::OPERATION_NAME,
                metrics::SharedString::const_str(operation),
            ));
        }
        if let Some(collection) = &query.collection {
            labels.push((
                db::COLLECTION_NAME,
                metrics::SharedString::from(Arc::clone(collection)),
            ));
        }
        if let Some(address) = &info.address {
            labels.push((
                server::ADDRESS,
                metrics::SharedString::from(Arc::clone(address)),
            ));
        }
        if let Some(port) = info.port {
            labels.push((server::PORT, metrics::SharedString::from(port.to_string())));
        }
        labels
    }
}

/// Short name of a non-database error, for `error.type`.
fn error_kind(err: &sqlx::Error) -> &'static str {
    match err {
        sqlx::Error::PoolTimedOut => "PoolTimedOut",
        sqlx::Error::PoolClosed => "PoolClosed",
        sqlx::Error::Io(_) => "Io",
        sqlx::Error::Tls(_) => "Tls",
        sqlx::Error::Protocol(_) => "Protocol",
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => "Decode",
        sqlx::Error::Encode(_) => "Encode",
        sqlx::Error::TypeNotFound { .. } => "TypeNotFound",
        sqlx::Error::ColumnIndexOutOfBounds { .. } | sqlx::Error::ColumnNotFound(_) => "Column",
        sqlx::Error::WorkerCrashed => "WorkerCrashed",
        sqlx::Error::Configuration(_) => "Configuration",
        sqlx::Error::Database(_) => "Database",
        _ => error::OTHER,
    }
}

/// What `Executor::fetch_many` streams.
pub(crate) type Results<'e, DB> = BoxStream<
    'e,
    Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, sqlx::Error>,
>;

/// A result stream that feeds a [`QueryRun`] and finishes it at the end.
pub(crate) struct Observed<'e, DB: Database> {
    inner: Results<'e, DB>,
    run: QueryRun,
    rows_affected: fn(&DB::QueryResult) -> u64,
}

impl<'e, DB: Database> Observed<'e, DB> {
    pub(crate) fn new(
        inner: Results<'e, DB>,
        run: QueryRun,
        rows_affected: fn(&DB::QueryResult) -> u64,
    ) -> Self {
        Self {
            inner,
            run,
            rows_affected,
        }
    }
}

impl<DB: Database> Stream for Observed<'_, DB> {
    type Item = Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(Either::Right(_)))) => this.run.row(),
            Poll::Ready(Some(Ok(Either::Left(result)))) => {
                this.run.affected((this.rows_affected)(result));
            }
            Poll::Ready(Some(Err(err))) => this.run.finish(Err(err)),
            Poll::Ready(None) => this.run.finish(Ok(())),
            Poll::Pending => {}
        }
        polled
    }
}
