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

use crate::propagation::{PropagationFormat, Propagator};
use crate::semconv::resource;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A configuration value that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds a value outside what it accepts.
    #[error("invalid value {value:?} for {var}: expected {expected}")]
    InvalidValue {
        /// The variable (or builder setting) name.
        var: &'static str,
        /// The offending value.
        value: String,
        /// What the variable accepts.
        expected: &'static str,
    },
    /// A variable is set but is not valid Unicode.
    #[error("{var} is not valid Unicode")]
    NotUnicode {
        /// The variable name.
        var: &'static str,
    },
}

/// Identity of the service, attached to every signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `service.name` / `DD_SERVICE`.
    pub name: String,
    /// `service.version` / `DD_VERSION`.
    pub version: Option<String>,
    /// `deployment.environment.name` / `DD_ENV`.
    pub environment: Option<String>,
}

impl Default for ServiceInfo {
    /// `unknown_service`, no version, no environment.
    fn default() -> Self {
        Self {
            name: "unknown_service".into(),
            version: None,
            environment: None,
        }
    }
}

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TracesExporter {
    /// OTLP (gRPC or HTTP).
    Otlp,
    /// The Datadog agent's trace API.
    Datadog,
    /// JSON lines on stdout.
    Console,
}

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsExporter {
    /// OTLP (gRPC or HTTP).
    Otlp,
    /// Prometheus text exposition.
    Prometheus,
    /// DogStatsD datagrams (`datadog` or `dogstatsd`).
    DogStatsD,
    /// Periodic text dump on stdout.
    Console,
}

/// Where log records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogsExporter {
    /// OTLP (gRPC or HTTP).
    Otlp,
    /// JSON lines on stdout (Datadog's agent tails them).
    Console,
}

/// The root sampling decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Sample every trace.
    AlwaysOn,
    /// Sample no trace.
    AlwaysOff,
    /// Sample this fraction of traces, decided from the trace id.
    TraceIdRatio(f64),
    /// Sample at the rate the Datadog agent last answered (`rate_by_service`), 1 until it
    /// answers. Chosen by `init` when traces go to Datadog and no sampler is configured.
    AgentRate,
}

/// Head sampler: a root decision, optionally deferring to a sampled remote or local parent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// Decision for traces that start here.
    pub root: RootSampler,
    /// Whether a parent's decision is followed.
    pub parent_based: bool,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            root: RootSampler::AlwaysOn,
            parent_based: true,
        }
    }
}

/// Batch span processing (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Longest wait between two exports (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5000).
    pub schedule_delay: Duration,
    /// Longest time one export may take, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, ms;
    /// default 30000).
    pub export_timeout: Duration,
    /// Spans queued before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`; default 2048).
    pub max_queue_size: usize,
    /// Most spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; default 512, at most the
    /// queue size).
    pub max_export_batch_size: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// `grpc`.
    Grpc,
    /// `http/protobuf` (the default).
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

/// OTLP transport per signal. Endpoints, headers, timeout and compression are read by the
/// exporter from the standard variables, which [`ConfigBuilder::build`] validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtlpConfig {
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub traces_protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub metrics_protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub logs_protocol: OtlpProtocol,
}

/// Datadog agent trace API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatadogApi {
    /// `/v0.4/traces`.
    #[default]
    V04,
    /// `/v0.5/traces`.
    V05,
}

/// Where the Datadog agent takes traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatadogAgent {
    /// Base URL (`DD_TRACE_AGENT_URL`, else `http://{DD_AGENT_HOST}:{DD_TRACE_AGENT_PORT}`,
    /// default `http://localhost:8126`).
    pub trace_agent_url: String,
    /// `DD_TRACE_API_VERSION` (`v0.4` default, `v0.5`).
    pub api_version: DatadogApi,
    /// DogStatsD destination: `host:port` (UDP) or `unix://path` / `unixgram://path`, from
    /// `DD_DOGSTATSD_URL` (`udp://…`, `unix://…`), else `DD_AGENT_HOST` + `DD_DOGSTATSD_PORT`
    /// (default `localhost:8125`).
    pub dogstatsd_addr: String,
}

