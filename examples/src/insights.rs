//! What the demo runs beside its routes: PostgreSQL statement and index insights, Redis
//! server health, synthetic probes of its dependencies and of itself, and the routes that
//! show them (`/insights/db`) or act on the cache (`POST /cache/invalidate`).
//!
//! Intervals come from the SDK's variables where it has them
//! (`SDK_DB_INSIGHTS_INTERVAL_SECS`; unset: every 30 s in the demo, `0`: off) and from
//! `DEMO_REDIS_INFO_SECS` (default 10) and `DEMO_PROBE_INTERVAL_MS` (default 5000). The
//! dependencies are probed over TCP; `DEMO_PROBE_SELF=true` adds an HTTP probe of the
//! demo's own `/health/live` (off by default: its requests are traced and logged as any
//! other).
//! `DEMO_PROFILE_TOKEN` turns the CPU profile route on at `/debug/pprof/profile`, for
//! requests with `Authorization: Bearer <token>`; unset, the route does not exist.

use crate::AppState;
use crate::db::Database;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sdk_redis::server_info::{RedisServerInfo, ServerInfoTask};
use sdk_sqlx::insights::{InsightsConfig, InsightsHandle, PgInsights};
use sdk_tower::probe::{HttpProbe, Probes, RunningProbes, TcpProbe};
use std::sync::Arc;
use std::time::Duration;

/// `DEMO_REDIS_INFO_SECS`: seconds between Redis `INFO` collections (`0`: off).
pub const REDIS_INFO_ENV: &str = "DEMO_REDIS_INFO_SECS";
/// `DEMO_PROBE_INTERVAL_MS`: milliseconds between runs of each probe.
pub const PROBE_INTERVAL_ENV: &str = "DEMO_PROBE_INTERVAL_MS";
/// `DEMO_PROBE_SELF`: `true` adds an HTTP probe of the demo's own `/health/live`.
pub const PROBE_SELF_ENV: &str = "DEMO_PROBE_SELF";
/// `DEMO_PROFILE_TOKEN`: the bearer token of the CPU profile route (unset: no route).
pub const PROFILE_TOKEN_ENV: &str = "DEMO_PROFILE_TOKEN";

/// The tag every cached user is stored under (`POST /cache/invalidate?tag=users`).
pub const USERS_TAG: &str = "users";

/// The background work, stopped when dropped.
#[derive(Default)]
pub struct Background {
    /// The database insights collector (PostgreSQL only).
    pub db: Option<Arc<InsightsHandle>>,
    /// The Redis `INFO` collector.
    pub redis: Option<ServerInfoTask>,
    /// The probes of the dependencies and of the demo's own liveness route.
    pub probes: Option<RunningProbes>,
}

/// What the environment asks of the background work.
#[derive(Debug, Clone)]
pub struct Settings {
    db_insights: Option<InsightsConfig>,
    redis_info: Option<Duration>,
    probe_interval: Duration,
    probe_self: bool,
}

fn whole_number(variable: &str, default: u64) -> Result<u64, String> {
    match std::env::var(variable).ok().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("invalid value {text:?} for {variable}: expected a whole number")),
    }
}

impl Settings {
    /// Reads the variables named in the module documentation.
    pub fn from_env() -> Result<Self, String> {
        let db_insights = if std::env::var_os(sdk_sqlx::insights::INTERVAL_ENV).is_some() {
            InsightsConfig::from_env().map_err(|e| e.to_string())?
        } else {
            Some(InsightsConfig::new().interval(Duration::from_secs(30)))
        };
        let redis_info = whole_number(REDIS_INFO_ENV, 10)?;
        let probe_interval = whole_number(PROBE_INTERVAL_ENV, 5000)?;
        if probe_interval == 0 {
            return Err(format!(
                "invalid value 0 for {PROBE_INTERVAL_ENV}: expected at least 1 (milliseconds)"
            ));
        }
        let probe_self = match std::env::var(PROBE_SELF_ENV).ok().filter(|v| !v.is_empty()) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(format!(
                    "invalid value {v:?} for {PROBE_SELF_ENV}: expected true or false"
                ));
            }
        };
        Ok(Self {
            probe_self,
            db_insights,
            redis_info: (redis_info > 0).then(|| Duration::from_secs(redis_info)),
            probe_interval: Duration::from_millis(probe_interval),
        })
    }
}

/// `host:port` of a Redis URL (`redis://[user:password@]host[:port][/db]`), for a TCP probe.
fn redis_target(url: &str) -> Option<String> {
    let rest = url.strip_prefix("redis://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    if host_port.is_empty() {
        return None;
    }
    Some(if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    })
}

