//! Exporter selection per signal (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`,
//! `OTEL_LOGS_EXPORTER`) and the default traces exporter.

use super::ConfigError;
use super::env::Env;

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

pub(super) const TRACES_EXPECTED: &str =
    "a comma-separated list of otlp, datadog, console, or none";
pub(super) const METRICS_EXPECTED: &str =
    "a comma-separated list of otlp, prometheus, datadog, dogstatsd, console, or none";
pub(super) const LOGS_EXPECTED: &str = "a comma-separated list of otlp, console, or none";

pub(super) fn parse_traces_exporter(value: &str) -> Option<TracesExporter> {
    match value {
        "otlp" => Some(TracesExporter::Otlp),
        "datadog" => Some(TracesExporter::Datadog),
        "console" => Some(TracesExporter::Console),
        _ => None,
    }
}

pub(super) fn parse_metrics_exporter(value: &str) -> Option<MetricsExporter> {
    match value {
        "otlp" => Some(MetricsExporter::Otlp),
        "prometheus" => Some(MetricsExporter::Prometheus),
        "datadog" | "dogstatsd" => Some(MetricsExporter::DogStatsD),
        "console" => Some(MetricsExporter::Console),
        _ => None,
    }
}

pub(super) fn parse_logs_exporter(value: &str) -> Option<LogsExporter> {
    match value {
        "otlp" => Some(LogsExporter::Otlp),
        "console" => Some(LogsExporter::Console),
        _ => None,
    }
}

pub(super) fn default_traces_exporter(env: &dyn Env) -> Result<Vec<TracesExporter>, ConfigError> {
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
