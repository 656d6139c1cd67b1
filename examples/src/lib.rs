//! The demo service: an axum application instrumented with the SDK.
//!
//! Every route runs under [`sdk_tower::HttpServerLayer`] (span named after the route
//! template, trace continuation, `traceparent` and `Server-Timing` on the answer, request
//! id, RED metrics). `/chain` calls `/users/{id}` on the same service through the
//! instrumented reqwest client, so one trace spans two server spans and a client span.
//! `/health/live` and `/health/ready` answer with JSON; `/metrics` with Prometheus text.
//! `/users/{id}` reads the database through [`sdk_sqlx::InstrumentedPool`] (SQLite by
//! default, PostgreSQL with `DATABASE_URL`); `/slow` runs a deliberately slow query.
//! `/cached/users/{id}` answers through [`sdk_redis::Cache`] when Redis is reachable
//! (`REDIS_URL`, else the default port), straight from the database otherwise.
//! `POST /rum` ingests browser beacons into web-vital histograms on `/metrics`; `/app` is
//! a page that measures itself with the browser module and sends them there.
//! `/ops` (mounted with `/metrics`) is a live operations page computed in the browser from
//! `/metrics` and the SLOs of `ops/spec.yaml`: RED per route, database, cache, web vitals,
//! SLO budgets and dropped telemetry, with no backend.
//!
//! Insights ([`insights`]): `/events/{kind}/count` reads a 50,000-row table by sequential
//! scan (slow-query plans and the seq-scan finding), `/insights/db` shows the PostgreSQL
//! statement and index report, cached users are stored stale-while-revalidate under the
//! tag `users` and `/cached/users` (a compressed list) too; `POST /cache/invalidate` and
//! `POST /cached/users/{id}/invalidate` invalidate them; probes of the dependencies are
//! readiness checks; `/debug/pprof/profile` serves CPU profiles when `DEMO_PROFILE_TOKEN`
//! is set.

pub mod db;
pub mod insights;
pub mod page;

use sdk_core::catalogue::{MetricDef, MetricKind, Unit};

/// Users looked up, by where the answer came from (`database`, `cache`): an application
/// metric declared once here, registered with the catalogue at startup.
pub static USER_LOOKUPS: MetricDef = MetricDef::new(
    "app.user.lookups",
    MetricKind::Counter,
    Unit::Count("{lookup}"),
    "Users looked up, by where the answer came from.",
)
.with_labels(&["app.lookup.source"])
.with_max_series(10);

/// Distinct user ids looked up since the process started (bounded by the ids that
/// exist): the demo's gauge-shaped application metric.
pub static USERS_SEEN: MetricDef = MetricDef::new(
    "app.users.seen",
    MetricKind::Gauge,
    Unit::Count("{user}"),
    "Distinct users looked up since the process started.",
);

/// The demo's application metrics, for `TelemetryBuilder::with_metrics`.
pub static APP_METRICS: &[&MetricDef] = &[&USER_LOOKUPS, &USERS_SEEN];

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sdk_tower::health::{Health, check};
use sdk_tower::{CatchPanicLayer, HttpServerLayer, RequestSpan, ReqwestMiddleware};
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    client: reqwest_middleware::ClientWithMiddleware,
    /// `http://host:port` of this service, known once it listens.
    base_url: Arc<OnceLock<String>>,
    db: db::Database,
    cache: Option<sdk_redis::Cache<redis::aio::ConnectionManager>>,
    users_seen: Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
    /// Beacons a second and burst per client on `/rum`; `None`: not limited.
    rum_rate_limit: Option<(u32, u32)>,
    /// The database insights collector, for `/insights/db`.
    db_insights: Option<Arc<sdk_sqlx::insights::InsightsHandle>>,
    /// The probes' results, as readiness checks.
    probes: Vec<sdk_tower::probe::ProbeStatus>,
    /// The CPU profile route's bearer token; `None`: no route.
    profile_token: Option<String>,
}

