//! The record hook: how instrumentation names its spans and writes their attributes and
//! status, under any subscriber.
//!
//! Instrumentation (the server and client layers, the sqlx and redis wrappers, your own
//! code) calls [`with_record`] with a closure over a [`SpanRecord`]. What the closure writes
//! goes where the installed subscriber can use it:
//!
//! - under the SDK's span collector ([`SpanCollectorLayer`](crate::spans::SpanCollectorLayer),
//!   in whatever `Registry` stack it was added to), straight into the span's record: no
//!   field visitor, no copy of static strings. The SDK's
//!   [`TraceContextLayer`](crate::trace::TraceContextLayer) publishes the hook through
//!   `downcast_raw`, as tracing-error's `WithContext` does, so nothing reaches into another
//!   layer's private state;
//! - under the SDK's stack without a span exporter, nowhere: nobody would read it (unsampled
//!   spans cost nothing either);
//! - under a foreign subscriber (no SDK layers at all, say `tracing-opentelemetry` alone),
//!   as ordinary span fields with the same semantic-convention names (`otel.name`,
//!   `otel.kind`, `otel.status_code`, `http.request.method`, …). `tracing` records only
//!   fields a span declared, so instrumentation declares them as `Empty` at creation.
//!
//! ```
//! use sdk_core::record::with_record;
//! use sdk_core::spans::{AttrValue, SpanKind};
//! use tracing::field::Empty;
//!
//! let span = tracing::info_span!("job", otel.name = Empty, otel.kind = Empty, job.queue = Empty);
//! with_record(&span, |record| {
//!     record.name("process emails");
//!     record.kind(SpanKind::Consumer);
//!     record.set("job.queue", AttrValue::Str("emails".into()));
//! });
//! ```

use crate::spans::{AttrValue, Recording, SpanKind, SpanName, SpanStatus, clip};
use crate::trace::StateHook;
use std::borrow::Cow;
use std::sync::Arc;
use tracing::span::Id;
use tracing::{Dispatch, Span};

/// Runs a closure on the record of span `id`; `false` when the span has none.
pub(crate) type WithRecording = fn(&Dispatch, &Id, &mut dyn FnMut(&mut Recording)) -> bool;

/// Runs closures on the record and the trace state of span `id` in one visit; `false` when
/// the span has no trace state.
pub(crate) type WithRecordAndState = fn(
    &Dispatch,
    &Id,
    &mut dyn FnMut(&mut Recording),
    &mut dyn FnMut(&mut crate::trace::SpanState),
) -> bool;

/// Where a [`SpanRecord`] writes.
enum Target<'a> {
    /// The SDK collector's record of a sampled span.
    Collector(&'a mut Recording),
    /// Span fields, under a subscriber without the SDK's collector.
    Fields(&'a Span),
}

/// Write access to a span's name, kind, attributes and status (see the [module](self)).
pub struct SpanRecord<'a>(Target<'a>);

impl std::fmt::Debug for SpanRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.0 {
            Target::Collector(recording) => format!("collector({})", recording.name),
            Target::Fields(_) => "fields".to_owned(),
        };
        f.debug_struct("SpanRecord")
            .field("target", &target)
            .finish_non_exhaustive()
    }
}

impl SpanRecord<'_> {
    /// Whether the writes go to span fields (a subscriber without the SDK's collector).
    pub fn is_fields(&self) -> bool {
        matches!(self.0, Target::Fields(_))
    }

    /// Sets the span name (`otel.name`).
    pub fn name(&mut self, name: &str) {
        match &mut self.0 {
            Target::Collector(r) => r.name = SpanName::Shared(name.into()),
            Target::Fields(span) => {
                span.record("otel.name", name);
            }
        }
    }

    /// Sets the span name to a shared string (no copy).
    pub fn name_shared(&mut self, name: Arc<str>) {
        match &mut self.0 {
            Target::Collector(r) => r.name = SpanName::Shared(name),
            Target::Fields(span) => {
                span.record("otel.name", &*name);
            }
        }
    }

    /// Sets the span kind (`otel.kind`).
    pub fn kind(&mut self, kind: SpanKind) {
        match &mut self.0 {
            Target::Collector(r) => r.kind = kind,
            Target::Fields(span) => {
                span.record("otel.kind", kind.as_str());
            }
        }
    }

    /// Adds an attribute the span does not have yet (no duplicate check on the collector's
    /// record; use [`set`](Self::set) to replace).
    pub fn push(&mut self, key: &'static str, value: AttrValue) {
        match &mut self.0 {
            Target::Collector(r) => {
                if r.attributes.len() < crate::spans::MAX_ATTRIBUTES {
                    r.attributes.push((key, value));
                } else {
                    r.dropped_attributes = r.dropped_attributes.saturating_add(1);
                }
            }
            Target::Fields(span) => record_field(span, key, &value),
        }
    }

    /// Sets an attribute, replacing an earlier value of the same key.
    pub fn set(&mut self, key: &'static str, value: AttrValue) {
        match &mut self.0 {
            Target::Collector(r) => r.set(key, value),
            Target::Fields(span) => record_field(span, key, &value),
        }
    }

    /// Marks the span failed with `message` (`otel.status_code = error`); an empty message
    /// keeps an earlier one.
    pub fn error(&mut self, message: &str) {
        match &mut self.0 {
            Target::Collector(r) => {
                if message.is_empty() {
                    if !matches!(r.status, SpanStatus::Error(_)) {
                        r.status = SpanStatus::Error(String::new());
                    }
                } else {
                    r.status = SpanStatus::Error(clip(message).into_owned());
                }
            }
            Target::Fields(span) => {
                span.record("otel.status_code", "error");
                if !message.is_empty() {
                    span.record("otel.status_message", message);
                }
            }
        }
    }
}