/// Starts the background work on the current runtime; `base_url` is where the demo
/// listens. What cannot start is logged and left out: the service runs without it.
pub fn start(
    settings: &Settings,
    db: &Database,
    cache: Option<&sdk_redis::Cache<redis::aio::ConnectionManager>>,
    redis_url: &str,
    base_url: &str,
) -> Background {
    let mut background = Background::default();
    if let (Database::Postgres(pool), Some(config)) = (db, &settings.db_insights) {
        let options = (*pool.inner().connect_options()).clone();
        match PgInsights::new(options, config.clone()).spawn() {
            Ok(handle) => background.db = Some(Arc::new(handle)),
            Err(err) => {
                tracing::warn!(target: "demo::startup", error = %err, "database insights are off")
            }
        }
    }
    if let (Some(cache), Some(interval)) = (cache, settings.redis_info) {
        match RedisServerInfo::from_instrumented(cache.connection()).spawn(interval) {
            Ok(task) => background.redis = Some(task),
            Err(err) => {
                tracing::warn!(target: "demo::startup", error = %err, "Redis server health is off")
            }
        }
    }
    let every = settings.probe_interval;
    let timeout = every.min(Duration::from_secs(2));
    let mut probes = Probes::new();
    if settings.probe_self {
        probes = probes.with(
            HttpProbe::get("self", format!("{base_url}/health/live"))
                .interval(every)
                .timeout(timeout),
        );
    }
    if let Database::Postgres(pool) = db
        && !pool.inner().connect_options().get_host().starts_with('/')
    {
        // A TCP probe of the server (not of a Unix socket).
        let options = pool.inner().connect_options();
        probes = probes.with(
            TcpProbe::new(
                "postgresql-tcp",
                format!("{}:{}", options.get_host(), options.get_port()),
            )
            .interval(every)
            .timeout(timeout),
        );
    }
    if cache.is_some()
        && let Some(target) = redis_target(redis_url)
    {
        probes = probes.with(
            TcpProbe::new("redis-tcp", target)
                .interval(every)
                .timeout(timeout),
        );
    }
    match probes.spawn() {
        Ok(running) => background.probes = Some(running),
        Err(err) => tracing::warn!(target: "demo::startup", error = %err, "probes are off"),
    }
    background
}

/// How `/insights/db` answers: `?format=text` for one finding per line.
#[derive(serde::Deserialize)]
pub struct ReportFormat {
    format: Option<String>,
}

/// `GET /insights/db`: the last database insights report as JSON (`?format=text`: its
/// findings, one per line).
pub async fn db_report(
    State(state): State<AppState>,
    Query(format): Query<ReportFormat>,
) -> Response {
    let Some(handle) = &state.db_insights else {
        return (
            StatusCode::NOT_FOUND,
            "database insights need PostgreSQL (DATABASE_URL=postgres://…) and SDK_DB_INSIGHTS_INTERVAL_SECS not 0\n",
        )
            .into_response();
    };
    match handle.latest_report() {
        Some(report) if format.format.as_deref() == Some("text") => {
            report.to_string().into_response()
        }
        Some(report) => axum::Json(&*report).into_response(),
        None => {
            let why = handle.last_error().map_or_else(
                || "no collection has finished yet".to_owned(),
                |e| e.to_string(),
            );
            (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
        }
    }
}

/// What `POST /cache/invalidate` removes: every key under a tag, or under a prefix of the
/// demo's own (`user:`).
#[derive(serde::Deserialize)]
pub struct Invalidate {
    tag: Option<String>,
    prefix: Option<String>,
}

/// `POST /cache/invalidate?tag=users` or `?prefix=user:`: the keys removed.
pub async fn invalidate(State(state): State<AppState>, Query(what): Query<Invalidate>) -> Response {
    let Some(cache) = &state.cache else {
        return (StatusCode::NOT_FOUND, "the cache is off\n").into_response();
    };
    let removed = match (what.tag.as_deref(), what.prefix.as_deref()) {
        (Some(tag), None) => cache.invalidate_tag(tag).await,
        // Only the demo's own keys: a prefix from a request never reaches other data.
        (None, Some(prefix)) if prefix.starts_with("user:") => {
            cache.invalidate_prefix(prefix).await
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "expected one of ?tag=TAG or ?prefix=user:…\n",
            )
                .into_response();
        }
    };
    match removed {
        Ok(keys) => axum::Json(serde_json::json!({ "removed": keys })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "cache invalidation failed");
            (StatusCode::SERVICE_UNAVAILABLE, "invalidation failed\n").into_response()
        }
    }
}

/// `POST /cached/users/{id}/invalidate`: removes one cached user.
pub async fn invalidate_user(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    let Some(cache) = &state.cache else {
        return (StatusCode::NOT_FOUND, "the cache is off\n").into_response();
    };
    match cache.invalidate(&format!("user:{id}")).await {
        Ok(keys) => axum::Json(serde_json::json!({ "removed": keys })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "cache invalidation failed");
            (StatusCode::SERVICE_UNAVAILABLE, "invalidation failed\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redis_target;

    #[test]
    fn redis_targets() {
        assert_eq!(
            redis_target("redis://127.0.0.1:6379").as_deref(),
            Some("127.0.0.1:6379")
        );
        assert_eq!(
            redis_target("redis://cache/2").as_deref(),
            Some("cache:6379")
        );
        assert_eq!(
            redis_target("redis://user:secret@cache:6380/0").as_deref(),
            Some("cache:6380")
        );
        assert_eq!(redis_target("rediss://cache:6380"), None);
        assert_eq!(redis_target("redis://"), None);
    }
}