impl AppState {
    /// State using `db` for data and `cache` (when Redis is reachable) in front of it; the
    /// outbound client propagates in the formats `sdk_core::init` configured.
    pub fn new(
        db: db::Database,
        cache: Option<sdk_redis::Cache<redis::aio::ConnectionManager>>,
    ) -> Self {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ReqwestMiddleware::new())
            .build();
        Self {
            client,
            base_url: Arc::new(OnceLock::new()),
            db,
            cache,
            users_seen: Arc::default(),
            rum_rate_limit: None,
            db_insights: None,
            probes: Vec::new(),
            profile_token: None,
        }
    }

    /// Serves the database insights of `background` at `/insights/db` and makes its
    /// dependency probes (all but the demo's probe of itself) readiness checks.
    pub fn with_background(mut self, background: &insights::Background) -> Self {
        self.db_insights.clone_from(&background.db);
        if let Some(probes) = &background.probes {
            self.probes = probes.statuses().filter(|s| s.name() != "self").collect();
        }
        self
    }

    /// Serves CPU profiles at `/debug/pprof/profile` to requests bearing `token`.
    pub fn with_profile_token(mut self, token: String) -> Self {
        self.profile_token = Some(token);
        self
    }

    /// Limits each client to `per_second` beacons a second and `burst` at once on `/rum`
    /// (the demo binary serves with connect info, so clients are their peer addresses).
    pub fn with_rum_rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.rum_rate_limit = Some((per_second, burst));
        self
    }

    /// Records where this service listens, for `/chain`.
    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }
}

/// The demo router; `metrics` is mounted at `/metrics` when given.
pub fn app(state: AppState, metrics: Option<sdk_core::prometheus::MetricsService>) -> Router {
    routes(&state, metrics)
        .layer(CatchPanicLayer::new())
        .layer(HttpServerLayer::new())
        .with_state(state)
}

/// The demo's routes without the SDK's HTTP layers ([`HttpServerLayer`],
/// [`CatchPanicLayer`]): what the demo serves with `OTEL_SDK_DISABLED=true`, so that an
/// "SDK off" load run measures the service without them.
pub fn app_without_sdk_layers(state: AppState) -> Router {
    routes(&state, None).with_state(state)
}

fn routes(
    state: &AppState,
    metrics: Option<sdk_core::prometheus::MetricsService>,
) -> Router<AppState> {
    let database = state.db.clone();
    let mut health = Health::new()
        .with_check(check("self", || async { Ok(()) }))
        .with_check(check(state.db.system(), move || {
            let ping = database.ping(std::time::Duration::from_secs(1));
            async move { Ok(ping.await?) }
        }));
    if let Some(cache) = &state.cache {
        let connection = cache.connection().clone();
        health = health.with_check(check("redis", move || {
            let ping = sdk_redis::ping(&connection, std::time::Duration::from_secs(1));
            async move { Ok(ping.await?) }
        }));
    }
    for probe in &state.probes {
        health = health.with_check(probe.clone());
    }
    let mut rum = sdk_tower::rum::RumIngest::new()
        .routes(page::RUM_ROUTES)
        .allow_any_origin();
    if let Some((per_second, burst)) = state.rum_rate_limit {
        rum = rum.rate_limit_per_client(per_second, burst);
    }
    let mut router = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/work", get(work))
        .route("/slow", get(slow))
        .route("/cached/users/{id}", get(cached_user))
        .route("/cached/users", get(cached_users))
        .route(
            "/cached/users/{id}/invalidate",
            post(insights::invalidate_user),
        )
        .route("/cache/invalidate", post(insights::invalidate))
        .route("/events/{kind}/count", get(events_of_kind))
        .route("/insights/db", get(insights::db_report))
        .route("/app", get(page::app_page))
        .route("/app/next", get(page::next_page))
        .route("/app/hero.png", get(page::hero_image))
        .route("/app/wv/{file}", get(page::web_vitals))
        .route("/pkg/{file}", get(page::pkg_file))
        .route_service("/rum", rum)
        .route("/fail", get(fail))
        .route("/chain", get(chain))
        .route_service("/health/live", health.liveness())
        .route_service("/health/ready", health.readiness());
    if let Some(token) = &state.profile_token {
        router = router.route_service(
            "/debug/pprof/profile",
            sdk_tower::profile::ProfileRoute::new(sdk_tower::profile::bearer_token(token.clone())),
        );
    }
    if let Some(metrics) = metrics {
        // The operations page reads `/metrics`, with the SLOs of `ops/spec.yaml`.
        let ops = sdk_tower::OpsPage::new("/metrics");
        let ops = match sdk_core::ops::Spec::from_yaml(include_str!("../ops/spec.yaml")) {
            Ok(spec) => ops.with_spec(&spec),
            Err(err) => {
                tracing::warn!(target: "demo::startup", error = %err, "/ops shows no SLOs: ops/spec.yaml is invalid");
                ops
            }
        };
        router = router
            .route_service("/metrics", metrics)
            .route_service("/ops", ops);
    }
    router
}