impl Default for DatadogAgent {
    fn default() -> Self {
        Self {
            trace_agent_url: "http://localhost:8126".into(),
            api_version: DatadogApi::V04,
            dogstatsd_addr: "localhost:8125".into(),
        }
    }
}

/// The whole SDK configuration.
#[derive(Debug, Clone, PartialEq)]
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

/// Builder for [`Config`]; unset fields come from the environment.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    service_name: Option<String>,
    default_service_name: Option<String>,
    service_version: Option<String>,
    environment: Option<String>,
    traces_exporters: Option<Vec<TracesExporter>>,
    metrics_exporters: Option<Vec<MetricsExporter>>,
    logs_exporters: Option<Vec<LogsExporter>>,
    propagation: Option<Vec<PropagationFormat>>,
    sampler: Option<Sampler>,
    batch: Option<BatchConfig>,
    log_filter: Option<String>,
    prometheus_listener: Option<SocketAddr>,
}

impl ConfigBuilder {
    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The service name to use when neither the builder nor the environment sets one
    /// (instead of `unknown_service`).
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        self.default_service_name = Some(name.into());
        self
    }

    /// Sets the service version.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Sets the deployment environment.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the span exporters.
    pub fn traces_exporters(mut self, exporters: impl IntoIterator<Item = TracesExporter>) -> Self {
        self.traces_exporters = Some(exporters.into_iter().collect());
        self
    }

    /// Sets the metric exporters.
    pub fn metrics_exporters(
        mut self,
        exporters: impl IntoIterator<Item = MetricsExporter>,
    ) -> Self {
        self.metrics_exporters = Some(exporters.into_iter().collect());
        self
    }

    /// Sets the log exporters.
    pub fn logs_exporters(mut self, exporters: impl IntoIterator<Item = LogsExporter>) -> Self {
        self.logs_exporters = Some(exporters.into_iter().collect());
        self
    }

    /// Sets the propagation formats.
    pub fn propagation(mut self, formats: impl IntoIterator<Item = PropagationFormat>) -> Self {
        self.propagation = Some(formats.into_iter().collect());
        self
    }

    /// Sets the sampler.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Sets the batch span processing parameters.
    pub fn batch(mut self, batch: BatchConfig) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Sets the log filter (`RUST_LOG` syntax).
    pub fn log_filter(mut self, directives: impl Into<String>) -> Self {
        self.log_filter = Some(directives.into());
        self
    }

    /// Enables the standalone Prometheus listener on `addr`.
    pub fn prometheus_listener(mut self, addr: SocketAddr) -> Self {
        self.prometheus_listener = Some(addr);
        self
    }

    /// Builds from the process environment.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.build_with(&ProcessEnv)
    }

    /// Builds from the given variables instead of the process environment.
    pub fn build_from_vars<K, V>(
        self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Config, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.build_with(&VarList(vars))
    }

    fn build_with(self, env: &dyn Env) -> Result<Config, ConfigError> {
        let disabled = match env.var("OTEL_SDK_DISABLED")? {
            None => false,
            Some(value) => parse_bool("OTEL_SDK_DISABLED", &value)?,
        };

        let resource_attributes = match env.var("OTEL_RESOURCE_ATTRIBUTES")? {
            None => Vec::new(),
            Some(value) => parse_resource_attributes(&value)?,
        };
        let from_resource = |key: &str| {
            resource_attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };

        let name = match self.service_name {
            Some(name) => name,
            None => first_some([
                env.var("OTEL_SERVICE_NAME")?,
                env.var("DD_SERVICE")?,
                from_resource(resource::SERVICE_NAME),
            ])
            .or(self.default_service_name)
            .unwrap_or_else(|| ServiceInfo::default().name),
        };
        let version = match self.service_version {
            Some(v) => Some(v),
            None => first_some([
                env.var("DD_VERSION")?,
                from_resource(resource::SERVICE_VERSION),
            ]),
        };
        let environment = match self.environment {
            Some(e) => Some(e),
            None => first_some([
                env.var("DD_ENV")?,
                from_resource(resource::DEPLOYMENT_ENVIRONMENT_NAME),
                from_resource(resource::DEPLOYMENT_ENVIRONMENT_LEGACY),
            ]),
        };

        let traces_exporters = match self.traces_exporters {
            Some(list) => list,
            None => match env.var("OTEL_TRACES_EXPORTER")? {
                Some(value) => parse_list(
                    "OTEL_TRACES_EXPORTER",
                    &value,
                    TRACES_EXPECTED,
                    parse_traces_exporter,
                )?,
                None => default_traces_exporter(env)?,
            },
        };
        let metrics_exporters = match self.metrics_exporters {
            Some(list) => list,
            None => match env.var("OTEL_METRICS_EXPORTER")? {
                Some(value) => parse_list(
                    "OTEL_METRICS_EXPORTER",
                    &value,
                    METRICS_EXPECTED,
                    parse_metrics_exporter,
                )?,
                None => vec![MetricsExporter::Prometheus],
            },
        };
        let logs_exporters = match self.logs_exporters {
            Some(list) => list,
            None => match env.var("OTEL_LOGS_EXPORTER")? {
                Some(value) => parse_list(
                    "OTEL_LOGS_EXPORTER",
                    &value,
                    LOGS_EXPECTED,
                    parse_logs_exporter,
                )?,
                None => vec![LogsExporter::Console],
            },
        };

        let formats = match self.propagation {
            Some(list) => list,
            None => match env.var("OTEL_PROPAGATORS")? {
                Some(value) => parse_list(
                    "OTEL_PROPAGATORS",
                    &value,
                    PROPAGATORS_EXPECTED,
                    parse_propagator,
                )?,
                None => match env.var("DD_TRACE_PROPAGATION_STYLE")? {
                    Some(value) => parse_list(
                        "DD_TRACE_PROPAGATION_STYLE",
                        &value,
                        PROPAGATORS_EXPECTED,
                        parse_propagator,
                    )?,
                    None => vec![PropagationFormat::TraceContext, PropagationFormat::Baggage],
                },
            },
        };

        let sampler = match self.sampler {
            Some(s) => s,
            None => parse_sampler(env)?,
        };

        let batch = match self.batch {
            Some(batch) => batch,
            None => parse_batch(env)?,
        };

        let datadog = parse_datadog(env)?;
        let metric_export_interval = Duration::from_millis(parse_positive(
            env,
            "OTEL_METRIC_EXPORT_INTERVAL",
            60_000,
            "a positive whole number of milliseconds",
        )?);
        let otlp = parse_otlp(env)?;

        let log_filter = match self.log_filter {
            Some(f) => f,
            None => env.var("RUST_LOG")?.unwrap_or_else(|| "info".to_owned()),
        };

        let prometheus_listener = match self.prometheus_listener {
            Some(addr) => Some(addr),
            None => parse_prometheus_listener(env)?,
        };

        Ok(Config {
            service: ServiceInfo {
                name,
                version,
                environment,
            },
            resource_attributes,
            traces_exporters,
            metrics_exporters,
            logs_exporters,
            propagator: Propagator::new(formats),
            sampler,
            batch,
            metric_export_interval,
            datadog,
            otlp,
            log_filter,
            prometheus_listener,
            disabled,
        })
    }
}

