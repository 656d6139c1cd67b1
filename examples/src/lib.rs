//! The demo service: an axum application instrumented with the SDK.
//!
//! It initialises sdk-core from the environment, logs JSON, serves `/metrics` and a few
//! routes. Every request gets a server span named after its route template, continues an
//! incoming trace, answers with `traceparent`, and is measured in the catalogue's
//! `http.server.request.duration` and `http.server.active_requests`.

use axum::Router;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sdk_core::catalogue::{HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION};
use sdk_core::propagation::{Propagator, w3c};
use sdk_core::semconv::{self, error, http, url};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    propagator: Arc<Propagator>,
}

impl AppState {
    /// State using `propagator` for incoming and outgoing trace context.
    pub fn new(propagator: Propagator) -> Self {
        Self {
            propagator: Arc::new(propagator),
        }
    }
}

/// The demo router; `metrics` is mounted at `/metrics` when given.
pub fn app(state: AppState, metrics: Option<sdk_core::prometheus::MetricsService>) -> Router {
    let mut router = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/work", get(work))
        .route("/fail", get(fail));
    if let Some(metrics) = metrics {
        router = router.route_service("/metrics", metrics);
    }
    router
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn index() -> &'static str {
    "demo service: try /users/7, /work, /fail and /metrics\n"
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

async fn user(Path(id): Path<u64>) -> Result<axum::Json<User>, StatusCode> {
    tracing::info!(user.id = id, "user lookup");
    if id == 0 || id > 1000 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(axum::Json(User {
        id,
        name: format!("user-{id}"),
    }))
}

#[tracing::instrument]
async fn load_inventory(items: u32) -> u32 {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    tracing::info!(items, "inventory loaded");
    items * 2
}

async fn work() -> axum::Json<serde_json::Value> {
    let doubled = load_inventory(21).await;
    let trace_id = sdk_core::trace::current_span_context().map(|c| c.trace_id.to_hex());
    axum::Json(serde_json::json!({ "result": doubled, "trace_id": trace_id }))
}

async fn fail() -> Response {
    tracing::error!("simulated failure");
    (StatusCode::INTERNAL_SERVER_ERROR, "simulated failure\n").into_response()
}

/// Server span, trace continuation and RED metrics for every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = semconv::normalize_method(request.method().as_str());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "http.server.request",
        otel.name = semconv::http_span_name(method, route.as_deref()),
        otel.kind = "server",
        http.request.method = method,
        http.route = route.as_deref(),
        http.response.status_code = Empty,
        request_id = Empty,
    );
    let extracted = state.propagator.extract(request.headers());
    if let Some(parent) = &extracted.context {
        sdk_core::trace::set_parent(&span, parent);
    }
    let context = sdk_core::trace::span_context(&span);
    if let Some(context) = &context {
        span.record("request_id", context.span_id.to_hex());
    }

    let scheme: &'static str = "http";
    let active = HTTP_SERVER_ACTIVE_REQUESTS.gauge(&[
        (http::REQUEST_METHOD, method.into()),
        (url::SCHEME, scheme.into()),
    ]);
    active.increment(1.0);
    let start = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = start.elapsed().as_secs_f64();
    active.decrement(1.0);

    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    let mut labels = vec![
        (http::REQUEST_METHOD, method.into()),
        (
            http::RESPONSE_STATUS_CODE,
            status.as_str().to_owned().into(),
        ),
        (url::SCHEME, scheme.into()),
    ];
    if let Some(route) = route {
        labels.push((http::ROUTE, route.into()));
    }
    if status.is_server_error() {
        labels.push((error::TYPE, status.as_str().to_owned().into()));
    }
    HTTP_SERVER_REQUEST_DURATION
        .histogram(&labels)
        .record(elapsed);
    span.in_scope(|| {
        tracing::info!(
            duration_s = elapsed,
            status = status.as_u16(),
            "request finished"
        )
    });

    if let Some(context) = context
        && let Ok(value) = HeaderValue::try_from(w3c::traceparent(&context))
    {
        response.headers_mut().insert(w3c::TRACEPARENT, value);
    }
    response
}
