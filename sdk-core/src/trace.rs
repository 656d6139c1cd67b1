//! Trace and span ids for `tracing` spans.
//!
//! [`TraceContextLayer`] gives every span a [`SpanState`]: a span id, the trace id of its
//! parent (or a new one for a root, sampled by the configured [`Sampler`]), and the request
//! and user ids recorded on it. A remote parent extracted by
//! [`Propagator`](crate::propagation::Propagator) is attached with [`set_parent`] before the
//! span is entered; [`current_span_context`] gives the context to inject into outgoing
//! requests. The JSON log layer reads the same state for correlation.
//!
//! The layer publishes a hook through `downcast_raw` (the pattern of tracing-error's
//! `WithContext`), by which the helpers find the state under any subscriber that contains
//! the layer; under a subscriber without it they find nothing and return `None`/`false`.
//!
//! ```
//! use sdk_core::propagation::{SpanContext, SpanId, TraceId};
//! use sdk_core::trace::{TraceContextLayer, current_span_context, set_parent};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let subscriber = tracing_subscriber::registry().with(TraceContextLayer::default());
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("GET /users/{id}");
//!     let remote = SpanContext::new(TraceId::new(7).unwrap(), SpanId::new(9).unwrap(), true);
//!     assert!(set_parent(&span, &remote));
//!     let _entered = span.enter();
//!     let child = tracing::info_span!("SELECT users").entered();
//!     assert_eq!(current_span_context().unwrap().trace_id, remote.trace_id);
//!     drop(child);
//! });
//! ```

use crate::config::{RootSampler, Sampler};
use crate::propagation::{Baggage, SpanContext, SpanId, TraceId};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use std::any::TypeId;
use std::cell::RefCell;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Field name the SDK records the request id under.
pub const REQUEST_ID_FIELD: &str = crate::semconv::request::ID;
/// Field names accepted as the user id.
pub const USER_ID_FIELDS: [&str; 2] = [crate::semconv::user::ID, "user_id"];

/// Trace identity of one `tracing` span, kept in the span's extensions.
#[derive(Debug, Clone)]
pub struct SpanState {
    /// Trace id, shared by the whole trace.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// The parent span's id (local or remote).
    pub parent_span_id: Option<SpanId>,
    /// Whether the trace is sampled.
    pub sampled: bool,
    /// The remote context this trace continues (tracestate, Datadog tags and origin).
    pub remote: Option<Arc<SpanContext>>,
    /// The baggage this span carries (received with the request, inherited by children,
    /// sent on with outgoing requests).
    pub baggage: Option<Arc<Baggage>>,
    /// `request_id` recorded on this span.
    pub request_id: Option<Arc<str>>,
    /// `user.id` (or `user_id`) recorded on this span.
    pub user_id: Option<Box<str>>,
    sampler: Sampler,
    /// The span's record for export, kept here by
    /// [`SpanCollectorLayer`](crate::spans::SpanCollectorLayer) when the span is sampled:
    /// one extension per span, one lookup to reach both.
    pub(crate) recording: crate::spans::RecordingSlot,
}

impl SpanState {
    /// Continues the remote trace `parent` (what [`set_parent`] does, for code that already
    /// holds the state): the parent's trace id and, for parent-based samplers, its sampling
    /// decision.
    pub fn continue_remote(&mut self, parent: &SpanContext) {
        self.trace_id = parent.trace_id;
        self.parent_span_id = Some(parent.span_id);
        self.sampled = if self.sampler.parent_based {
            parent.sampled
        } else {
            sample_root(&self.sampler, parent.trace_id)
        };
        self.remote = Some(Arc::new(parent.clone()));
    }