trait Env {
    /// The variable, trimmed; `None` when unset or empty.
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError>;
}

struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match std::env::var(name) {
            Ok(value) => Ok(non_empty(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { var: name }),
        }
    }
}

struct VarList(Vec<(String, String)>);

impl Env for VarList {
    fn var(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| non_empty(v.clone())))
    }
}

fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_owned())
    }
}

fn first_some<const N: usize>(values: [Option<String>; N]) -> Option<String> {
    values.into_iter().flatten().next()
}

fn invalid(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::InvalidValue {
        var,
        value: value.to_owned(),
        expected,
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(var, value, "true or false"))
    }
}

/// Parses a comma-separated list; `none` alone means the empty list.
fn parse_list<T: PartialEq>(
    var: &'static str,
    value: &str,
    expected: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<Vec<T>, ConfigError> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.iter().any(|item| item.eq_ignore_ascii_case("none")) {
        if items.len() == 1 {
            return Ok(Vec::new());
        }
        return Err(invalid(var, value, "`none` alone, or a list without it"));
    }
    let mut out = Vec::new();
    for item in items {
        let parsed =
            parse(&item.to_ascii_lowercase()).ok_or_else(|| invalid(var, value, expected))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    if out.is_empty() {
        return Err(invalid(var, value, expected));
    }
    Ok(out)
}

const TRACES_EXPECTED: &str = "a comma-separated list of otlp, datadog, console, or none";
const METRICS_EXPECTED: &str =
    "a comma-separated list of otlp, prometheus, datadog, dogstatsd, console, or none";
const LOGS_EXPECTED: &str = "a comma-separated list of otlp, console, or none";
const PROPAGATORS_EXPECTED: &str =
    "a comma-separated list of tracecontext, baggage, datadog, b3, b3multi, or none";
const SAMPLER_EXPECTED: &str = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio";

fn parse_traces_exporter(value: &str) -> Option<TracesExporter> {
    match value {
        "otlp" => Some(TracesExporter::Otlp),
        "datadog" => Some(TracesExporter::Datadog),
        "console" => Some(TracesExporter::Console),
        _ => None,
    }
}

fn parse_metrics_exporter(value: &str) -> Option<MetricsExporter> {
    match value {
        "otlp" => Some(MetricsExporter::Otlp),
        "prometheus" => Some(MetricsExporter::Prometheus),
        "datadog" | "dogstatsd" => Some(MetricsExporter::DogStatsD),
        "console" => Some(MetricsExporter::Console),
        _ => None,
    }
}

fn parse_logs_exporter(value: &str) -> Option<LogsExporter> {
    match value {
        "otlp" => Some(LogsExporter::Otlp),
        "console" => Some(LogsExporter::Console),
        _ => None,
    }
}

fn parse_propagator(value: &str) -> Option<PropagationFormat> {
    match value {
        "b3 single header" => Some(PropagationFormat::B3),
        _ => PropagationFormat::ALL
            .into_iter()
            .find(|f| f.name() == value),
    }
}

fn default_traces_exporter(env: &dyn Env) -> Result<Vec<TracesExporter>, ConfigError> {
    if env.var("OTEL_EXPORTER_OTLP_ENDPOINT")?.is_some()
        || env.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?.is_some()
    {
        return Ok(vec![TracesExporter::Otlp]);
    }
    if env.var("DD_TRACE_AGENT_URL")?.is_some() || env.var("DD_AGENT_HOST")?.is_some() {
        return Ok(vec![TracesExporter::Datadog]);
    }
    Ok(Vec::new())
}

fn parse_ratio(var: &'static str, value: &str) -> Result<f64, ConfigError> {
    match value.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(invalid(var, value, "a number from 0 to 1")),
    }
}

