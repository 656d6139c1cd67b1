//! What a request records when it ends: RED metrics and the active-requests gauge.
//!
//! The request runs as an [`Operation`](sdk_core::operation::Operation); this is its
//! [`OnFinish`]. A request whose response was never produced (the client went away, an outer
//! timeout) or whose body was dropped before its end ends as cancelled, with its duration.

use super::ServerConfig;
use crate::metrics_cache::{FinishedKey, RouteHandles};
use metrics::Gauge;
use sdk_core::operation::{Finished, OnFinish, Operation, Outcome};
use sdk_core::spans::AttrValue;
use std::sync::Arc;

/// The running request of the server layer.
pub(crate) type Request = Operation<ServerFinish>;

/// The `sdk.operation` label of server requests.
pub(crate) const OPERATION: &str = "http.server";

/// A request's measurements, filled in as it runs.
pub(crate) struct ServerFinish {
    pub(crate) config: Arc<ServerConfig>,
    /// The gauge raised for this request (`None`: metrics are off).
    pub(crate) active: Option<Gauge>,
    /// Size of the request body when known up front (`Content-Length` or an exact size hint).
    pub(crate) request_bytes: Option<u64>,
    /// Response bytes sent so far.
    pub(crate) response_bytes: u64,
    /// A HEAD request: servers drop its response body unread.
    pub(crate) head: bool,
    /// The response status, written on the span when the request ends.
    pub(crate) status_code: Option<u16>,
    /// The route's handles, bound on its first request.
    pub(crate) route: Arc<RouteHandles>,
    pub(crate) key: FinishedKey,
}

impl ServerFinish {
    /// Records a failure class for the metrics (the span's `error.type` is written by the
    /// outcome).
    pub(crate) fn fail(&mut self, error_type: &'static str) {
        self.key.error_type.get_or_insert(error_type);
    }
}

impl OnFinish for ServerFinish {
    fn cancelled_counter(&self) -> Option<metrics::Counter> {
        Some(self.config.handles.cancelled.handle(OPERATION))
    }

    fn on_finish(&mut self, span: &Finished<'_>, outcome: &Outcome) {
        if let Some(code) = self.status_code {
            span.record(|record| {
                record.set(
                    sdk_core::semconv::http::RESPONSE_STATUS_CODE,
                    AttrValue::I64(i64::from(code)),
                );
            });
        }
        let Some(active) = self.active.take() else {
            return;
        };
        if matches!(outcome, Outcome::Cancelled) {
            self.key.error_type = Some(sdk_core::semconv::error::CANCELLED);
        }
        let handles = self.route.finished(&self.key, self.config.scheme);
        handles.duration.record(span.elapsed().as_secs_f64());
        if let Some(bytes) = self.request_bytes {
            handles.request_size.record(bytes as f64);
        }
        handles.response_size.record(self.response_bytes as f64);
        active.decrement(1.0);
    }
}

/// Ends `request` with the failure class recorded so far (none: success).
pub(crate) fn end(request: &mut Request) {
    let outcome = match request.state_mut().and_then(|f| f.key.error_type) {
        Some(error_type) => Outcome::failed(error_type),
        None => Outcome::Ok,
    };
    request.finish_in_place(outcome);
}
