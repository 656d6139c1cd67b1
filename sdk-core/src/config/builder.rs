//! [`ConfigBuilder`]: builder settings first, then the environment.

use super::batch::parse_batch;
use super::datadog::parse_datadog;
use super::env::{Env, ProcessEnv, VarList, first_some, parse_bool, parse_list, parse_positive};
use super::exporters::{
    LOGS_EXPECTED, METRICS_EXPECTED, TRACES_EXPECTED, default_traces_exporter, parse_logs_exporter,
    parse_metrics_exporter, parse_traces_exporter,
};
use super::otlp::parse_otlp;
use super::prometheus_listener::parse_prometheus_listener;
use super::propagation::{PROPAGATORS_EXPECTED, parse_propagator};
use super::sampler::parse_sampler;
use super::service::parse_resource_attributes;
use super::{
    BatchConfig, Config, ConfigError, LogsExporter, MetricsExporter, Sampler, ServiceInfo,
    TracesExporter,
};
use crate::propagation::{PropagationFormat, Propagator};
use crate::semconv::resource;
use std::net::SocketAddr;
use std::time::Duration;

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
        // An empty value (`service.name=`) names nothing: the next source decides.
        let from_resource = |key: &str| {
            resource_attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
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