fn parse_sampler(env: &dyn Env) -> Result<Sampler, ConfigError> {
    let Some(value) = env.var("OTEL_TRACES_SAMPLER")? else {
        return Ok(match env.var("DD_TRACE_SAMPLE_RATE")? {
            Some(rate) => Sampler {
                root: RootSampler::TraceIdRatio(parse_ratio("DD_TRACE_SAMPLE_RATE", &rate)?),
                parent_based: true,
            },
            None => Sampler::default(),
        });
    };
    let ratio = || -> Result<f64, ConfigError> {
        match env.var("OTEL_TRACES_SAMPLER_ARG")? {
            Some(arg) => parse_ratio("OTEL_TRACES_SAMPLER_ARG", &arg),
            None => Ok(1.0),
        }
    };
    let (root, parent_based) = match value.to_ascii_lowercase().as_str() {
        "always_on" => (RootSampler::AlwaysOn, false),
        "always_off" => (RootSampler::AlwaysOff, false),
        "traceidratio" => (RootSampler::TraceIdRatio(ratio()?), false),
        "parentbased_always_on" => (RootSampler::AlwaysOn, true),
        "parentbased_always_off" => (RootSampler::AlwaysOff, true),
        "parentbased_traceidratio" => (RootSampler::TraceIdRatio(ratio()?), true),
        _ => return Err(invalid("OTEL_TRACES_SAMPLER", &value, SAMPLER_EXPECTED)),
    };
    Ok(Sampler { root, parent_based })
}

