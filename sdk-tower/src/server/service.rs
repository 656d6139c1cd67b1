//! [`HttpServer`]: the service the layer produces.

use super::finish::{OPERATION, ServerFinish};
use super::future::{ResponseFuture, ResponseHeaders};
use super::{ServerConfig, is_redacted};
use crate::metrics_cache::FinishedKey;
use crate::request_id;
use http::{Request, Response, Version};
use http_body::Body;
use sdk_core::operation::Operation;
use sdk_core::propagation::w3c;
use sdk_core::semconv::{self, error, http as keys, network, request, server, url, user_agent};
use sdk_core::spans::{AttrValue, SpanKind};
use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};
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
        sdk_core::record::record_user_id_on(&self.0, SPAN_NAME, user_id)
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

/// The size of a request body known before it is read: its exact size hint (hyper reads
/// `Content-Length` into it), else a valid `Content-Length` header.
fn known_size<B: Body>(request: &Request<B>) -> Option<u64> {
    if let Some(exact) = request.body().size_hint().exact() {
        return Some(exact);
    }
    request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for HttpServer<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let original_method = request.method().as_str();
        let method = semconv::normalize_method(original_method);
        let route = config.handles.route(
            config
                .route
                .route_of(request.extensions(), request.uri())
                .as_deref(),
        );
        // One shared copy of the request id serves the span and the log lines; the echo is
        // the incoming header itself, or a slice of the response headers' one buffer.
        let incoming_id = request
            .headers()
            .get(&request_id::HEADER_NAME)
            .filter(|v| request_id::is_valid(v.as_bytes()))
            .and_then(|v| Some((v.to_str().ok()?, v)));
        let (request_id, incoming_id, generated_id): (Arc<str>, _, _) = match incoming_id {
            Some((text, header)) => (text.into(), Some(header.clone()), None),
            None => {
                let id = request_id::generate_bytes();
                (
                    std::str::from_utf8(&id).unwrap_or_default().into(),
                    None,
                    Some(id),
                )
            }
        };
        let protocol = protocol(request.version());

        let hook = if config.traces {
            sdk_core::record::RecordHook::current()
        } else {
            sdk_core::record::RecordHook::none()
        };
        let span = if !config.traces {
            tracing::Span::none()
        } else if hook.needs_fields() {
            // No SDK layer in the subscriber: every attribute becomes a span field.
            tracing::info_span!(
                SPAN_NAME,
                otel.name = Empty,
                otel.kind = Empty,
                otel.status_code = Empty,
                otel.status_message = Empty,
                http.request.method = Empty,
                http.request.method_original = Empty,
                http.route = Empty,
                http.response.status_code = Empty,
                url.path = Empty,
                url.scheme = Empty,
                url.query = Empty,
                server.address = Empty,
                server.port = Empty,
                network.protocol.version = Empty,
                request_id = Empty,
                user_agent.original = Empty,
                user.id = Empty,
                error.type = Empty,
                error.stack = Empty,
                rpc.grpc.status_code = Empty,
            )
        } else {
            // The SDK's stack: attributes go straight into the span's record through the
            // record hook; the few fields are for `Span::record` by the user's code.
            tracing::info_span!(
                SPAN_NAME,
                otel.status_code = Empty,
                otel.status_message = Empty,
                error.type = Empty,
                error.stack = Empty,
                rpc.grpc.status_code = Empty,
            )
        };
        let active = config
            .metrics
            .then(|| config.handles.active(method, config.scheme));
        if let Some(active) = &active {
            active.increment(1.0);
        }
        let finish = ServerFinish {
            config: Arc::clone(config),
            active,
            request_bytes: known_size(&request),
            response_bytes: 0,
            head: request.method() == http::Method::HEAD,
            status_code: None,
            route: Arc::clone(&route),
            key: FinishedKey {
                method,
                status: None,
                error_type: None,
                protocol,
            },
        };
        // The remote parent, baggage and ids are set in the same visit of the span as its
        // attributes (one lookup in the subscriber).
        let mut extracted = config
            .traces
            .then(|| config.propagator.extract(request.headers()));
        let span_request_id = Arc::clone(&request_id);
        let (operation, traceparent) = Operation::start_traced(
            hook,
            span,
            OPERATION,
            SpanKind::Server,
            finish,
            |record| {
                record.name_shared(route.span_name(method));
                record.push(keys::REQUEST_METHOD, AttrValue::Str(Cow::Borrowed(method)));
                if method == error::OTHER {
                    record.push(
                        keys::REQUEST_METHOD_ORIGINAL,
                        AttrValue::Str(Cow::Owned(original_method.to_owned())),
                    );
                }
                if let Some(route) = &route.route {
                    record.push(keys::ROUTE, AttrValue::Shared(Arc::clone(route)));
                }
                record.push(
                    url::PATH,
                    AttrValue::Str(Cow::Owned(request.uri().path().to_owned())),
                );
                record.push(url::SCHEME, AttrValue::Str(Cow::Borrowed(config.scheme)));
                if config.record_query
                    && let Some(query) = request.uri().query()
                {
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
                record.push(request::ID, AttrValue::Shared(span_request_id));
                if let Some(agent) = request
                    .headers()
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                {
                    record.push(
                        user_agent::ORIGINAL,
                        AttrValue::Str(Cow::Owned(agent.to_owned())),
                    );
                }
                for (name, key) in &config.headers {
                    if let Some(value) = request.headers().get(name) {
                        let text = if is_redacted(name) {
                            "[REDACTED]".to_owned()
                        } else {
                            String::from_utf8_lossy(value.as_bytes()).into_owned()
                        };
                        record.push(key, AttrValue::Str(Cow::Owned(text)));
                    }
                }
            },
            |state| {
                if let Some(extracted) = &mut extracted {
                    if let Some(parent) = &extracted.context {
                        state.continue_remote(parent);
                    }
                    if !extracted.baggage.is_empty() {
                        state.baggage = Some(Arc::new(std::mem::take(&mut extracted.baggage)));
                    }
                }
                state.request_id = Some(request_id);
                w3c::traceparent_bytes(state.trace_id, state.span_id, state.sampled)
            },
        );
        let mut headers = ResponseHeaders::new(traceparent.as_ref(), generated_id.as_ref());
        if incoming_id.is_some() {
            headers.request_id = incoming_id;
        }

        let future = {
            let _entered = operation.span().enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, operation, headers)
    }
}
