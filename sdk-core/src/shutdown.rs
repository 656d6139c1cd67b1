//! Waiting for the signal that ends a service, for graceful shutdown.
//!
//! Kubernetes, systemd and `docker stop` end a process with SIGTERM, a terminal with
//! SIGINT (Ctrl-C). By default SIGTERM kills a Rust process on the spot: requests in flight
//! are cut off and the spans, metrics and logs queued for export are lost.
//! [`shutdown_signal`] completes on the first SIGTERM or SIGINT instead, so the server
//! can stop accepting connections, finish the requests it has, and then
//! [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) can deliver what was
//! recorded. (Kubernetes sends SIGKILL after `terminationGracePeriodSeconds`, 30 s by
//! default: keep `OTEL_BSP_EXPORT_TIMEOUT` plus the longest request below it.) Close
//! database pools before that: a span can outlive its request on a driver's thread
//! (sqlx's SQLite worker holds the query span until its next command), and only spans
//! that have ended can be delivered.
//!
//! On Unix both signals are handled; elsewhere only Ctrl-C. The futures must run inside a
//! Tokio runtime with IO enabled (`#[tokio::main]` is); they never panic: a handler that
//! cannot be installed is logged and the others are still waited for, and when none can
//! be (no runtime, IO disabled), the future logs an error and never completes.
//!
//! ```no_run
//! # #[cfg(all(feature = "json-logs", feature = "prometheus"))]
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = sdk_core::init_from_env()?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(sdk_core::shutdown::shutdown_signal())
//!     .await?;
//! // Requests in flight have finished: deliver what they recorded, then exit 0.
//! telemetry.shutdown();
//! # Ok(()) }
//! # #[cfg(not(all(feature = "json-logs", feature = "prometheus")))]
//! # fn main() {}
//! ```

use std::fmt;

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM: Kubernetes, systemd, `docker stop`, `kill`.
    Terminate,
    /// SIGINT: Ctrl-C in a terminal (on Windows, the Ctrl-C event).
    Interrupt,
}

impl Signal {
    /// The conventional name: `SIGTERM`, `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A future completing on the first SIGTERM or SIGINT (Ctrl-C), after logging one INFO
/// line naming it: what graceful-shutdown APIs take (axum's `with_graceful_shutdown`,
/// tonic's `serve_with_shutdown`). [`wait_for_signal`] also says which signal it was.
///
/// The handlers are installed by this call, not on the first poll, so call it before
/// the service starts listening: from then on SIGTERM no longer kills the process.
/// Never panics; see the [module documentation](self) for what happens when no handler
/// can be installed (the future then never completes).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let signal = wait_for_signal();
    async move {
        signal.await;
    }
}

/// Like [`shutdown_signal`], with the signal that arrived: logs
/// `received SIGTERM, shutting down` (field `signal`) at INFO and completes with it.
pub fn wait_for_signal() -> impl Future<Output = Signal> + Send + 'static {
    let handlers = platform::install_all();
    async move {
        let signal = platform::wait(handlers).await;
        let name = signal.name();
        tracing::info!(target: "sdk_core::shutdown", signal = name, "received {name}, shutting down");
        signal
    }
}

/// Installs a handler, turning a panic (no Tokio runtime, IO disabled) into an error.
fn install<T>(name: &'static str, register: impl FnOnce() -> std::io::Result<T>) -> Option<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::error!(target: "sdk_core::shutdown", signal = name, "cannot listen for {name}: not inside a Tokio runtime");
        return None;
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(register)) {
        Ok(Ok(handler)) => Some(handler),
        Ok(Err(err)) => {
            tracing::error!(target: "sdk_core::shutdown", signal = name, error = %err, "cannot listen for {name}");
            None
        }
        Err(_) => {
            tracing::error!(target: "sdk_core::shutdown", signal = name, "cannot listen for {name}: the Tokio runtime has IO disabled (`enable_io`/`enable_all`)");
            None
        }
    }
}

/// Waits forever, after saying why.
async fn never() -> Signal {
    tracing::error!(target: "sdk_core::shutdown", "no shutdown signal handler could be installed; graceful shutdown will not be triggered by signals");
    std::future::pending().await
}