    /// The context to propagate for this span.
    pub fn span_context(&self) -> SpanContext {
        let mut context = match &self.remote {
            Some(remote) => SpanContext {
                trace_id: self.trace_id,
                span_id: self.span_id,
                sampled: self.sampled,
                is_remote: false,
                ..SpanContext::clone(remote)
            },
            // A trace started here has a random id (W3C Trace Context level 2's flag).
            None => SpanContext {
                random_trace_id: true,
                ..SpanContext::new(self.trace_id, self.span_id, self.sampled)
            },
        };
        if context
            .sampling_priority
            .is_some_and(|p| (p > 0) != self.sampled)
        {
            context.sampling_priority = None;
        }
        context
    }
}

/// A `tracing_subscriber` layer that assigns trace and span ids.
#[derive(Debug, Clone, Default)]
pub struct TraceContextLayer {
    sampler: Sampler,
    hook: Option<StateHook>,
}

impl TraceContextLayer {
    /// A layer sampling root spans with `sampler`.
    pub fn new(sampler: Sampler) -> Self {
        Self {
            sampler,
            hook: None,
        }
    }
}

/// Runs a closure on the state of span `id`; `false` when it has none.
pub(crate) type WithState = fn(&Dispatch, &Id, &mut dyn FnMut(&mut SpanState)) -> bool;

/// How the helpers of this module (and [`crate::record`]) reach the [`SpanState`] and the
/// record of a span under any subscriber: published by [`TraceContextLayer`] through
/// `downcast_raw`, with the concrete subscriber
/// type it was added to baked into the function pointers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateHook {
    /// Runs the closure on the state of span `id`; `false` when it has none.
    pub(crate) with_state: WithState,
    /// The id of the nearest span named `name` among `id` and its ancestors.
    pub(crate) find_named: fn(&Dispatch, &Id, &str) -> Option<Id>,
    /// Runs the closure on the span collector's record of span `id` (see
    /// [`crate::record`]); `false` when it has none.
    pub(crate) with_record: crate::record::WithRecording,
    /// Runs the first closure on the record and the second on the state of span `id`, in
    /// one visit; `false` when it has no state.
    pub(crate) with_record_and_state: crate::record::WithRecordAndState,
}

fn state_in<S>(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanState)) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return false;
    };
    let mut extensions = span.extensions_mut();
    match extensions.get_mut::<SpanState>() {
        Some(state) => {
            f(state);
            true
        }
        None => false,
    }
}

fn find_named_in<S>(dispatch: &Dispatch, id: &Id, name: &str) -> Option<Id>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    span.scope()
        .find(|s| s.metadata().name() == name)
        .map(|s| s.id())
}

/// The SDK's state hook of `dispatch`, when its subscriber contains a [`TraceContextLayer`].
pub(crate) fn state_hook(dispatch: &Dispatch) -> Option<StateHook> {
    dispatch.downcast_ref::<StateHook>().copied()
}

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

/// Draws from the thread's generator until `make` accepts the value (ids are never zero).
fn random_id<T>(make: impl Fn(&mut SmallRng) -> Option<T>) -> T {
    RNG.with(|rng| {
        let mut rng = rng.borrow_mut();
        loop {
            if let Some(id) = make(&mut rng) {
                return id;
            }
        }
    })
}

/// A random non-zero value from the same fast per-thread generator as span ids (seeded
/// from the OS); for identifiers such as request ids, not for secrets.
pub fn random_id_u128() -> u128 {
    random_id(|rng| std::num::NonZeroU128::new(rng.random())).get()
}

fn random_span_id() -> SpanId {
    random_id(|rng| SpanId::new(rng.random()))
}

fn random_trace_id() -> TraceId {
    random_id(|rng| TraceId::new(rng.random()))
}

/// The Datadog agent's latest sampling rate for this service (f64 bits), 1 until known.
static AGENT_RATE: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0x3FF0_0000_0000_0000);

