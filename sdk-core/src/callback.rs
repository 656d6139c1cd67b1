//! Calls into the user's code from inside the SDK: a panic there never takes the request,
//! the export thread or the process down.
//!
//! A response classifier, a health check, a cache loader and a span exporter are the
//! user's code run by the SDK. Each call goes through [`call`] (or [`call_future`] for a
//! future): a panic is caught, counted in `sdk.callback.panics` by [`Callback`], logged at
//! ERROR (target `sdk_core::callback`, without the panic message) and handed back as a
//! [`CallbackPanic`]. What happens next is the caller's policy, written where it is
//! decided: the classifier falls back to the default classification, the health check
//! reports `fail`, the exporter drops the batch, the cache loader resumes the panic to its
//! own caller once the cache is clean ([`CallbackPanic::resume`]).
//!
//! The process's panic hook still runs (and prints the message, to stderr by default) as
//! for any panic: the SDK does not change process-wide settings behind the application's
//! back. The message itself goes to no telemetry and no response: it is built from whatever
//! the code had at hand, a token or a customer's row as likely as anything. A binary built
//! with `panic = "abort"` cannot catch anything: there a panic ends the process as it
//! always does.
//!
//! ```
//! use sdk_core::callback::{Callback, call};
//!
//! let answer = call(Callback::Classifier, || -> bool { panic!("bad classifier") });
//! let panic = answer.unwrap_err();
//! assert_eq!(panic.message(), "bad classifier");
//! assert_eq!(panic.callback(), Callback::Classifier);
//! ```

use crate::catalogue::CALLBACK_PANICS;
use crate::semconv::sdk;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;

/// Which kind of user callback panicked: the `sdk.callback` label of
/// `sdk.callback.panics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Callback {
    /// A response classifier (`ClassifyStatus`) of the HTTP layers.
    Classifier,
    /// A readiness health check.
    HealthCheck,
    /// The loader of a cache-aside lookup.
    CacheLoader,
    /// A span exporter on its export thread.
    Exporter,
    /// An authorization hook (the on-demand profile route's): the request is refused.
    Authorizer,
}

impl Callback {
    /// The label value (`classifier`, `health_check`, `cache_loader`, `exporter`,
    /// `authorizer`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Classifier => "classifier",
            Self::HealthCheck => "health_check",
            Self::CacheLoader => "cache_loader",
            Self::Exporter => "exporter",
            Self::Authorizer => "authorizer",
        }
    }

    /// This callback's `sdk.callback.panics` handle, registered with the current recorder.
    /// Take it ahead of time where the call runs on a thread of the SDK's own (an export
    /// worker), and pass it to [`call_counting`].
    pub fn panics_counter(self) -> metrics::Counter {
        CALLBACK_PANICS.counter(&[(
            sdk::CALLBACK,
            metrics::SharedString::const_str(self.as_str()),
        )])
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A panic caught in a user callback (already counted and logged). Its `Display` names
/// the callback, not the message.
pub struct CallbackPanic {
    callback: Callback,
    payload: Box<dyn Any + Send>,
}

impl CallbackPanic {
    fn caught(callback: Callback, payload: Box<dyn Any + Send>, panics: &metrics::Counter) -> Self {
        panics.increment(1);
        let caught = Self { callback, payload };
        #[cfg(feature = "tracing")]
        tracing::error!(
            target: "sdk_core::callback",
            callback = callback.as_str(),
            "user callback panicked; the SDK carries on (the message is in the panic hook's output)"
        );
        caught
    }

    /// Which callback panicked.
    pub fn callback(&self) -> Callback {
        self.callback
    }

    /// The panic message (`panic with a non-string payload` when it is not a string). It
    /// may quote anything the callback held: the SDK never records it.
    pub fn message(&self) -> &str {
        panic_message(self.payload.as_ref())
    }

    /// Continues the panic in the caller (without running the panic hook again).
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.payload)
    }
}

impl std::fmt::Debug for CallbackPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackPanic")
            .field("callback", &self.callback)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for CallbackPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} panicked", self.callback)
    }
}

impl std::error::Error for CallbackPanic {}

/// The message of a panic payload, when it is a string.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "panic with a non-string payload"
    }
}

/// Runs the user's `f`; a panic is caught, counted with the current recorder and logged.
pub fn call<R>(callback: Callback, f: impl FnOnce() -> R) -> Result<R, CallbackPanic> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| CallbackPanic::caught(callback, payload, &callback.panics_counter()))
}

/// [`call`], counting in `panics` (a handle from [`Callback::panics_counter`]).
pub fn call_counting<R>(
    callback: Callback,
    panics: &metrics::Counter,
    f: impl FnOnce() -> R,
) -> Result<R, CallbackPanic> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| CallbackPanic::caught(callback, payload, panics))
}

/// Awaits the user's `future`; a panic in any of its polls is caught, counted with the
/// recorder current at that poll and logged. Build the future inside an `async` block
/// (`call_future(cb, async { user.check().await })`) to catch a panic of the call that
/// makes it too.
pub async fn call_future<F: Future>(
    callback: Callback,
    future: F,
) -> Result<F::Output, CallbackPanic> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(CallbackPanic::caught(
                callback,
                payload,
                &callback.panics_counter(),
            ))),
        },
    )
    .await
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{RecordedValue, capture_metrics};

    fn panics(recorded: &[crate::testing::RecordedMetric], callback: &str) -> u64 {
        recorded
            .iter()
            .filter(|m| m.name == "sdk.callback.panics")
            .filter(|m| m.labels == [("sdk.callback".to_owned(), callback.to_owned())])
            .map(|m| match m.value {
                RecordedValue::Counter(n) => n,
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn a_panic_is_caught_counted_and_kept_for_the_caller() {
        let recorded = capture_metrics(|| {
            assert_eq!(call(Callback::Classifier, || 7).unwrap(), 7);
            let caught = call(Callback::Classifier, || -> u8 {
                std::panic::panic_any(format!("bad {}", 42))
            })
            .unwrap_err();
            assert_eq!(caught.message(), "bad 42");
            assert_eq!(caught.to_string(), "classifier panicked");
            let odd = call(Callback::Classifier, || -> u8 {
                std::panic::panic_any(3u8)
            });
            assert_eq!(
                odd.unwrap_err().message(),
                "panic with a non-string payload"
            );
        });
        assert_eq!(panics(&recorded, "classifier"), 2, "{recorded:?}");
    }

    #[test]
    fn a_future_that_panics_in_a_later_poll_is_caught() {
        let recorded = capture_metrics(|| {
            let mut polls = 0;
            let future = std::future::poll_fn(|cx| {
                polls += 1;
                if polls < 3 {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                panic!("third poll");
            });
            let outcome: Result<(), _> = block_on(call_future(Callback::HealthCheck, future));
            assert_eq!(outcome.unwrap_err().message(), "third poll");
            assert_eq!(
                block_on(call_future(Callback::HealthCheck, async { 5 })).unwrap(),
                5
            );
        });
        assert_eq!(panics(&recorded, "health_check"), 1, "{recorded:?}");
    }

    #[test]
    fn resume_continues_the_panic_with_its_payload() {
        let caught = call(Callback::CacheLoader, || -> () { panic!("loader") }).unwrap_err();
        let resumed = std::panic::catch_unwind(AssertUnwindSafe(|| caught.resume())).unwrap_err();
        assert_eq!(panic_message(resumed.as_ref()), "loader");
    }

    /// Polls `future` on this thread until it is ready (it wakes itself when pending).
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }
}