fn parse_resource_attributes(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    const VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
    const EXPECTED: &str = "comma-separated key=value pairs with percent-encoded values";
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| invalid(VAR, value, EXPECTED))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid(VAR, value, EXPECTED));
        }
        let decoded = percent_encoding::percent_decode_str(raw.trim())
            .decode_utf8()
            .map_err(|_| invalid(VAR, value, EXPECTED))?;
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), decoded.into_owned()));
    }
    Ok(out)
}

fn parse_prometheus_listener(env: &dyn Env) -> Result<Option<SocketAddr>, ConfigError> {
    let host = env.var("OTEL_EXPORTER_PROMETHEUS_HOST")?;
    let port = env.var("OTEL_EXPORTER_PROMETHEUS_PORT")?;
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let ip = match host.as_deref() {
        None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(text) => text.trim_matches(['[', ']']).parse().map_err(|_| {
            invalid(
                "OTEL_EXPORTER_PROMETHEUS_HOST",
                text,
                "an IP address or localhost",
            )
        })?,
    };
    let port = match port.as_deref() {
        None => 9464,
        Some(text) => text.parse::<u16>().map_err(|_| {
            invalid(
                "OTEL_EXPORTER_PROMETHEUS_PORT",
                text,
                "a port number from 0 to 65535",
            )
        })?,
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

fn parse_positive(
    env: &dyn Env,
    var: &'static str,
    default: u64,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    match env.var(var)? {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(value) if value > 0 => Ok(value),
            _ => Err(invalid(var, &text, expected)),
        },
    }
}

fn parse_batch(env: &dyn Env) -> Result<BatchConfig, ConfigError> {
    const MS: &str = "a positive whole number of milliseconds";
    const COUNT: &str = "a positive whole number";
    let defaults = BatchConfig::default();
    let schedule_delay = parse_positive(
        env,
        "OTEL_BSP_SCHEDULE_DELAY",
        defaults.schedule_delay.as_millis() as u64,
        MS,
    )?;
    let export_timeout = parse_positive(
        env,
        "OTEL_BSP_EXPORT_TIMEOUT",
        defaults.export_timeout.as_millis() as u64,
        MS,
    )?;
    let max_queue_size = parse_positive(
        env,
        "OTEL_BSP_MAX_QUEUE_SIZE",
        defaults.max_queue_size as u64,
        COUNT,
    )?;
    let max_export_batch_size = parse_positive(
        env,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        defaults.max_export_batch_size as u64,
        COUNT,
    )?;
    let max_queue_size = usize::try_from(max_queue_size).unwrap_or(usize::MAX);
    Ok(BatchConfig {
        schedule_delay: Duration::from_millis(schedule_delay),
        export_timeout: Duration::from_millis(export_timeout),
        max_queue_size,
        max_export_batch_size: usize::try_from(max_export_batch_size)
            .unwrap_or(usize::MAX)
            .min(max_queue_size),
    })
}

fn parse_datadog(env: &dyn Env) -> Result<DatadogAgent, ConfigError> {
    let trace_agent_url = match env.var("DD_TRACE_AGENT_URL")? {
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .filter(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if rest.is_none() {
                return Err(invalid(
                    "DD_TRACE_AGENT_URL",
                    &url,
                    "an http:// URL such as http://localhost:8126",
                ));
            }
            url
        }
        None => {
            let host = env
                .var("DD_AGENT_HOST")?
                .unwrap_or_else(|| "localhost".to_owned());
            if host.contains(['/', ' ', '@']) {
                return Err(invalid("DD_AGENT_HOST", &host, "a host name or IP address"));
            }
            let port = match env.var("DD_TRACE_AGENT_PORT")? {
                None => 8126,
                Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    invalid(
                        "DD_TRACE_AGENT_PORT",
                        &text,
                        "a port number from 1 to 65535",
                    )
                })?,
            };
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host
            };
            format!("http://{host}:{port}")
        }
    };
    let api_version = match env.var("DD_TRACE_API_VERSION")?.as_deref() {
        None | Some("v0.4") => DatadogApi::V04,
        Some("v0.5") => DatadogApi::V05,
        Some(other) => return Err(invalid("DD_TRACE_API_VERSION", other, "v0.4 or v0.5")),
    };
    let dogstatsd_addr = match env.var("DD_DOGSTATSD_URL")? {
        Some(url) => {
            const EXPECTED: &str = "udp://host:port, unix:///path or unixgram:///path";
            if let Some(rest) = url.strip_prefix("udp://") {
                if rest
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    return Err(invalid("DD_DOGSTATSD_URL", &url, EXPECTED));
                }
                rest.to_owned()
            } else if url
                .strip_prefix("unix://")
                .or_else(|| url.strip_prefix("unixgram://"))
                .is_some_and(|p| p.starts_with('/'))
            {
                url
            } else {
                return Err(invalid("DD_DOGSTATSD_URL", &url, EXPECTED));
            }
        }
        None => {
            let host = env
                .var("DD_AGENT_HOST")?
                .unwrap_or_else(|| "localhost".to_owned());
            let port = match env.var("DD_DOGSTATSD_PORT")? {
                None => 8125,
                Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    invalid("DD_DOGSTATSD_PORT", &text, "a port number from 1 to 65535")
                })?,
            };
            format!("{host}:{port}")
        }
    };
    Ok(DatadogAgent {
        trace_agent_url,
        api_version,
        dogstatsd_addr,
    })
}

