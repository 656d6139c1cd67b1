//! # sdk-core
//!
//! The vocabulary every crate of the SDK speaks, and the one call that installs it:
//!
//! - [`semconv`]: OpenTelemetry attribute keys and span-name rules;
//! - [`catalogue`]: every metric the SDK emits — name, kind, unit, labels, buckets;
//! - [`propagation`]: W3C, Datadog and B3 trace context over any header carrier;
//! - [`config`]: configuration from `OTEL_*` / `DD_*` variables with a builder;
//! - [`rum`]: the browser beacon (web vitals, errors) shared by page and server; parsing
//!   and validation with feature `rum`;
//! - `trace` (feature `tracing`): trace and span ids for `tracing` spans, sampling and
//!   remote parents;
//! - `logs` (feature `json-logs`): JSON log lines with trace correlation;
//! - `prometheus` (feature `prometheus`): text exposition with the catalogue's buckets;
//! - `spans`, `export` (features `tracing`, `export`, `otlp`, `datadog`, `dogstatsd`):
//!   finished spans and the OTLP, Datadog and DogStatsD exporters;
//! - `callback` (feature `metrics`): user code run by the SDK (classifiers, health checks,
//!   cache loaders, exporters), its panics caught and counted;
//! - `init` (features `json-logs` + `prometheus`): one call that installs it all;
//! - `process_metrics` (features `process-metrics`, `runtime-metrics`): process and Tokio
//!   runtime metrics that `init` collects in the background.
//!
//! ## Usage
//!
//! ```no_run
//! # #[cfg(all(feature = "json-logs", feature = "prometheus"))]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = sdk_core::init(sdk_core::config::Config::from_env()?)?;
//! tracing::info!(answer = 42, "service started");
//! let text = telemetry.prometheus().map(|p| p.render());
//! telemetry.shutdown();
//! # Ok(()) }
//! # #[cfg(not(all(feature = "json-logs", feature = "prometheus")))]
//! # fn main() {}
//! ```
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tracing` | yes | span-context layer: trace/span ids, sampler, remote parents |
//! | `json-logs` | yes | JSON log layer with `trace_id`, `span_id`, `dd.*` fields; `RUST_LOG` filter |
//! | `metrics` | yes | recording through catalogue definitions (`metrics` facade) |
//! | `prometheus` | yes | Prometheus recorder with catalogue buckets and names |
//! | `process-metrics` | yes | `process_*` metrics (memory, CPU, descriptors, threads, start time) collected by `init` on Linux; off with `SDK_PROCESS_METRICS=off` |
//! | `runtime-metrics` | no | Tokio runtime metrics (workers, busy ratio, queues, tasks) with the process metrics (tokio) |
//! | `prometheus-listener` | no | standalone `/metrics` listener (tokio, hyper) |
//! | `http` | no | `http::HeaderMap` carriers and a `tower::Service` for `/metrics` |
//! | `export` | no | finished-span capture, bounded batch processor, console trace exporter |
//! | `otlp` | no | OTLP traces, metrics and logs (gRPC, HTTP/protobuf, HTTP/JSON) via `opentelemetry-otlp` |
//! | `datadog` | no | traces to the Datadog agent (v0.4/v0.5 msgpack) |
//! | `dogstatsd` | no | metrics to DogStatsD (UDP, Unix socket) |
//! | `signal` | no | `shutdown::shutdown_signal`: SIGTERM or SIGINT (Ctrl-C) for graceful shutdown (tokio) |
//! | `ops` | no | `ops`: Prometheus recording and alerting rules (SLOs with burn rates, symptoms, anomaly bands), their `promtool` tests, Grafana and Datadog dashboards from an SLO spec and the catalogue; performance budgets |
//! | `testing` | no | capture helpers for logs, metrics and spans; the Datadog test agent; `promtool` |
//! | `testing-otlp` | no | an OTLP receiver (gRPC and HTTP) built from the official protobufs |
//!
//! With default features off the crate has no tokio, http or hyper and builds for
//! `wasm32-unknown-unknown`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

/// Version of the compiler that built the SDK (`1.95.0`), for Datadog's metadata headers.
#[cfg_attr(not(feature = "datadog"), allow(dead_code))]
pub(crate) const RUSTC_VERSION: &str = env!("SDK_RUSTC_VERSION");

pub mod catalogue;
pub mod config;
pub mod propagation;
pub mod rum;
pub mod semconv;

#[cfg(feature = "tracing")]
pub mod trace;

#[cfg(feature = "tracing")]
pub mod spans;

#[cfg(feature = "tracing")]
pub mod record;

#[cfg(all(feature = "tracing", feature = "metrics"))]
pub mod operation;

#[cfg(feature = "metrics")]
pub mod handles;

#[cfg(feature = "metrics")]
pub mod callback;

#[cfg(feature = "json-logs")]
pub mod logs;

#[cfg(feature = "export")]
pub mod export;

#[cfg(feature = "prometheus")]
pub mod prometheus;

#[cfg(all(feature = "json-logs", feature = "prometheus"))]
mod init;
#[cfg(all(feature = "json-logs", feature = "prometheus"))]
pub use init::{InitError, LOG_QUEUE_LINES, TelemetryGuard, init, init_from_env};
#[cfg(all(feature = "json-logs", feature = "prometheus"))]
pub mod setup;
#[cfg(all(feature = "json-logs", feature = "prometheus"))]
pub use setup::{SdkLayers, TelemetryBuilder, builder};

#[cfg(feature = "process-metrics")]
pub mod process_metrics;

pub mod global;

#[cfg(feature = "signal")]
pub mod shutdown;

#[cfg(feature = "ops")]
pub mod ops;

#[cfg(feature = "testing")]
pub mod testing;
