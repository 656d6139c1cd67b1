//! [`HttpServer`]: the service the layer produces.

use super::body::RewrapBody;
use super::future::{Finish, ResponseFuture};
use super::{HttpServerLayer, ServerConfig};
use crate::classify::status_text;
use crate::metrics_cache::FinishedKey;
use crate::request_id;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use sdk_core::propagation::w3c;
use sdk_core::semconv::{self, error, http as keys, network, request, server, url, user_agent};
use sdk_core::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::field::Empty;

/// A service whose every request is traced, measured and correlated.
#[derive(Clone)]
pub struct HttpServer<S> {
    inner: S,
    config: Arc<ServerConfig>,
}

impl<S> std::fmt::Debug for HttpServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer").finish_non_exhaustive()
    }
}

impl<S> HttpServer<S> {
    pub(crate) fn new(inner: S, config: Arc<ServerConfig>) -> Self {
        Self { inner, config }
    }
}

/// The name of the server span, by which handlers find it among their spans.
pub(crate) const SPAN_NAME: &str = "http.server.request";

/// Access to the request's server span from inside a handler, to record a user id.
///
/// In axum it is an extractor (`async fn handler(span: RequestSpan)`); elsewhere
/// [`RequestSpan::current`] finds it. Nothing is stored per request for it: the server span
/// is looked up among the current span's ancestors when something is recorded.
#[derive(Debug, Clone)]
pub struct RequestSpan(tracing::Span);

impl RequestSpan {
    /// The server span of the request being handled (the current span or an ancestor).
    pub fn current() -> Self {
        Self(tracing::Span::current())
    }

    /// Records the user id on the request span: it appears as `user.id` on the span and
    /// `user_id` in every later log line of the request. Returns `false` outside a request.
    pub fn record_user_id(&self, user_id: &str) -> bool {
        sdk_core::spans::record_user_id_on(&self.0, SPAN_NAME, user_id)
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestSpan {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::current())
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => error::OTHER,
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for HttpServer<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: RewrapBody,
{
    type Response = Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let started = Instant::now();
        let original_method = request.method().as_str();
        let method = semconv::normalize_method(original_method);
        let route: Option<Arc<str>> = config.route.route_of(request.extensions(), request.uri());
        // One shared copy of the request id serves the span, the log lines and the echo.
        let (request_id, request_id_header): (Arc<str>, Option<HeaderValue>) = match request
            .headers()
            .get(&request_id::HEADER_NAME)
            .filter(|v| request_id::is_valid(v.as_bytes()))
            .and_then(|v| Some((v.to_str().ok()?, v)))
        {
            Some((text, header)) => (text.into(), Some(header.clone())),
            None => {
                let id = request_id::generate_bytes();
                (
                    std::str::from_utf8(&id).unwrap_or_default().into(),
                    HeaderValue::from_bytes(&id).ok(),
                )
            }
        };
        let protocol = protocol(request.version());
        let user_agent = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let query = if config.record_query {
            request.uri().query()
        } else {
            None
        };

        // The span's fields are placeholders for the rare paths (errors, panics, gRPC); the
        // OpenTelemetry attributes go straight into the span's record and the request id into
        // its trace state, without field visitors or copies of static values.
        let span = if !config.traces {
            tracing::Span::none()
        } else {
            tracing::info_span!(
                SPAN_NAME,
                otel.status_code = Empty,
                otel.status_message = Empty,
                error.type = Empty,
                error.stack = Empty,
                rpc.grpc.status_code = Empty,
            )
        };
        sdk_core::spans::with_record(&span, |record| {
            record.name_shared(config.handles.span_name(method, route.as_ref()));
            record.kind(SpanKind::Server);
            record.push(keys::REQUEST_METHOD, AttrValue::Str(Cow::Borrowed(method)));
            if method == error::OTHER {
                record.push(
                    keys::REQUEST_METHOD_ORIGINAL,
                    AttrValue::Str(Cow::Owned(original_method.to_owned())),
                );
            }
            if let Some(route) = &route {
                record.push(keys::ROUTE, AttrValue::Shared(Arc::clone(route)));
            }
            record.push(
                url::PATH,
                AttrValue::Str(Cow::Owned(request.uri().path().to_owned())),
            );
            record.push(url::SCHEME, AttrValue::Str(Cow::Borrowed(config.scheme)));
            if let Some(query) = query {
                record.push(url::QUERY, AttrValue::Str(Cow::Owned(query.to_owned())));
            }
            if let Some((host, port)) = &config.server_address {
                record.push(server::ADDRESS, AttrValue::Shared(Arc::clone(host)));
                record.push(server::PORT, AttrValue::I64(i64::from(*port)));
            }
            record.push(
                network::PROTOCOL_VERSION,
                AttrValue::Str(Cow::Borrowed(protocol)),
            );
            record.push(request::ID, AttrValue::Shared(Arc::clone(&request_id)));
            if let Some(agent) = user_agent {
                record.push(
                    user_agent::ORIGINAL,
                    AttrValue::Str(Cow::Owned(agent.to_owned())),
                );
            }
            for (name, key) in &config.headers {
                if let Some(value) = request.headers().get(name) {
                    let text = if HttpServerLayer::is_redacted(name) {
                        "[REDACTED]".to_owned()
                    } else {
                        String::from_utf8_lossy(value.as_bytes()).into_owned()
                    };
                    record.push(key, AttrValue::Str(Cow::Owned(text)));
                }
            }
        });
        let traceparent = if config.traces {
            let extracted = config.propagator.extract(request.headers());
            if let Some(parent) = &extracted.context {
                sdk_core::trace::set_parent(&span, parent);
            }
            sdk_core::trace::with_span_state(&span, |state| {
                state.request_id = Some(request_id);
                w3c::traceparent_bytes(state.trace_id, state.span_id, state.sampled)
            })
            .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
        } else {
            None
        };

        let active = config
            .metrics
            .then(|| config.handles.active(method, config.scheme));
        if let Some(active) = &active {
            active.increment(1.0);
        }
        // A body that is over before it starts (most GETs) is not wrapped.
        let (request_bytes, request) = if request.body().is_end_stream() {
            (None, request)
        } else {
            let counter = Arc::new(AtomicU64::new(0));
            let request = request.map(|body| body.counted(Arc::clone(&counter)));
            (Some(counter), request)
        };

        let finish = Finish {
            config: Arc::clone(config),
            span,
            started,
            active,
            request_bytes,
            key: FinishedKey {
                method,
                route,
                status: status_text(StatusCode::OK),
                error_type: None,
                protocol,
            },
            grpc: None,
        };
        let future = {
            let _entered = finish.span.enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, finish, traceparent, request_id_header)
    }
}