/// `REDIS_URL`, else Redis's default port on this machine.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// The cache in front of the database: Redis at `REDIS_URL` (else the default port) when it
/// answers within a second; `None` (and a log line saying so) otherwise.
pub async fn connect_cache() -> Option<sdk_redis::Cache<redis::aio::ConnectionManager>> {
    let url = redis_url();
    let connected = async {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let manager = redis::aio::ConnectionManager::new(client.clone())
            .await
            .map_err(|e| e.to_string())?;
        let config = sdk_redis::RedisConfig::from_client(&client).key_prefixes(["user:"]);
        Ok::<_, String>(sdk_redis::InstrumentedConnection::new(manager, config))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(1), connected).await {
        Ok(Ok(connection)) => {
            tracing::info!(target: "demo::startup", cache = "redis", "cache ready");
            Some(
                sdk_redis::Cache::new(connection, std::time::Duration::from_millis(250))
                    .compression(sdk_redis::cache::Compression::lz4()),
            )
        }
        Ok(Err(err)) => {
            tracing::warn!(target: "demo::startup", error = %err, "cache is off: Redis is not reachable");
            None
        }
        Err(_) => {
            tracing::warn!(target: "demo::startup", "cache is off: Redis did not answer within 1 s");
            None
        }
    }
}

async fn index() -> &'static str {
    "demo service: try /app and /ops (in a browser), /users/7, /cached/users/7, /cached/users, /events/kind-7/count, /insights/db, /work, /slow, /chain, /fail, /health/ready and /metrics\n"
}

/// Counts a lookup and the distinct users seen (ids are bounded by the table's rows).
fn record_lookup(state: &AppState, id: u64, source: &'static str) {
    USER_LOOKUPS
        .counter(&[("app.lookup.source", source.into())])
        .increment(1);
    let mut seen = state
        .users_seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.len() < 100_000 && seen.insert(id) {
        USERS_SEEN.gauge(&[]).set(seen.len() as f64);
    }
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
        Ok(Some(name)) => {
            record_lookup(&state, id, "database");
            Ok(axum::Json(User { id, name }))
        }
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(err) => {
            tracing::error!(error = %err, "user query failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn cached_user(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    let Ok(key) = i64::try_from(id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let load = {
        let db = state.db.clone();
        move || async move { db.user_name(key).await }
    };
    let name = match &state.cache {
        // Fresh for 30 s, then served stale for up to 5 minutes while one request reloads.
        Some(cache) => cache
            .get_or_load_with(&format!("user:{id}"), &user_entry(), load)
            .await
            .map_err(|e| e.to_string()),
        None => load().await.map_err(|e| e.to_string()),
    };
    match name {
        Ok(Some(name)) => {
            record_lookup(&state, id, "cache");
            axum::Json(serde_json::json!({
            "id": id,
            "name": name,
            "cache": if state.cache.is_some() { "redis" } else { "off" },
            }))
            .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cached user lookup failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "lookup failed\n").into_response()
        }
    }
}

/// How cached users are kept: fresh for 30 s, then stale for 5 minutes while one request
/// reloads; under the tag [`insights::USERS_TAG`].
fn user_entry() -> sdk_redis::cache::CacheEntry {
    sdk_redis::cache::CacheEntry::stale_while_revalidate(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_secs(300),
    )
    .tags([insights::USERS_TAG])
}

/// The first 100 users, cached as one value (large enough to be stored compressed).
async fn cached_users(State(state): State<AppState>) -> Response {
    let load = {
        let db = state.db.clone();
        move || async move { db.first_users(100).await }
    };
    let users = match &state.cache {
        Some(cache) => cache
            .get_or_load_with("user:list", &user_entry(), load)
            .await
            .map_err(|e| e.to_string()),
        None => load().await.map_err(|e| e.to_string()),
    };
    match users {
        Ok(users) => axum::Json(
            users
                .into_iter()
                .map(|(id, name)| serde_json::json!({ "id": id, "name": name }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cached users lookup failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "lookup failed\n").into_response()
        }
    }
}

/// Events of one kind, counted by a sequential scan of the 50,000-row events table.
async fn events_of_kind(State(state): State<AppState>, Path(kind): Path<String>) -> Response {
    match state.db.events_of_kind(&kind).await {
        Ok(count) => {
            axum::Json(serde_json::json!({ "kind": kind, "count": count })).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "events query failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "query failed\n").into_response()
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
