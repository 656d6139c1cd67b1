//! `cargo xtask demo` (or `cargo run -p demo`): the demo service.
//!
//! Listens on `--addr ADDR`, else `DEMO_ADDR`, else `127.0.0.1:3000`. Everything else comes
//! from the standard `OTEL_*` / `DD_*` variables; with none set it logs JSON to stdout and
//! serves Prometheus metrics at `/metrics`. The database is a SQLite file in the temporary
//! directory unless `DATABASE_URL=postgres://…` is set; the cache is Redis at `REDIS_URL`,
//! else `redis://127.0.0.1:6379` when it answers, else off. `DEMO_RUM_RATE_LIMIT=RATE,BURST`
//! (such as `10,30`) limits each client's beacons on `/rum` to RATE a second and BURST at
//! once; unset, beacons are not rate-limited. Slow queries get their plans logged (unless
//! `SDK_DB_SLOW_QUERY_PLANS` says otherwise); the insights' variables are in
//! [`demo::insights`]. Process and Tokio runtime metrics come with `init`.
//!
//! On SIGTERM (Kubernetes, systemd, `docker stop`) or SIGINT (Ctrl-C) it stops accepting
//! connections, lets the requests in flight finish, delivers the telemetry they recorded
//! and exits 0.

use sdk_core::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const RUM_RATE_LIMIT_ENV: &str = "DEMO_RUM_RATE_LIMIT";

/// `DEMO_RUM_RATE_LIMIT`: beacons a second and burst per client, or `None` when unset.
fn rum_rate_limit() -> Result<Option<(u32, u32)>, String> {
    let Some(text) = std::env::var(RUM_RATE_LIMIT_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let parsed = text
        .split_once(',')
        .and_then(|(rate, burst)| Some((rate.trim().parse().ok()?, burst.trim().parse().ok()?)));
    match parsed {
        Some((rate, burst)) if rate > 0 && burst > 0 => Ok(Some((rate, burst))),
        _ => Err(format!(
            "invalid value {text:?} for {RUM_RATE_LIMIT_ENV}: expected RATE,BURST (beacons a second and at once per client, both at least 1) such as 10,30"
        )),
    }
}

fn listen_addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut from_args = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                from_args = Some(
                    args.next()
                        .ok_or("--addr needs a value such as 127.0.0.1:3000")?,
                )
            }
            other => {
                if let Some(value) = other.strip_prefix("--addr=") {
                    from_args = Some(value.to_owned());
                } else {
                    return Err(format!(
                        "unknown argument {other:?}; usage: demo [--addr HOST:PORT]"
                    ));
                }
            }
        }
    }
    let (source, text) = match (
        from_args,
        std::env::var("DEMO_ADDR").ok().filter(|v| !v.is_empty()),
    ) {
        (Some(addr), _) => ("--addr", addr),
        (None, Some(addr)) => ("DEMO_ADDR", addr),
        (None, None) => ("default", DEFAULT_ADDR.to_owned()),
    };
    text.parse().map_err(|_| {
        format!("invalid value {text:?} for {source}: expected HOST:PORT such as {DEFAULT_ADDR}")
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match listen_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("demo: {err}");
            return ExitCode::from(2);
        }
    };
    let rum_rate_limit = match rum_rate_limit() {
        Ok(limit) => limit,
        Err(err) => {
            eprintln!("demo: {err}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::builder().default_service_name("demo").build() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("demo: {err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match sdk_core::builder(config)
        .with_metrics(demo::APP_METRICS)
        .init()
    {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("demo: {err}");
            return ExitCode::from(2);
        }
    };
    // From here on SIGTERM and SIGINT start a graceful shutdown instead of killing us.
    let shutdown = sdk_core::shutdown::shutdown_signal();

    let metrics = telemetry.metrics_service();
    // The demo reports queries from 250 ms as slow unless SDK_DB_SLOW_QUERY_MS says otherwise.
    let mut db_config = match sdk_sqlx::SqlxConfig::from_installed() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("demo: {err}");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(sdk_sqlx::config::SLOW_QUERY_ENV).is_none() {
        db_config = db_config.slow_query_threshold(Some(std::time::Duration::from_millis(250)));
    }
    // ... and logs their plans (at most 6 a minute) unless SDK_DB_SLOW_QUERY_PLANS says otherwise.
    if std::env::var_os(sdk_sqlx::config::SLOW_QUERY_PLANS_ENV).is_none() {
        db_config = db_config.slow_query_plans(sdk_sqlx::PlanConfig::new());
    }
    let insight_settings = match demo::insights::Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("demo: {err}");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    let database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
    let db = match demo::db::Database::connect(database_url.as_deref(), db_config).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("demo: {err}");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    tracing::info!(target: "demo::startup", database = db.system(), "database ready");
    let cache = demo::connect_cache().await;

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(%addr, error = %err, "cannot listen");
            telemetry.shutdown();
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| addr.to_string(), |a| a.to_string());
    let base_url = format!("http://{local}");
    // Insights, Redis health and probes (of the dependencies and of `/health/live`) run
    // in the background until `background` drops.
    let background = demo::insights::start(
        &insight_settings,
        &db,
        cache.as_ref(),
        &demo::redis_url(),
        &base_url,
    );
    let mut state = demo::AppState::new(db.clone(), cache).with_background(&background);
    if let Some((per_second, burst)) = rum_rate_limit {
        state = state.with_rum_rate_limit(per_second, burst);
    }
    if let Some(token) = std::env::var(demo::insights::PROFILE_TOKEN_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    {
        state = state.with_profile_token(token);
    }
    state.set_base_url(base_url);
    // `OTEL_SDK_DISABLED=true` installs nothing; the HTTP layers would still run (and
    // answer with trace headers), so the service is served without them.
    let app = if telemetry.config().disabled {
        demo::app_without_sdk_layers(state.clone())
    } else {
        demo::app(state.clone(), metrics)
    };
    tracing::info!(target: "demo::startup", addr = %local, service = %telemetry.config().service.name, "listening");

    // The peer address reaches the routes (the beacon route's per-client rate limit).
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(err) = served {
        tracing::error!(error = %err, "server stopped");
    }
    tracing::info!("shutting down");
    drop(background);
    close_database(&db).await;
    telemetry.shutdown();
    ExitCode::SUCCESS
}

/// Closes the pool, waiting (up to 5 s) until every connection is back and closed. A query's
/// span can outlive its request: SQLite's worker thread holds it until it takes its next
/// command, and the request's span ends only after it. Once the connections are closed
/// those spans have ended, so `telemetry.shutdown()` finds them queued.
async fn close_database(db: &demo::db::Database) {
    let closed = async {
        match db {
            demo::db::Database::Sqlite(pool) => pool.inner().close().await,
            demo::db::Database::Postgres(pool) => pool.inner().close().await,
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(5), closed)
        .await
        .is_err()
    {
        tracing::warn!("database connections still busy after 5 s; shutting down anyway");
    }
}
