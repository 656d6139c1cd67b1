//! Outbound HTTP: a client span per request, the configured propagation headers, and
//! `http.client.request.duration`. [`HttpClientLayer`] wraps any tower HTTP client (hyper's
//! included); [`ReqwestMiddleware`] (feature `reqwest`) plugs into `reqwest-middleware`.

mod layer;
#[cfg(feature = "reqwest")]
mod reqwest_middleware;

pub use layer::{ClientFuture, HttpClient, HttpClientLayer};
#[cfg(feature = "reqwest")]
pub use reqwest_middleware::ReqwestMiddleware;

use crate::classify::{ClassifyStatus, ClientErrors, is_error_or_default, status_text};
use metrics::SharedString;
use sdk_core::catalogue::HTTP_CLIENT_REQUEST_DURATION;
use sdk_core::operation::{CancelledCounter, Finished, OnFinish, Operation, Outcome};
use sdk_core::propagation::Propagator;
use sdk_core::semconv::{self, error, http as keys, server, url};
use sdk_core::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::sync::Arc;
use tracing::field::Empty;

/// What both client integrations share.
#[derive(Clone)]
pub(crate) struct ClientConfig {
    pub(crate) propagator: Propagator,
    pub(crate) classify: Arc<dyn ClassifyStatus>,
    cancelled: Arc<CancelledCounter>,
}

impl ClientConfig {
    /// The propagation formats `sdk_core::init` configured.
    pub(crate) fn configured() -> Self {
        Self {
            propagator: sdk_core::global::propagator(),
            classify: Arc::new(ClientErrors),
            cancelled: Arc::default(),
        }
    }

    pub(crate) fn classify_with(mut self, classify: impl ClassifyStatus) -> Self {
        self.classify = Arc::new(classify);
        self
    }
}

/// The `sdk.operation` label of outbound calls.
const OPERATION: &str = "http.client";

/// What an outbound call records when it ends.
pub(crate) struct ClientFinish {
    cancelled: Arc<CancelledCounter>,
    method: &'static str,
    host: Option<String>,
    port: Option<u16>,
    scheme: &'static str,
    status: Option<http::StatusCode>,
}

impl OnFinish for ClientFinish {
    fn cancelled_counter(&self) -> Option<metrics::Counter> {
        Some(self.cancelled.handle(OPERATION))
    }

    fn on_finish(&mut self, finished: &Finished<'_>, outcome: &Outcome) {
        let duration = finished.elapsed();
        let mut labels: Vec<(&'static str, SharedString)> = vec![
            (keys::REQUEST_METHOD, SharedString::const_str(self.method)),
            (url::SCHEME, SharedString::const_str(self.scheme)),
        ];
        if let Some(host) = self.host.take() {
            labels.push((server::ADDRESS, host.into()));
        }
        if let Some(port) = self.port {
            labels.push((server::PORT, port.to_string().into()));
        }
        if let Some(status) = self.status {
            labels.push((
                keys::RESPONSE_STATUS_CODE,
                SharedString::const_str(status_text(status)),
            ));
        }
        if let Some(error_type) = outcome.error_type() {
            labels.push((error::TYPE, SharedString::from_owned(error_type.to_owned())));
        }
        HTTP_CLIENT_REQUEST_DURATION
            .histogram(&labels)
            .record(duration.as_secs_f64());
    }
}

/// One outbound request in flight; dropped before its response, it ends as cancelled.
pub(crate) struct ClientCall {
    operation: Operation<ClientFinish>,
    classify: Arc<dyn ClassifyStatus>,
}

impl ClientCall {
    /// Starts the client span and writes the propagation headers (trace context and the
    /// current baggage) into `headers`.
    pub(crate) fn start(
        config: &ClientConfig,
        method: &http::Method,
        uri: &http::Uri,
        headers: &mut http::HeaderMap,
    ) -> Self {
        let method = semconv::normalize_method(method.as_str());
        let scheme = if uri.scheme_str() == Some("https") {
            "https"
        } else {
            "http"
        };
        let host = uri.host().map(str::to_owned);
        let port = uri.port_u16().or(match scheme {
            "https" => Some(443),
            _ => Some(80),
        });
        let hook = sdk_core::record::RecordHook::current();
        let span = if hook.needs_fields() {
            // No SDK layer in the subscriber: the attributes become span fields.
            tracing::info_span!(
                "http.client.request",
                otel.name = Empty,
                otel.kind = Empty,
                otel.status_code = Empty,
                otel.status_message = Empty,
                http.request.method = Empty,
                http.response.status_code = Empty,
                server.address = Empty,
                server.port = Empty,
                url.full = Empty,
                error.type = Empty,
            )
        } else {
            tracing::info_span!(
                "http.client.request",
                otel.status_code = Empty,
                otel.status_message = Empty,
            )
        };
        let finish = ClientFinish {
            cancelled: Arc::clone(&config.cancelled),
            method,
            host,
            port,
            scheme,
            status: None,
        };
        let (operation, propagated) = Operation::start_traced(
            hook,
            span,
            OPERATION,
            SpanKind::Client,
            finish,
            |record| {
                record.name(&semconv::http_span_name(method, None));
                record.push(keys::REQUEST_METHOD, AttrValue::Str(Cow::Borrowed(method)));
                if let Some(host) = uri.host() {
                    record.push(server::ADDRESS, AttrValue::Str(Cow::Owned(host.to_owned())));
                }
                if let Some(port) = port {
                    record.push(server::PORT, AttrValue::I64(i64::from(port)));
                }
                // url.full without the query string, which may carry secrets.
                record.push(
                    url::FULL,
                    AttrValue::Str(Cow::Owned(format!(
                        "{scheme}://{}{}",
                        uri.authority().map_or("", |a| a.as_str()),
                        uri.path()
                    ))),
                );
            },
            |state| (state.span_context(), state.baggage.clone()),
        );
        if let Some((context, baggage)) = propagated {
            let baggage = baggage.unwrap_or_default();
            config.propagator.inject(&context, &baggage, headers);
        }
        Self {
            operation,
            classify: Arc::clone(&config.classify),
        }
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        self.operation.span()
    }

    /// Records the outcome: a status, or a transport error.
    pub(crate) fn finish(mut self, status: Result<http::StatusCode, &'static str>) {
        let outcome = match status {
            Ok(status) => {
                self.operation.record(|record| {
                    record.set(
                        keys::RESPONSE_STATUS_CODE,
                        AttrValue::I64(i64::from(status.as_u16())),
                    );
                });
                if let Some(state) = self.operation.state_mut() {
                    state.status = Some(status);
                }
                if is_error_or_default(&*self.classify, ClientErrors, status) {
                    Outcome::failed(status_text(status))
                } else {
                    Outcome::Ok
                }
            }
            Err(kind) => Outcome::failed(kind),
        };
        self.operation.finish(outcome);
    }
}
