//! The demo service: an axum application instrumented with the SDK.
//!
//! Every route runs under [`sdk_tower::HttpServerLayer`] (span named after the route
//! template, trace continuation, `traceparent` and `Server-Timing` on the answer, request
//! id, RED metrics). `/chain` calls `/users/{id}` on the same service through the
//! instrumented reqwest client, so one trace spans two server spans and a client span.
//! `/health/live` and `/health/ready` answer with JSON; `/metrics` with Prometheus text.
//! `/users/{id}` reads the database through [`sdk_sqlx::InstrumentedPool`] (SQLite by
//! default, PostgreSQL with `DATABASE_URL`); `/slow` runs a deliberately slow query.

pub mod db;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sdk_core::propagation::Propagator;
use sdk_tower::health::{Health, check};
use sdk_tower::{HttpServerLayer, RequestSpan, ReqwestMiddleware};
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    propagator: Propagator,
    client: reqwest_middleware::ClientWithMiddleware,
    /// `http://host:port` of this service, known once it listens.
    base_url: Arc<OnceLock<String>>,
    db: db::Database,
}

impl AppState {
    /// State using `propagator` for incoming and outgoing trace context and `db` for data.
    pub fn new(propagator: Propagator, db: db::Database) -> Self {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ReqwestMiddleware::new(propagator.clone()))
            .build();
        Self {
            propagator,
            client,
            base_url: Arc::new(OnceLock::new()),
            db,
        }
    }

    /// Records where this service listens, for `/chain`.
    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }
}

/// The demo router; `metrics` is mounted at `/metrics` when given.
pub fn app(state: AppState, metrics: Option<sdk_core::prometheus::MetricsService>) -> Router {
    let database = state.db.clone();
    let health = Health::new()
        .with_check(check("self", || async { Ok(()) }))
        .with_check(check(state.db.system(), move || {
            database.ping(std::time::Duration::from_secs(1))
        }));
    let mut router = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/work", get(work))
        .route("/slow", get(slow))
        .route("/fail", get(fail))
        .route("/chain", get(chain))
        .route_service("/health/live", health.liveness())
        .route_service("/health/ready", health.readiness());
    if let Some(metrics) = metrics {
        router = router.route_service("/metrics", metrics);
    }
    router
        .layer(HttpServerLayer::new(state.propagator.clone()))
        .with_state(state)
}

async fn index() -> &'static str {
    "demo service: try /users/7, /work, /slow, /chain, /fail, /health/ready and /metrics\n"
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

async fn user(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    span: RequestSpan,
) -> Result<axum::Json<User>, StatusCode> {
    span.record_user_id(&format!("user-{id}"));
    tracing::info!(user.id = id, "user lookup");
    let key = i64::try_from(id).map_err(|_| StatusCode::NOT_FOUND)?;
    match state.db.user_name(key).await {
        Ok(Some(name)) => Ok(axum::Json(User { id, name })),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(err) => {
            tracing::error!(error = %err, "user query failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn slow(State(state): State<AppState>) -> Response {
    let started = std::time::Instant::now();
    match state.db.slow().await {
        Ok(count) => axum::Json(serde_json::json!({
            "rows": count,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }))
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "slow query failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "query failed\n").into_response()
        }
    }
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

async fn chain(State(state): State<AppState>) -> Response {
    let Some(base) = state.base_url.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not listening yet\n").into_response();
    };
    match state.client.get(format!("{base}/users/7")).send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap_or_default();
            tracing::info!(downstream.status = status, "chained call done");
            axum::Json(serde_json::json!({ "downstream_status": status, "downstream": body }))
                .into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "chained call failed");
            (StatusCode::BAD_GATEWAY, "downstream failed\n").into_response()
        }
    }
}

async fn fail() -> Response {
    tracing::error!("simulated failure");
    (StatusCode::INTERNAL_SERVER_ERROR, "simulated failure\n").into_response()
}
