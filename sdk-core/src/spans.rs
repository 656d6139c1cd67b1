//! Finished spans for trace exporters.
//!
//! [`SpanCollectorLayer`] records the fields, events and timing of every *sampled* span
//! (it reads the ids that [`TraceContextLayer`](crate::trace::TraceContextLayer) assigned, so
//! it must be layered after it) and hands a [`FinishedSpan`] to a [`SpanSink`] when the span
//! closes. Unsampled spans cost nothing here.
//!
//! Field conventions, as `tracing-opentelemetry` users know them:
//!
//! | field | meaning |
//! |---|---|
//! | `otel.name` | span name (instead of the static `tracing` name) |
//! | `otel.kind` | `server`, `client`, `producer`, `consumer`, `internal` |
//! | `otel.status_code` | `ok` or `error` |
//! | `otel.status_message` | error description |
//! | `dd.resource`, `dd.type` | Datadog resource and span type, when the defaults do not fit |
//!
//! Other fields become attributes (at most [`MAX_ATTRIBUTES`]); events inside the span
//! become span events (at most [`MAX_EVENTS`]); an `ERROR` event marks the span as failed.

use crate::propagation::{SpanContext, SpanId, TraceId};
use crate::trace::SpanState;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Most attributes kept per span; later ones are counted as dropped.
pub const MAX_ATTRIBUTES: usize = 128;
/// Most events kept per span; later ones are counted as dropped.
pub const MAX_EVENTS: usize = 128;
/// Attribute slots reserved beyond a span's declared fields.
const SPARE_ATTRIBUTES: usize = 12;
/// Longest string attribute kept, in bytes; longer values are cut at a character boundary.
pub const MAX_VALUE_LEN: usize = 4096;

/// The role of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    /// Work inside the process.
    #[default]
    Internal,
    /// Handling an incoming request.
    Server,
    /// An outgoing request.
    Client,
    /// Sending a message.
    Producer,
    /// Receiving a message.
    Consumer,
}

impl SpanKind {
    /// The name `otel.kind` takes (`server`, `client`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Some(match value.to_ascii_lowercase().as_str() {
            "server" => Self::Server,
            "client" => Self::Client,
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            "internal" => Self::Internal,
            _ => return None,
        })
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// String.
    Str(Cow<'static, str>),
    /// Signed integer.
    I64(i64),
    /// Float.
    F64(f64),
    /// Boolean.
    Bool(bool),
    /// A shared string (route templates and other values kept by the caller).
    Shared(Arc<str>),
}

impl AttrValue {
    /// The value as text (Datadog `meta`).
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Self::Str(s) => Cow::Borrowed(s),
            Self::Shared(s) => Cow::Borrowed(s),
            Self::I64(v) => Cow::Owned(v.to_string()),
            Self::F64(v) => Cow::Owned(v.to_string()),
            Self::Bool(v) => Cow::Borrowed(if *v { "true" } else { "false" }),
        }
    }
}

/// A span name: static, or shared with a cache of names (no copy per span).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanName {
    /// A name known at compile time.
    Static(&'static str),
    /// A name built at run time.
    Shared(Arc<str>),
}

impl std::ops::Deref for SpanName {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Static(s) => s,
            Self::Shared(s) => s,
        }
    }
}

impl AsRef<str> for SpanName {
    fn as_ref(&self) -> &str {
        self
    }
}

impl std::fmt::Display for SpanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl PartialEq<str> for SpanName {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for SpanName {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl From<Cow<'static, str>> for SpanName {
    fn from(value: Cow<'static, str>) -> Self {
        match value {
            Cow::Borrowed(s) => Self::Static(s),
            Cow::Owned(s) => Self::Shared(s.into()),
        }
    }
}

impl From<&SpanName> for Cow<'static, str> {
    fn from(value: &SpanName) -> Self {
        match value {
            SpanName::Static(s) => Cow::Borrowed(s),
            SpanName::Shared(s) => Cow::Owned(s.to_string()),
        }
    }
}

/// Outcome of a span.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpanStatus {
    /// Not set.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a description.
    Error(String),
}

/// An event recorded inside a span.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanEvent {
    /// The event's message, else its `tracing` name.
    pub name: Cow<'static, str>,
    /// When it happened.
    pub time: SystemTime,
    /// Its level.
    pub level: Level,
    /// Its other fields.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

