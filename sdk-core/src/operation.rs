//! One operation lifecycle for every adapter: start, finish with an outcome, and a drop
//! that counts as a cancellation.
//!
//! The server layer (a request), the HTTP client (an outbound call), the sqlx wrapper (a
//! query) and the redis wrapper (a command or pipeline) all run through [`Operation`]:
//!
//! - [`Operation::start`] names the span, sets its kind and attributes through the
//!   [record hook](crate::record) and starts the clock;
//! - [`Operation::finish`] records the [`Outcome`] on the span (`error.type`, status) and
//!   calls the adapter's [`OnFinish`] with the outcome and the duration, exactly once;
//! - dropping an unfinished operation (the caller's future was dropped: the client went
//!   away, an outer timeout fired, a `select!` took another branch) finishes it as
//!   [`Outcome::Cancelled`]: the span gets `error.type = cancelled` and an error status,
//!   the adapter records its duration with `error.type = cancelled`, and
//!   `sdk.operation.cancelled{sdk.operation}` counts it.
//!
//! ```
//! use sdk_core::operation::{Finished, OnFinish, Operation, Outcome};
//! use sdk_core::spans::SpanKind;
//!
//! struct Metrics;
//! impl OnFinish for Metrics {
//!     fn on_finish(&mut self, finished: &Finished<'_>, outcome: &Outcome) {
//!         println!("{:?} after {:?}", outcome.error_type(), finished.elapsed());
//!     }
//! }
//!
//! let op = Operation::start(tracing::info_span!("job"), "job", SpanKind::Internal, Metrics, |record| {
//!     record.name("process emails");
//! });
//! op.finish(Outcome::Ok);
//! ```

use crate::catalogue::OPERATION_CANCELLED;
use crate::record::{RecordHook, SpanRecord};
use crate::semconv::{error, sdk};
use crate::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracing::Span;

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed. `error_type` is a low-cardinality class (a status code, an SQLSTATE, an
    /// error kind); `message` describes it and must carry no user data.
    Failed {
        /// The `error.type` attribute and label.
        error_type: Cow<'static, str>,
        /// The span status message (empty: none).
        message: Cow<'static, str>,
    },
    /// It was dropped before it finished.
    Cancelled,
}

impl Outcome {
    /// A failure of class `error_type` with no message beyond it.
    pub fn failed(error_type: impl Into<Cow<'static, str>>) -> Self {
        Self::Failed {
            error_type: error_type.into(),
            message: Cow::Borrowed(""),
        }
    }

    /// A failure of class `error_type` with a status message (no user data in it).
    pub fn failed_with(
        error_type: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Failed {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// The `error.type` of this outcome: `None` for success, `cancelled` for a cancellation.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Ok => None,
            Self::Failed { error_type, .. } => Some(error_type),
            Self::Cancelled => Some(error::CANCELLED),
        }
    }

    /// Whether the operation did not succeed.
    pub fn is_error(&self) -> bool {
        !matches!(self, Self::Ok)
    }
}

/// What an adapter records when one of its operations ends: its metrics, and any last
/// attributes (through [`Finished::record`]: the span is still open).
pub trait OnFinish {
    /// Called exactly once, with the outcome and the time since the start (the state is
    /// dropped right after; it is borrowed, not moved, so large states are not copied).
    fn on_finish(&mut self, finished: &Finished<'_>, outcome: &Outcome);

    /// The adapter's cached `sdk.operation.cancelled` handle for its kind (see
    /// [`CancelledCounter`]); without one, each cancellation registers the handle anew.
    fn cancelled_counter(&self) -> Option<metrics::Counter> {
        None
    }
}

/// A lazily registered `sdk.operation.cancelled{sdk.operation=kind}` handle, kept by an
/// adapter next to its other cached handles, so that a storm of cancellations (clients
/// going away under load) costs an increment each.
#[derive(Debug, Default)]
pub struct CancelledCounter(OnceLock<metrics::Counter>);

impl CancelledCounter {
    /// The handle for operations of kind `kind`, registered on first use.
    pub fn handle(&self, kind: &'static str) -> metrics::Counter {
        self.0.get_or_init(|| cancelled_counter(kind)).clone()
    }
}

fn cancelled_counter(kind: &'static str) -> metrics::Counter {
    OPERATION_CANCELLED.counter(&[(sdk::OPERATION, metrics::SharedString::const_str(kind))])
}

/// The span of an operation that is ending, for its [`OnFinish`].
#[derive(Debug)]
pub struct Finished<'a> {
    span: &'a Span,
    hook: RecordHook,
    started: Instant,
}

impl Finished<'_> {
    /// The time since the operation started (read from the clock when asked: an adapter
    /// that records no duration does not pay for it).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The span (still open).
    pub fn span(&self) -> &Span {
        self.span
    }

    /// Writes last attributes to the span's record.
    pub fn record(&self, f: impl FnOnce(&mut SpanRecord<'_>)) -> bool {
        self.hook.record(self.span, f)
    }
}

/// One operation in flight (see the [module](self)).
#[must_use = "an operation dropped at once is recorded as cancelled"]
pub struct Operation<F: OnFinish> {
    span: Span,
    hook: RecordHook,
    started: Instant,
    kind: &'static str,
    on_finish: Option<F>,
    ending: bool,
}

