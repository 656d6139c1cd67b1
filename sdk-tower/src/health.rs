//! Liveness and readiness endpoints with pluggable async checks.
//!
//! ```
//! use sdk_tower::health::{Health, check};
//! use std::time::Duration;
//!
//! let health = Health::new()
//!     .timeout(Duration::from_secs(2))
//!     .with_check(check("database", || async { Ok(()) }));
//! let app: axum::Router = axum::Router::new()
//!     .route_service("/health/live", health.liveness())
//!     .route_service("/health/ready", health.readiness());
//! ```
//!
//! Readiness runs every check concurrently, each bounded by the timeout, answers 200 when
//! all pass and 503 otherwise, with a JSON body listing each check's status and latency.
//! Every run is measured in `sdk.health.check.duration` by check and outcome.
//!
//! A check that panics, when called or while it runs, fails (`status: "fail"`, `error:
//! "check panicked"`) like a check that returns an error: the other checks still report,
//! the endpoint answers a well-formed 503 and the next call runs every check again. The
//! panic is counted in `sdk.callback.panics{sdk.callback="health_check"}`; its message is
//! left to the panic hook (stderr), never put in the report.

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use metrics::SharedString;
use sdk_core::callback::{Callback, call_future};
use sdk_core::catalogue::HEALTH_CHECK_DURATION;
use sdk_core::semconv::sdk;
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Why a check failed: any error (its `Display` text is the report's `error`).
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed check future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CheckError>> + Send + 'a>>;

/// One readiness check (a pool ping, a cache ping…).
pub trait HealthCheck: Send + Sync + 'static {
    /// Name shown in the report and the metric label.
    fn name(&self) -> &str;
    /// Runs the check; `Err` carries a short reason.
    fn check(&self) -> CheckFuture<'_>;
}

/// A check made from a name and an async closure (see [`check`]).
pub struct FnCheck<F> {
    name: String,
    run: F,
}

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCheck").field("name", &self.name).finish()
    }
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), CheckError>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin((self.run)())
    }
}

/// A check named `name` running `run`. Any error converts into [`CheckError`] with `?`
/// (or `Err("reason".into())`).
pub fn check<F, Fut>(name: impl Into<String>, run: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), CheckError>> + Send + 'static,
{
    FnCheck {
        name: name.into(),
        run,
    }
}

/// The checks and their timeout.
#[derive(Clone)]
pub struct Health {
    checks: Arc<Vec<Box<dyn HealthCheck>>>,
    timeout: Duration,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|c| c.name()).collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    /// Check name.
    pub name: String,
    /// `ok`, `fail` or `timeout`.
    pub status: &'static str,
    /// How long it took, in milliseconds.
    pub latency_ms: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The readiness answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// `ok` when every check passed, else `fail`.
    pub status: &'static str,
    /// Each check.
    pub checks: Vec<CheckReport>,
}

impl Health {
    /// No checks, a 5 s timeout.
    pub fn new() -> Self {
        Self {
            checks: Arc::new(Vec::new()),
            timeout: Duration::from_secs(5),
        }
    }

    /// Adds a check.
    pub fn with_check(mut self, check: impl HealthCheck) -> Self {
        let mut checks: Vec<Box<dyn HealthCheck>> = Vec::new();
        if let Some(existing) = Arc::get_mut(&mut self.checks) {
            checks.append(existing);
        }
        checks.push(Box::new(check));
        self.checks = Arc::new(checks);
        self
    }

    /// Sets the per-check timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs every check concurrently.
    pub async fn report(&self) -> Report {
        let runs = self.checks.iter().map(|check| async move {
            let started = Instant::now();
            // `check()` is called inside the guarded future: a panic making the future is
            // caught as well as one while it runs.
            let run = call_future(Callback::HealthCheck, async { check.check().await });
            let outcome = tokio::time::timeout(self.timeout, run).await;
            let latency = started.elapsed();
            let (status, error) = match outcome {
                Ok(Ok(Ok(()))) => ("ok", None),
                Ok(Ok(Err(reason))) => ("fail", Some(reason.to_string())),
                Ok(Err(_)) => ("fail", Some("check panicked".to_owned())),
                Err(_) => (
                    "timeout",
                    Some(format!("no answer within {} ms", self.timeout.as_millis())),
                ),
            };
            HEALTH_CHECK_DURATION
                .histogram(&[
                    (
                        sdk::CHECK,
                        SharedString::from_owned(check.name().to_owned()),
                    ),
                    (sdk::CHECK_STATUS, SharedString::const_str(status)),
                ])
                .record(latency.as_secs_f64());
            CheckReport {
                name: check.name().to_owned(),
                status,
                latency_ms: latency.as_secs_f64() * 1000.0,
                error,
            }
        });
        let checks = futures_util::future::join_all(runs).await;
        let status = if checks.iter().all(|c| c.status == "ok") {
            "ok"
        } else {
            "fail"
        };
        Report { status, checks }
    }

    /// `GET` answers 200 `{"status":"ok"}` while the process runs.
    pub fn liveness(&self) -> Liveness {
        Liveness
    }

    /// `GET` runs the checks: 200 when all pass, 503 otherwise.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            health: self.clone(),
        }
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The liveness service.
#[derive(Debug, Clone, Copy)]
pub struct Liveness;

impl<B> tower_service::Service<Request<B>> for Liveness {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        std::future::ready(Ok(json(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())))
    }
}

/// The readiness service.
#[derive(Debug, Clone)]
pub struct Readiness {
    health: Health,
}

impl<B> tower_service::Service<Request<B>> for Readiness {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let health = self.health.clone();
        Box::pin(async move {
            let report = health.report().await;
            let status = if report.status == "ok" {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::to_vec(&report).unwrap_or_default();
            Ok(json(status, body))
        })
    }
}