const PROTOCOL_EXPECTED: &str = "grpc, http/protobuf or http/json";

fn parse_protocol(var: &'static str, value: &str) -> Result<OtlpProtocol, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Ok(OtlpProtocol::HttpJson),
        _ => Err(invalid(var, value, PROTOCOL_EXPECTED)),
    }
}

fn parse_otlp(env: &dyn Env) -> Result<OtlpConfig, ConfigError> {
    let general = match env.var("OTEL_EXPORTER_OTLP_PROTOCOL")? {
        Some(value) => parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", &value)?,
        None => OtlpProtocol::default(),
    };
    let signal = |var: &'static str| -> Result<OtlpProtocol, ConfigError> {
        env.var(var)?
            .map_or(Ok(general), |value| parse_protocol(var, &value))
    };
    let config = OtlpConfig {
        traces_protocol: signal("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")?,
        metrics_protocol: signal("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")?,
        logs_protocol: signal("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")?,
    };
    for prefix in ["", "TRACES_", "METRICS_", "LOGS_"] {
        check_otlp_var(env, prefix)?;
    }
    Ok(config)
}

/// Validates the variables the OTLP exporter reads itself, so a typo is an error here.
fn check_otlp_var(env: &dyn Env, prefix: &str) -> Result<(), ConfigError> {
    const VARS: [[&str; 4]; 4] = [
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ],
        [
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        ],
    ];
    let [endpoint, timeout, compression, headers] = match prefix {
        "TRACES_" => VARS[1],
        "METRICS_" => VARS[2],
        "LOGS_" => VARS[3],
        _ => VARS[0],
    };
    if let Some(value) = env.var(endpoint)?
        && (!(value.starts_with("http://") || value.starts_with("https://"))
            || value.contains(char::is_whitespace))
    {
        return Err(invalid(endpoint, &value, "an http:// or https:// URL"));
    }
    if let Some(value) = env.var(timeout)?
        && !value.parse::<u64>().is_ok_and(|ms| ms > 0)
    {
        return Err(invalid(
            timeout,
            &value,
            "a positive whole number of milliseconds",
        ));
    }
    if let Some(value) = env.var(compression)?
        && !matches!(value.to_ascii_lowercase().as_str(), "gzip" | "none")
    {
        return Err(invalid(compression, &value, "gzip or none"));
    }
    if let Some(value) = env.var(headers)? {
        let ok = value
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .all(|pair| {
                pair.split_once('=')
                    .is_some_and(|(k, _)| crate::propagation::is_header_token(k.trim()))
            });
        if !ok {
            return Err(invalid(
                headers,
                &value,
                "comma-separated key=value pairs with header-name keys",
            ));
        }
    }
    Ok(())
}
