//! Configuration from the standard `OTEL_*` and `DD_*` environment variables, with a builder
//! whose values win over the environment.
//!
//! | what | variables, first set wins | default |
//! |---|---|---|
//! | service name | builder, `OTEL_SERVICE_NAME`, `DD_SERVICE`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | builder's `default_service_name`, else `unknown_service` |
//! | version | builder, `DD_VERSION`, `service.version` in `OTEL_RESOURCE_ATTRIBUTES` | none |
//! | environment | builder, `DD_ENV`, `deployment.environment.name` (or `deployment.environment`) in `OTEL_RESOURCE_ATTRIBUTES` | none |
//! | traces exporter | builder, `OTEL_TRACES_EXPORTER` (`otlp`, `datadog`, `console`, `none`) | `otlp` when an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set, `datadog` when `DD_TRACE_AGENT_URL` or `DD_AGENT_HOST` is set, else `none` |
//! | metrics exporter | builder, `OTEL_METRICS_EXPORTER` (`otlp`, `prometheus`, `datadog`/`dogstatsd`, `console`, `none`) | `prometheus` |
//! | logs exporter | builder, `OTEL_LOGS_EXPORTER` (`otlp`, `console`, `none`) | `console` (JSON lines on stdout) |
//! | propagation | builder, `OTEL_PROPAGATORS`, `DD_TRACE_PROPAGATION_STYLE` (`tracecontext`, `baggage`, `datadog`, `b3`, `b3multi`, `none`) | `tracecontext,baggage` |
//! | sampler | builder, `OTEL_TRACES_SAMPLER` + `OTEL_TRACES_SAMPLER_ARG`, `DD_TRACE_SAMPLE_RATE` | `parentbased_always_on` |
//! | batch spans | builder, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` (ms), `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | 5000, 30000, 2048, 512 |
//! | Datadog agent | `DD_TRACE_AGENT_URL` (`http://…`), else `DD_AGENT_HOST` + `DD_TRACE_AGENT_PORT`; `DD_TRACE_API_VERSION` (`v0.4`, `v0.5`) | `http://localhost:8126`, `v0.4` |
//! | OTLP | `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, `http/protobuf`, `http/json`) and the per-signal `_TRACES_`/`_METRICS_`/`_LOGS_` forms; `_ENDPOINT`, `_HEADERS` (`k=v,…`), `_TIMEOUT` (ms), `_COMPRESSION` (`gzip`, `none`) checked here and applied by the exporter | `http/protobuf`, `http://localhost:4318` (gRPC `:4317`), 10000 ms |
//! | metric push interval | `OTEL_METRIC_EXPORT_INTERVAL` (ms) | 60000 |
//! | log filter | builder, `RUST_LOG` | `info` |
//! | Prometheus listener | builder, `OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT` (either set enables it) | off; mount the handler instead |
//! | disable everything | `OTEL_SDK_DISABLED=true` | `false` |
//!
//! Empty variables count as unset (as the OpenTelemetry specification asks). Any other
//! invalid value is a [`ConfigError`] naming the variable, the value and what is accepted.
//!
//! ```
//! use sdk_core::config::{Config, MetricsExporter};
//! let config = Config::builder()
//!     .service_name("checkout")
//!     .build_from_vars([("DD_ENV", "prod"), ("OTEL_METRICS_EXPORTER", "prometheus")])
//!     .unwrap();
//! assert_eq!(config.service.name, "checkout");
//! assert_eq!(config.service.environment.as_deref(), Some("prod"));
//! assert_eq!(config.metrics_exporters, vec![MetricsExporter::Prometheus]);
//! ```

mod batch;
mod builder;
mod datadog;
mod env;
mod error;
mod exporters;
mod otlp;
mod prometheus_listener;
mod propagation;
mod sampler;
mod service;

pub use batch::BatchConfig;
pub use builder::ConfigBuilder;
pub use datadog::{DatadogAgent, DatadogApi};
pub use error::ConfigError;
pub use exporters::{LogsExporter, MetricsExporter, TracesExporter};
pub use otlp::{OtlpConfig, OtlpProtocol};
pub use sampler::{RootSampler, Sampler};
pub use service::ServiceInfo;

use crate::propagation::Propagator;
use std::net::SocketAddr;
use std::time::Duration;

/// The whole SDK configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Service identity.
    pub service: ServiceInfo,
    /// Every `OTEL_RESOURCE_ATTRIBUTES` pair, decoded, in order.
    pub resource_attributes: Vec<(String, String)>,
    /// Span exporters (empty: spans get ids for logs and propagation but are not exported).
    pub traces_exporters: Vec<TracesExporter>,
    /// Metric exporters.
    pub metrics_exporters: Vec<MetricsExporter>,
    /// Log exporters.
    pub logs_exporters: Vec<LogsExporter>,
    /// Propagation formats.
    pub propagator: Propagator,
    /// Head sampler.
    pub sampler: Sampler,
    /// Batch span processing.
    pub batch: BatchConfig,
    /// How often pushed metrics are exported (`OTEL_METRIC_EXPORT_INTERVAL`, ms; default
    /// 60000).
    pub metric_export_interval: Duration,
    /// The Datadog agent.
    pub datadog: DatadogAgent,
    /// OTLP transports.
    pub otlp: OtlpConfig,
    /// `tracing` filter directives (`RUST_LOG` syntax).
    pub log_filter: String,
    /// Address of the standalone Prometheus listener, when enabled.
    pub prometheus_listener: Option<SocketAddr>,
    /// `OTEL_SDK_DISABLED`: install nothing.
    pub disabled: bool,
}

impl Config {
    /// A builder whose settings win over the environment.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        ConfigBuilder::default().build()
    }
}