/// Records the sampling rate the Datadog agent asked for (clamped to 0..=1); used by
/// [`RootSampler::AgentRate`].
pub fn set_agent_rate(rate: f64) {
    if rate.is_finite() {
        AGENT_RATE.store(
            rate.clamp(0.0, 1.0).to_bits(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// The Datadog agent's latest sampling rate.
pub fn agent_rate() -> f64 {
    f64::from_bits(AGENT_RATE.load(std::sync::atomic::Ordering::Relaxed))
}

/// The root decision of `sampler` for `trace_id`; ratio sampling reads the id's low 56
/// random bits so that every service makes the same decision for one trace.
pub fn sample_root(sampler: &Sampler, trace_id: TraceId) -> bool {
    let root = match sampler.root {
        RootSampler::AgentRate => RootSampler::TraceIdRatio(agent_rate()),
        other => other,
    };
    match root {
        RootSampler::AlwaysOn => true,
        RootSampler::AlwaysOff => false,
        RootSampler::TraceIdRatio(ratio) if ratio >= 1.0 => true,
        RootSampler::TraceIdRatio(ratio) if ratio > 0.0 => {
            const RANGE: u64 = 1 << 56;
            let threshold = (ratio * RANGE as f64) as u64;
            trace_id.low_u64() & (RANGE - 1) < threshold
        }
        RootSampler::TraceIdRatio(_) | RootSampler::AgentRate => false,
    }
}

struct IdFields<'a> {
    request_id: &'a mut Option<Arc<str>>,
    user_id: &'a mut Option<Box<str>>,
}

impl Visit for IdFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == REQUEST_ID_FIELD {
            *self.request_id = Some(value.into());
        } else if USER_ID_FIELDS.contains(&field.name()) {
            *self.user_id = Some(value.into());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if USER_ID_FIELDS.contains(&field.name()) {
            *self.user_id = Some(value.to_string().into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if USER_ID_FIELDS.contains(&field.name()) {
            *self.user_id = Some(value.to_string().into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == REQUEST_ID_FIELD || USER_ID_FIELDS.contains(&field.name()) {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

fn has_id_fields(fields: &tracing::field::FieldSet) -> bool {
    fields
        .iter()
        .any(|f| f.name() == REQUEST_ID_FIELD || USER_ID_FIELDS.contains(&f.name()))
}

impl<S> Layer<S> for TraceContextLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        self.hook = Some(StateHook {
            with_state: state_in::<S>,
            find_named: find_named_in::<S>,
            with_record: crate::spans::record_in::<S>,
            with_record_and_state: crate::spans::record_and_state_in::<S>,
        });
    }

    // SAFETY: each arm returns a pointer to a value of exactly the type `id` names (the
    // layer itself, or its `StateHook` field), borrowed from `self` — the contract `tracing`
    // relies on to cast it back (the pattern of tracing-error's `WithContext`).
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == TypeId::of::<StateHook>() {
            self.hook
                .as_ref()
                .map(|hook| std::ptr::from_ref(hook).cast())
        } else {
            None
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // Only the trace identity is inherited; request and user ids are found by walking
        // the scope when a line is logged, so nothing is copied per span.
        let inherited = span.parent().and_then(|parent| {
            parent.extensions().get::<SpanState>().map(|p| SpanState {
                trace_id: p.trace_id,
                span_id: random_span_id(),
                parent_span_id: Some(p.span_id),
                sampled: p.sampled,
                remote: p.remote.clone(),
                baggage: p.baggage.clone(),
                request_id: None,
                user_id: None,
                sampler: p.sampler,
                recording: crate::spans::RecordingSlot::default(),
            })
        });
        let mut state = match inherited {
            Some(state) => state,
            None => {
                let trace_id = random_trace_id();
                SpanState {
                    trace_id,
                    span_id: random_span_id(),
                    parent_span_id: None,
                    sampled: sample_root(&self.sampler, trace_id),
                    remote: None,
                    baggage: None,
                    request_id: None,
                    user_id: None,
                    sampler: self.sampler,
                    recording: crate::spans::RecordingSlot::default(),
                }
            }
        };
        if has_id_fields(attrs.metadata().fields()) {
            attrs.record(&mut IdFields {
                request_id: &mut state.request_id,
                user_id: &mut state.user_id,
            });
        }
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !has_id_fields(span.metadata().fields()) {
            return;
        }
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            values.record(&mut IdFields {
                request_id: &mut state.request_id,
                user_id: &mut state.user_id,
            });
        }
    }
}

/// Runs `f` on the state of `span`, if the span is enabled and the subscriber has the layer.
pub fn with_span_state<R>(span: &tracing::Span, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| with_state_of(dispatch, id, f))
        .flatten()
}

/// Runs `f` on the state of span `id` of `dispatch`.
pub(crate) fn with_state_of<R>(
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R> {
    with_state_via(state_hook(dispatch)?, dispatch, id, f)
}

/// Runs `f` on the state of span `id` of `dispatch`, through a hook already found.
pub(crate) fn with_state_via<R>(
    hook: StateHook,
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R> {
    let mut f = Some(f);
    let mut out = None;
    (hook.with_state)(dispatch, id, &mut |state| {
        if let Some(f) = f.take() {
            out = Some(f(state));
        }
    });
    out
}

/// Continues the remote trace `parent` in `span`: the span takes the parent's trace id and
/// (for parent-based samplers) its sampling decision. Call it before entering the span or
/// creating children. Returns `false` when the span is disabled.
pub fn set_parent(span: &tracing::Span, parent: &SpanContext) -> bool {
    with_span_state(span, |state| state.continue_remote(parent)).is_some()
}

/// Attaches `baggage` to `span` (and the children it creates afterwards); an empty
/// baggage removes it. Returns `false` when the span is disabled.
pub fn set_baggage(span: &tracing::Span, baggage: Baggage) -> bool {
    with_span_state(span, |state| {
        state.baggage = (!baggage.is_empty()).then(|| Arc::new(baggage));
    })
    .is_some()
}

/// The baggage of the current span.
pub fn current_baggage() -> Option<Arc<Baggage>> {
    with_span_state(&tracing::Span::current(), |state| state.baggage.clone()).flatten()
}

/// The context of `span`, to inject into outgoing requests.
pub fn span_context(span: &tracing::Span) -> Option<SpanContext> {
    with_span_state(span, |state| state.span_context())
}

/// The context of the current span.
pub fn current_span_context() -> Option<SpanContext> {
    span_context(&tracing::Span::current())
}

/// Records the user id on `span`, for its log lines and those of its children.
pub fn set_user_id(span: &tracing::Span, user_id: &str) -> bool {
    with_span_state(span, |state| state.user_id = Some(user_id.into())).is_some()
}

/// Records the request id on `span`, for its log lines and those of its children.
pub fn set_request_id(span: &tracing::Span, request_id: impl Into<Arc<str>>) -> bool {
    with_span_state(span, |state| state.request_id = Some(request_id.into())).is_some()
}

#[cfg(feature = "json-logs")]
/// Trace correlation of the span with `id`: its state, plus the nearest request and user
/// ids found on it or its ancestors.
pub(crate) fn correlation<S>(
    span: &tracing_subscriber::registry::SpanRef<'_, S>,
) -> Option<Correlation>
where
    S: for<'a> LookupSpan<'a>,
{
    let mut out: Option<Correlation> = None;
    for ancestor in span.scope() {
        let extensions = ancestor.extensions();
        let Some(state) = extensions.get::<SpanState>() else {
            continue;
        };
        let entry = out.get_or_insert(Correlation {
            trace_id: state.trace_id,
            span_id: state.span_id,
            request_id: None,
            user_id: None,
        });
        if entry.request_id.is_none() {
            entry.request_id.clone_from(&state.request_id);
        }
        if entry.user_id.is_none() {
            entry.user_id.clone_from(&state.user_id);
        }
        if entry.request_id.is_some() && entry.user_id.is_some() {
            break;
        }
    }
    out
}

#[cfg(feature = "json-logs")]
/// Ids a log line carries.
#[derive(Debug, Clone)]
pub(crate) struct Correlation {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) request_id: Option<Arc<str>>,
    pub(crate) user_id: Option<Box<str>>,
}
