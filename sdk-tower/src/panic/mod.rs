//! Panics in handlers turned into `500 Internal Server Error`, recorded on the request.
//!
//! [`CatchPanicLayer`] is its own layer: add it inside [`HttpServerLayer`](crate::HttpServerLayer)
//! (in axum, call `.layer(CatchPanicLayer::new())` before `.layer(HttpServerLayer::new())`)
//! and a panicking handler answers 500; the request span gets `error.type = panic`, an error
//! status and an ERROR event `handler panicked`; `http.server.panics` counts it by method
//! and route. The panic message is not exported: messages are built from whatever the code
//! had at hand — a token that failed to parse, a row that failed to decode — so they reach
//! the span and the log only when asked, with [`CatchPanicLayer::record_messages`]. The
//! process's panic hook still prints them (Rust's default hook writes them to stderr, which
//! a container runtime may ship with the logs): install a quieter hook if that matters. Without it, a panic unwinds into the server as it would without the SDK (the
//! request is then recorded as cancelled).
//!
//! The panic's source location needs a panic hook, a process-wide setting the SDK does not
//! change behind your back: call [`record_panic_locations`] once at startup to have it (the
//! hook chains whatever hook was there) and it appears as `error.stack`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sdk_tower::{CatchPanicLayer, HttpServerLayer};
//!
//! sdk_tower::panic::record_panic_locations();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "ok" }))
//!     .layer(CatchPanicLayer::new())
//!     .layer(HttpServerLayer::new());
//! ```

mod future;

pub use future::{CatchPanicFuture, PanicBody};

use std::any::Any;
use std::cell::RefCell;
use std::sync::Once;

/// The `error.type` of a request whose handler panicked.
pub(crate) const ERROR_TYPE: &str = "panic";

/// Marks a response made for a panicked handler, for the server layer's metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PanicCaught;

thread_local! {
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that remembers each panic's location for
/// [`CatchPanicLayer`], chaining the hook that was installed before.
pub fn record_panic_locations() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LAST_LOCATION.with(|last| *last.borrow_mut() = location);
            previous(info);
        }));
    });
}

/// The location recorded by the hook for this thread's last panic.
fn take_location() -> Option<String> {
    LAST_LOCATION.with(|last| last.borrow_mut().take())
}

/// The panic message, when the payload is a string.
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Catches panics of the inner service's future; see the [module](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer {
    record_messages: bool,
}

impl CatchPanicLayer {
    /// A layer answering 500 for a panicked handler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the panic message as the span's status message and the event's
    /// `panic.message` (off by default: a message may quote a secret or personal data).
    pub fn record_messages(mut self, enabled: bool) -> Self {
        self.record_messages = enabled;
        self
    }
}

impl<S> tower_layer::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic {
            inner,
            record_messages: self.record_messages,
        }
    }
}

/// The service of [`CatchPanicLayer`].
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
    record_messages: bool,
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for CatchPanic<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<PanicBody<ResBody>>;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let inner = self.inner.call(request);
        CatchPanicFuture::new(inner, self.record_messages)
    }
}