fn record_field(span: &Span, key: &'static str, value: &AttrValue) {
    match value {
        AttrValue::Str(s) => span.record(key, &**s),
        AttrValue::Shared(s) => span.record(key, &**s),
        AttrValue::I64(v) => span.record(key, *v),
        AttrValue::F64(v) => span.record(key, *v),
        AttrValue::Bool(v) => span.record(key, *v),
    };
}

/// Runs `f` on the record of `span` (see the [module](self) for where it writes); returns
/// whether it ran. It does not run for a disabled span, nor for a span the SDK's stack does
/// not record (unsampled, or no span exporter configured).
pub fn with_record(span: &Span, f: impl FnOnce(&mut SpanRecord<'_>)) -> bool {
    span.with_subscriber(|(id, dispatch)| record_of(span, dispatch, id, f))
        .unwrap_or(false)
}

fn record_of(
    span: &Span,
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanRecord<'_>),
) -> bool {
    record_with(crate::trace::state_hook(dispatch), span, dispatch, id, f)
}

fn record_with(
    hook: Option<StateHook>,
    span: &Span,
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanRecord<'_>),
) -> bool {
    if let Some(hook) = hook {
        // The SDK's stack: its collector's record, when the span has one (without a span
        // exporter, or for an unsampled span, nobody reads the attributes).
        let mut f = Some(f);
        return (hook.with_record)(dispatch, id, &mut |recording| {
            if let Some(f) = f.take() {
                f(&mut SpanRecord(Target::Collector(recording)));
            }
        });
    }
    f(&mut SpanRecord(Target::Fields(span)));
    true
}

/// Whether spans created now need their attributes declared as fields: the current
/// subscriber has no SDK layer, so [`with_record`] will write span fields. Instrumentation
/// that creates many spans uses it to pick a lean callsite (no `Empty` fields to visit)
/// under the SDK's own stack.
pub fn needs_fields() -> bool {
    RecordHook::current().needs_fields()
}

/// The record hook of the current subscriber, looked up once: instrumentation that writes
/// to a span several times keeps it (as [`Operation`](crate::operation::Operation) does)
/// instead of finding it in the subscriber's layers on every write.
#[derive(Debug, Clone, Copy)]
pub struct RecordHook(Option<StateHook>);

impl RecordHook {
    /// The hook of the current subscriber (none: the subscriber has no SDK layer).
    pub fn current() -> Self {
        Self(tracing::dispatcher::get_default(crate::trace::state_hook))
    }

    /// The hook for an operation that creates no span ([`Span::none`]), without looking
    /// anything up: every write to a disabled span is skipped.
    pub fn none() -> Self {
        Self(None)
    }

    /// Whether spans created under it need their attributes declared as fields.
    pub fn needs_fields(self) -> bool {
        self.0.is_none()
    }

    /// [`with_record`] for a span created under this hook's subscriber.
    pub fn record(self, span: &Span, f: impl FnOnce(&mut SpanRecord<'_>)) -> bool {
        span.with_subscriber(|(id, dispatch)| record_with(self.0, span, dispatch, id, f))
            .unwrap_or(false)
    }

    /// [`record`](Self::record) then [`state`](Self::state), in one visit of the span (one
    /// lookup in the subscriber instead of two). Under a subscriber without the SDK's layers
    /// `record` writes span fields and `state` does not run (`None`).
    #[inline]
    pub fn record_and_state<R>(
        self,
        span: &Span,
        record: impl FnOnce(&mut SpanRecord<'_>),
        state: impl FnOnce(&mut crate::trace::SpanState) -> R,
    ) -> Option<R> {
        let Some(hook) = self.0 else {
            if !span.is_disabled() {
                record(&mut SpanRecord(Target::Fields(span)));
            }
            return None;
        };
        span.with_subscriber(|(id, dispatch)| {
            let mut record = Some(record);
            let mut state = Some(state);
            let mut out = None;
            (hook.with_record_and_state)(
                dispatch,
                id,
                &mut |recording| {
                    if let Some(f) = record.take() {
                        f(&mut SpanRecord(Target::Collector(recording)));
                    }
                },
                &mut |found| {
                    if let Some(f) = state.take() {
                        out = Some(f(found));
                    }
                },
            );
            out
        })
        .flatten()
    }

    /// [`trace::with_span_state`](crate::trace::with_span_state) for a span created under
    /// this hook's subscriber.
    pub fn state<R>(
        self,
        span: &Span,
        f: impl FnOnce(&mut crate::trace::SpanState) -> R,
    ) -> Option<R> {
        let hook = self.0?;
        span.with_subscriber(|(id, dispatch)| crate::trace::with_state_via(hook, dispatch, id, f))
            .flatten()
    }
}

/// Records `user_id` on the nearest span named `name` among `span` and its ancestors: as
/// the `user.id` attribute, and for the log lines of that span and its children. Returns
/// `false` when no such span is found (under a foreign subscriber: records the `user.id`
/// field of `span` itself when it declares one).
pub fn record_user_id_on(span: &Span, name: &str, user_id: &str) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let Some(hook) = crate::trace::state_hook(dispatch) else {
            span.record(crate::semconv::user::ID, user_id);
            return false;
        };
        let Some(target) = (hook.find_named)(dispatch, id, name) else {
            return false;
        };
        let user: Cow<'static, str> = clip(user_id);
        (hook.with_record)(dispatch, &target, &mut |recording| {
            recording.set(crate::semconv::user::ID, AttrValue::Str(user.clone()));
        });
        crate::trace::with_state_of(dispatch, &target, |state| {
            state.user_id = Some(user.as_ref().into());
        })
        .is_some()
    })
    .unwrap_or(false)
}