impl<F: OnFinish> std::fmt::Debug for Operation<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("kind", &self.kind)
            .field("finished", &self.on_finish.is_none())
            .finish_non_exhaustive()
    }
}

impl<F: OnFinish> Operation<F> {
    /// Starts an operation of kind `kind` (the `sdk.operation` label: `http.server`,
    /// `db.sql`, …) on `span`, a span the adapter created: sets the span kind and lets
    /// `describe` write the name and attributes.
    pub fn start(
        span: Span,
        kind: &'static str,
        span_kind: SpanKind,
        on_finish: F,
        describe: impl FnOnce(&mut SpanRecord<'_>),
    ) -> Self {
        Self::start_with(
            RecordHook::current(),
            span,
            kind,
            span_kind,
            on_finish,
            describe,
        )
    }

    /// [`start`](Self::start) with the record hook the adapter already looked up (to choose
    /// the span's callsite with [`RecordHook::needs_fields`]).
    #[inline]
    pub fn start_with(
        hook: RecordHook,
        span: Span,
        kind: &'static str,
        span_kind: SpanKind,
        on_finish: F,
        describe: impl FnOnce(&mut SpanRecord<'_>),
    ) -> Self {
        hook.record(&span, |record| {
            record.kind(span_kind);
            describe(record);
        });
        Self::running(span, hook, kind, on_finish)
    }

    /// [`start_with`](Self::start_with) that also runs `trace` on the span's trace state
    /// (to continue a remote parent, attach baggage, read the ids to propagate), in the same
    /// visit of the span. `trace`'s answer is `None` under a subscriber without the SDK's
    /// layers.
    #[inline]
    pub fn start_traced<R>(
        hook: RecordHook,
        span: Span,
        kind: &'static str,
        span_kind: SpanKind,
        on_finish: F,
        describe: impl FnOnce(&mut SpanRecord<'_>),
        trace: impl FnOnce(&mut crate::trace::SpanState) -> R,
    ) -> (Self, Option<R>) {
        let traced = hook.record_and_state(
            &span,
            |record| {
                record.kind(span_kind);
                describe(record);
            },
            trace,
        );
        (Self::running(span, hook, kind, on_finish), traced)
    }

    #[inline]
    fn running(span: Span, hook: RecordHook, kind: &'static str, on_finish: F) -> Self {
        Self {
            span,
            hook,
            started: Instant::now(),
            kind,
            on_finish: Some(on_finish),
            ending: false,
        }
    }

    /// The operation's span.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Writes to the span's record ([`with_record`](crate::record::with_record), without
    /// looking the hook up again).
    pub fn record(&self, f: impl FnOnce(&mut SpanRecord<'_>)) -> bool {
        self.hook.record(&self.span, f)
    }

    /// Runs `f` on the span's trace state (its ids, remote parent, baggage); `None` under a
    /// subscriber without the SDK's layers.
    pub fn trace_state<R>(&self, f: impl FnOnce(&mut crate::trace::SpanState) -> R) -> Option<R> {
        self.hook.state(&self.span, f)
    }

    /// When it started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The adapter's state, until the operation finishes.
    pub fn state(&self) -> Option<&F> {
        self.on_finish.as_ref()
    }

    /// The adapter's state, until the operation finishes.
    pub fn state_mut(&mut self) -> Option<&mut F> {
        self.on_finish.as_mut()
    }

    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.on_finish.is_none() || self.ending
    }

    /// Finishes with `outcome` (the span closes when the operation is dropped).
    pub fn finish(mut self, outcome: Outcome) {
        self.end(&outcome);
    }

    /// Finishes with `outcome` unless it has already finished; for owners that cannot move
    /// the operation (a body, a stream).
    pub fn finish_in_place(&mut self, outcome: Outcome) {
        self.end(&outcome);
    }

    fn end(&mut self, outcome: &Outcome) {
        // Taken out of the option only after `on_finish` ran (the state is borrowed, not
        // copied); until then `ending` keeps a second call — the drop after a panic inside
        // `on_finish` — from recording twice.
        if self.ending {
            return;
        }
        let Some(on_finish) = self.on_finish.as_mut() else {
            return;
        };
        self.ending = true;
        match outcome {
            Outcome::Ok => {}
            Outcome::Failed {
                error_type,
                message,
            } => {
                self.hook.record(&self.span, |record| {
                    record.set(error::TYPE, AttrValue::Str(error_type.clone()));
                    record.error(message);
                });
            }
            Outcome::Cancelled => {
                self.hook.record(&self.span, |record| {
                    record.set(error::TYPE, AttrValue::Str(Cow::Borrowed(error::CANCELLED)));
                    record.error(error::CANCELLED);
                });
                on_finish
                    .cancelled_counter()
                    .unwrap_or_else(|| cancelled_counter(self.kind))
                    .increment(1);
            }
        }
        on_finish.on_finish(
            &Finished {
                span: &self.span,
                hook: self.hook,
                started: self.started,
            },
            outcome,
        );
        self.on_finish = None;
    }
}

impl<F: OnFinish> Drop for Operation<F> {
    fn drop(&mut self) {
        self.end(&Outcome::Cancelled);
    }
}