/// A span that has ended, ready for export.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FinishedSpan {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id (local or remote).
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent came from another process.
    pub parent_is_remote: bool,
    /// Span name (`otel.name` or the `tracing` name).
    pub name: SpanName,
    /// Span kind.
    pub kind: SpanKind,
    /// Start time.
    pub start: SystemTime,
    /// End time.
    pub end: SystemTime,
    /// Attributes in recording order, last value per key.
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// Attributes over [`MAX_ATTRIBUTES`].
    pub dropped_attributes: u32,
    /// Events in order.
    pub events: Vec<SpanEvent>,
    /// Events over [`MAX_EVENTS`].
    pub dropped_events: u32,
    /// Status.
    pub status: SpanStatus,
    /// The `tracing` target (instrumentation scope).
    pub target: &'static str,
    /// The remote context the trace continues (sampling priority, origin, tags, tracestate).
    pub remote: Option<Arc<SpanContext>>,
}

impl FinishedSpan {
    /// The value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The string value of attribute `key`.
    pub fn attribute_str(&self, key: &str) -> Option<&str> {
        match self.attribute(key) {
            Some(AttrValue::Str(s)) => Some(s),
            Some(AttrValue::Shared(s)) => Some(s),
            _ => None,
        }
    }

    /// Duration, zero if the clock went backwards.
    pub fn duration(&self) -> std::time::Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

/// Where finished spans go. Implementations must not block (queue and return).
pub trait SpanSink: Send + Sync + 'static {
    /// Takes one finished span.
    fn submit(&self, span: FinishedSpan);
}

impl<F: Fn(FinishedSpan) + Send + Sync + 'static> SpanSink for F {
    fn submit(&self, span: FinishedSpan) {
        self(span);
    }
}

/// Where a span's [`Recording`] lives: inside its trace state. A copy of the state (for
/// code that reads ids) carries no record.
#[derive(Default)]
pub(crate) struct RecordingSlot(pub(crate) Option<Recording>);

impl Clone for RecordingSlot {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl std::fmt::Debug for RecordingSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "recording"
        } else {
            "none"
        })
    }
}

/// Recording state of an open sampled span, kept in its trace state.
pub(crate) struct Recording {
    pub(crate) name: SpanName,
    pub(crate) kind: SpanKind,
    start: SystemTime,
    pub(crate) attributes: Vec<(&'static str, AttrValue)>,
    pub(crate) dropped_attributes: u32,
    events: Vec<SpanEvent>,
    dropped_events: u32,
    pub(crate) status: SpanStatus,
}

pub(crate) fn clip(value: &str) -> Cow<'static, str> {
    if value.len() <= MAX_VALUE_LEN {
        return Cow::Owned(value.to_owned());
    }
    let mut end = MAX_VALUE_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(value[..end].to_owned())
}

impl Recording {
    pub(crate) fn set(&mut self, key: &'static str, value: AttrValue) {
        match key {
            "otel.name" => match value {
                AttrValue::Str(name) => self.name = name.into(),
                AttrValue::Shared(name) => self.name = SpanName::Shared(name),
                _ => {}
            },
            "otel.kind" => {
                if let Some(kind) = SpanKind::parse(&value.to_text()) {
                    self.kind = kind;
                }
            }
            "otel.status_code" => match value.to_text().to_ascii_lowercase().as_str() {
                "ok" => self.status = SpanStatus::Ok,
                "error" if !matches!(self.status, SpanStatus::Error(_)) => {
                    self.status = SpanStatus::Error(String::new());
                }
                _ => {}
            },
            "otel.status_message" => self.status = SpanStatus::Error(value.to_text().into_owned()),
            _ => {
                if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                } else if self.attributes.len() < MAX_ATTRIBUTES {
                    self.attributes.push((key, value));
                } else {
                    self.dropped_attributes = self.dropped_attributes.saturating_add(1);
                }
            }
        }
    }
}

struct SpanFields<'a>(&'a mut Recording);

impl Visit for SpanFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(field.name(), AttrValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field.name(), AttrValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(
            |_| AttrValue::Str(Cow::Owned(value.to_string())),
            AttrValue::I64,
        );
        self.0.set(field.name(), value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field.name(), AttrValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field.name(), AttrValue::Str(clip(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .set(field.name(), AttrValue::Str(clip(&format!("{value:?}"))));
    }
}

struct EventFields {
    message: Option<String>,
    attributes: Vec<(&'static str, AttrValue)>,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: AttrValue) {
        if self.attributes.len() < MAX_ATTRIBUTES {
            self.attributes.push((field.name(), value));
        }
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, AttrValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, AttrValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(
            |_| AttrValue::Str(Cow::Owned(value.to_string())),
            AttrValue::I64,
        );
        self.push(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, AttrValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(clip(value).into_owned());
        } else {
            self.push(field, AttrValue::Str(clip(value)));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(clip(&text).into_owned());
        } else {
            self.push(field, AttrValue::Str(clip(&text)));
        }
    }
}

/// A layer that turns closed sampled spans into [`FinishedSpan`]s for a [`SpanSink`].
///
/// Instrumentation writes attributes straight into the record this layer keeps, through
/// the [record hook](crate::record) that [`TraceContextLayer`](crate::trace::TraceContextLayer)
/// publishes, under any subscriber built on a [`LookupSpan`] (a `Registry` with any other
/// layers).
pub struct SpanCollectorLayer {
    sink: Arc<dyn SpanSink>,
}

impl std::fmt::Debug for SpanCollectorLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanCollectorLayer").finish_non_exhaustive()
    }
}

