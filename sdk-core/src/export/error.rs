//! The error every exporter start-up returns.

/// Why an exporter could not be started.
///
/// Every variant names the signal (`traces`, `metrics` or `logs`) and the exporter
/// (`otlp`, `datadog`, `dogstatsd`, `console`, or a custom exporter's
/// [`SpanExporter::name`](super::SpanExporter::name)), and keeps the underlying error as
/// its [`source`](std::error::Error::source) where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// The configured exporter is not part of this build of sdk-core.
    #[error("{signal} exporter `{exporter}` is not available in this build of sdk-core")]
    Unavailable {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
    },
    /// A setting the exporter reads is invalid: its endpoint (the `endpoint` argument or
    /// `OTEL_EXPORTER_OTLP_(<SIGNAL>_)ENDPOINT`), protocol, headers or compression. The
    /// source's message names the setting and the offending value.
    #[error("{signal} exporter `{exporter}`: {source}")]
    InvalidSetting {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
        /// The exporter library's description of the setting and its value.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The DogStatsD address (`DD_DOGSTATSD_URL`, or `DD_AGENT_HOST` and
    /// `DD_DOGSTATSD_PORT`) cannot be used.
    #[error(
        "metrics exporter `dogstatsd`: invalid address {addr:?}: {source}; expected host:port, udp://host:port, unix:///path or unixgram:///path"
    )]
    DogStatsDAddress {
        /// The address as given.
        addr: String,
        /// Why it was refused (parse or name resolution failure).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The exporter library failed to build the exporter for a reason other than an
    /// invalid setting.
    #[error("{signal} exporter `{exporter}` could not be built: {source}")]
    Build {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
        /// The exporter library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The exporter's worker thread could not be spawned.
    #[error("{signal} exporter `{exporter}`: cannot start its worker thread: {source}")]
    Thread {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's name.
        exporter: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The single-threaded Tokio runtime the exporter runs on could not be built.
    #[error("{signal} exporter `{exporter}`: cannot start its Tokio runtime: {source}")]
    Runtime {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The exporter's worker thread ended before saying whether the exporter started.
    #[error("{signal} exporter `{exporter}`: its worker thread exited during start-up")]
    WorkerExited {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
    },
}