#[cfg(unix)]
mod platform {
    use super::{Signal, install, never};
    use std::task::Poll;
    use tokio::signal::unix::{SignalKind, signal};

    pub(super) type Handlers = Vec<(Signal, tokio::signal::unix::Signal)>;

    pub(super) fn install_all() -> Handlers {
        [
            (Signal::Terminate, SignalKind::terminate()),
            (Signal::Interrupt, SignalKind::interrupt()),
        ]
        .into_iter()
        .filter_map(|(which, kind)| install(which.name(), || signal(kind)).map(|h| (which, h)))
        .collect()
    }

    pub(super) async fn wait(mut handlers: Handlers) -> Signal {
        if handlers.is_empty() {
            return never().await;
        }
        std::future::poll_fn(|cx| {
            for (which, handler) in &mut handlers {
                // `None` would mean the handler's stream ended, which tokio never does;
                // that signal is then simply not waited for any more.
                if let Poll::Ready(Some(())) = handler.poll_recv(cx) {
                    return Poll::Ready(*which);
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(windows)]
mod platform {
    use super::{Signal, install, never};

    pub(super) type Handlers = Option<tokio::signal::windows::CtrlC>;

    pub(super) fn install_all() -> Handlers {
        install(Signal::Interrupt.name(), tokio::signal::windows::ctrl_c)
    }

    pub(super) async fn wait(handlers: Handlers) -> Signal {
        let Some(mut ctrl_c) = handlers else {
            return never().await;
        };
        match ctrl_c.recv().await {
            Some(()) => Signal::Interrupt,
            None => never().await,
        }
    }
}

#[cfg(not(any(unix, windows)))]
mod platform {
    use super::{Signal, never};

    pub(super) type Handlers = ();

    pub(super) fn install_all() -> Handlers {
        tracing::error!(target: "sdk_core::shutdown", "this platform has no signals to listen for");
    }

    pub(super) async fn wait((): Handlers) -> Signal {
        never().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_static<F: std::future::Future + Send + 'static>(_: F) {}

    #[test]
    fn futures_fit_graceful_shutdown_apis() {
        // Not polled: only the bounds axum and tonic put on the future are checked
        // (outside a runtime no handler is installed, so no signal is taken over).
        assert_send_static(shutdown_signal());
        assert_send_static(wait_for_signal());
    }

    #[test]
    fn names() {
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
        assert_eq!(Signal::Interrupt.name(), "SIGINT");
    }

    #[test]
    fn outside_a_runtime_it_waits_forever_instead_of_panicking() {
        let mut future = std::pin::pin!(wait_for_signal());
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }

    #[test]
    fn with_io_disabled_it_waits_forever_instead_of_panicking() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime without drivers");
        let _guard = runtime.enter();
        let mut future = std::pin::pin!(wait_for_signal());
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }

    /// SIGTERM sent to this very process: the handler takes it (the process lives on)
    /// and the future completes with it, logging one INFO line. Only this test sends a
    /// signal, and the handler stays installed afterwards, so a stray SIGTERM cannot
    /// kill the other tests of this binary either.
    #[cfg(all(unix, feature = "testing"))]
    #[test]
    fn sigterm_completes_it_with_one_info_line() {
        let logs = crate::testing::CapturedLogs::default();
        let subscriber = logs.subscriber(&crate::config::ServiceInfo::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let received = tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async {
                let signal = wait_for_signal();
                let sent = std::process::Command::new("kill")
                    .args(["-TERM", &std::process::id().to_string()])
                    .status()
                    .expect("kill runs");
                assert!(sent.success());
                tokio::time::timeout(std::time::Duration::from_secs(60), signal).await
            })
        });
        assert_eq!(
            received.expect("SIGTERM arrives within 60 s"),
            Signal::Terminate
        );
        let lines: Vec<_> = logs
            .lines()
            .into_iter()
            .filter(|l| l["target"] == "sdk_core::shutdown")
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["message"], "received SIGTERM, shutting down");
        assert_eq!(lines[0]["fields"]["signal"], "SIGTERM");
    }
}