impl SpanCollectorLayer {
    /// A layer sending finished spans to `sink`.
    pub fn new(sink: Arc<dyn SpanSink>) -> Self {
        Self { sink }
    }
}

/// Runs `f` on the record of span `id`, found through the subscriber type `S` the SDK's
/// layers were added to; `false` when the span has no record (not sampled, or no
/// collector in the stack).
pub(crate) fn record_in<S>(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut Recording)) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(subscriber) = dispatch.downcast_ref::<S>() else {
        return false;
    };
    let Some(span) = subscriber.span(id) else {
        return false;
    };
    let mut extensions = span.extensions_mut();
    match extensions
        .get_mut::<SpanState>()
        .and_then(|state| state.recording.0.as_mut())
    {
        Some(recording) => {
            f(recording);
            true
        }
        None => false,
    }
}

/// [`record_in`] then the span's trace state, in one visit of span `id` (one lookup, one
/// lock): `record` runs when the span has a record, `state` when it has a trace state;
/// returns whether `state` ran.
pub(crate) fn record_and_state_in<S>(
    dispatch: &Dispatch,
    id: &Id,
    record: &mut dyn FnMut(&mut Recording),
    state: &mut dyn FnMut(&mut SpanState),
) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return false;
    };
    let mut extensions = span.extensions_mut();
    let Some(found) = extensions.get_mut::<SpanState>() else {
        return false;
    };
    if let Some(recording) = found.recording.0.as_mut() {
        record(recording);
    }
    state(found);
    true
}

impl<S> Layer<S> for SpanCollectorLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions
            .get_mut::<SpanState>()
            .filter(|state| state.sampled)
        else {
            return;
        };
        let mut recording = Recording {
            name: SpanName::Static(attrs.metadata().name()),
            kind: SpanKind::Internal,
            start: SystemTime::now(),
            // Room for instrumentation that pushes attributes past the declared fields.
            attributes: Vec::with_capacity(attrs.metadata().fields().len() + SPARE_ATTRIBUTES),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            status: SpanStatus::Unset,
        };
        attrs.record(&mut SpanFields(&mut recording));
        state.recording.0 = Some(recording);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(recording) = extensions
            .get_mut::<SpanState>()
            .and_then(|state| state.recording.0.as_mut())
        {
            values.record(&mut SpanFields(recording));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(recording) = extensions
            .get_mut::<SpanState>()
            .and_then(|state| state.recording.0.as_mut())
        else {
            return;
        };
        let meta = event.metadata();
        let mut fields = EventFields {
            message: None,
            attributes: Vec::new(),
        };
        event.record(&mut fields);
        if *meta.level() == Level::ERROR
            && !matches!(recording.status, SpanStatus::Error(ref m) if !m.is_empty())
        {
            recording.status = SpanStatus::Error(fields.message.clone().unwrap_or_default());
        }
        if recording.events.len() >= MAX_EVENTS {
            recording.dropped_events = recording.dropped_events.saturating_add(1);
            return;
        }
        recording.events.push(SpanEvent {
            name: fields
                .message
                .map_or(Cow::Borrowed(meta.name()), Cow::Owned),
            time: SystemTime::now(),
            level: *meta.level(),
            attributes: fields.attributes,
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions.get_mut::<SpanState>() else {
            return;
        };
        let Some(recording) = state.recording.0.take() else {
            return;
        };
        let parent_is_remote = state
            .remote
            .as_ref()
            .is_some_and(|remote| Some(remote.span_id) == state.parent_span_id);
        let finished = FinishedSpan {
            trace_id: state.trace_id,
            span_id: state.span_id,
            parent_span_id: state.parent_span_id,
            parent_is_remote,
            name: recording.name,
            kind: recording.kind,
            start: recording.start,
            end: SystemTime::now(),
            attributes: recording.attributes,
            dropped_attributes: recording.dropped_attributes,
            events: recording.events,
            dropped_events: recording.dropped_events,
            status: recording.status,
            target: span.metadata().target(),
            remote: state.remote.clone(),
        };
        drop(extensions);
        self.sink.submit(finished);
    }
}
