//! # sdk-tower
//!
//! Tower layers for Axum and hyper services, speaking sdk-core's vocabulary:
//!
//! - [`HttpServerLayer`]: a server span per request named `{method} {route}` with the
//!   OpenTelemetry HTTP attributes, trace context from incoming headers, `traceparent` and
//!   `Server-Timing` on the response, a request id, RED metrics from the catalogue (body
//!   sizes counted as they stream), header allow-list with redaction; the propagation
//!   formats `sdk_core::init` configured, without passing them around;
//! - [`CatchPanicLayer`] ([`panic`](mod@panic)): a panicking handler answers 500, recorded on the
//!   request span and counted;
//! - [`HttpClientLayer`] (tower and hyper clients) and `ReqwestMiddleware` (feature
//!   `reqwest`): a client span per outbound request, the configured propagation headers and
//!   `http.client.request.duration`;
//! - [`health`]: liveness and readiness endpoints with pluggable, measured async checks;
//! - [`classify`]: which statuses (and gRPC codes) are failures;
//! - [`rum`]: the route that ingests browser beacons into web-vital histograms;
//! - `OpsPage` (feature `ops-page`, module `ops_page`): a live operations page with no
//!   backend, computed in the browser from the process's own `/metrics` and SLO spec;
//! - `probe` (feature `probe`): HTTP and TCP probes of dependencies or endpoints run in the
//!   background and exported as Prometheus' blackbox exporter does (`probe_success`,
//!   `probe_duration_seconds`, `probe_http_duration_seconds{phase}`), each usable as a
//!   readiness check;
//! - `profile` (feature `profile`): an on-demand CPU profile route (pprof protobuf or
//!   flame graph SVG), behind an authorization hook, one profile at a time.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sdk_tower::HttpServerLayer;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "ok" }))
//!     .layer(sdk_tower::CatchPanicLayer::new())
//!     .layer(HttpServerLayer::new());
//! ```
//!
//! Add the layer with axum's `Router::layer` so the matched route is known; requests that
//! match no route are recorded without a route, never with their raw path.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod classify;
pub mod client;
pub mod health;
mod metrics_cache;
#[cfg(feature = "ops-page")]
pub mod ops_page;
pub mod panic;
#[cfg(feature = "probe")]
pub mod probe;
#[cfg(feature = "profile")]
pub mod profile;
pub mod request_id;
mod route;
pub mod rum;
pub mod server;

pub use client::HttpClientLayer;
#[cfg(feature = "reqwest")]
pub use client::ReqwestMiddleware;
#[cfg(feature = "ops-page")]
pub use ops_page::OpsPage;
pub use panic::CatchPanicLayer;
pub use server::RequestSpan;
pub use server::{HttpServer, HttpServerLayer};
