//! One call that installs the `tracing` subscriber, the metrics recorder and the exporters.

use crate::catalogue;
use crate::config::{Config, ConfigError, LogsExporter, MetricsExporter, TracesExporter};
use crate::logs::{JsonLogLayer, LogFilter};
use crate::prometheus::{CatalogueRecorder, PrometheusError, PrometheusExporter};
use crate::propagation::Propagator;
use crate::semconv::sdk;
use crate::trace::TraceContextLayer;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

/// Log lines buffered between the application and the stdout writer thread; beyond this,
/// lines are dropped (and counted) rather than blocking a request.
pub const LOG_QUEUE_LINES: usize = 16_384;

/// Why [`init`] could not install the SDK.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configuration value was invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configured exporter is not part of this build.
    #[error("{signal} exporter `{exporter}` is not available in this build of sdk-core")]
    ExporterUnavailable {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's configuration name.
        exporter: &'static str,
    },
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    SubscriberAlreadySet,
    /// The Prometheus exporter could not be installed.
    #[error(transparent)]
    Prometheus(#[from] PrometheusError),
    /// A trace exporter could not be started.
    #[error("trace exporter: {0}")]
    Exporter(String),
}

/// Keeps the SDK running; [`TelemetryGuard::shutdown`] (or drop) flushes everything.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    config: Config,
    prometheus: Option<PrometheusExporter>,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    otlp_metrics: OtlpMetrics,
    #[cfg(feature = "otlp")]
    otlp_logs: Option<crate::export::otlp_logs::OtlpLogsPipeline>,
    log_worker: Option<WorkerGuard>,
    #[cfg(feature = "export")]
    span_processors: Vec<std::sync::Arc<crate::export::BatchSpanProcessor>>,
}

impl TelemetryGuard {
    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configured propagator (for server and client layers).
    pub fn propagator(&self) -> &Propagator {
        &self.config.propagator
    }

    /// The Prometheus exporter, when metrics go to Prometheus.
    pub fn prometheus(&self) -> Option<&PrometheusExporter> {
        self.prometheus.as_ref()
    }

    /// Exports every span finished so far; `false` if that took longer than `timeout`.
    pub fn force_flush(&self, timeout: std::time::Duration) -> bool {
        #[cfg(feature = "export")]
        let spans = self.span_processors.iter().all(|p| p.force_flush(timeout));
        #[cfg(feature = "otlp")]
        let metrics = self
            .otlp_metrics
            .as_ref()
            .is_none_or(|p| p.force_flush(timeout));
        #[cfg(not(feature = "otlp"))]
        let metrics = true;
        #[cfg(feature = "export")]
        {
            spans && metrics
        }
        #[cfg(not(feature = "export"))]
        {
            let _ = timeout;
            metrics
        }
    }

    /// Exports queued spans (within `OTEL_BSP_EXPORT_TIMEOUT`), flushes queued log lines and
    /// stops background threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        #[cfg(feature = "export")]
        for processor in self.span_processors.drain(..) {
            processor.shutdown(self.config.batch.export_timeout);
        }
        #[cfg(feature = "otlp")]
        if let Some(pipeline) = self.otlp_metrics.take() {
            pipeline.shutdown(
                self.config
                    .metric_export_interval
                    .min(std::time::Duration::from_secs(10))
                    .max(std::time::Duration::from_secs(5)),
            );
        }
        if let Some(prometheus) = self.prometheus.take() {
            prometheus.shutdown();
        }
        #[cfg(feature = "otlp")]
        if let Some(pipeline) = self.otlp_logs.take() {
            pipeline.shutdown(self.config.batch.export_timeout);
        }
        drop(self.log_worker.take());
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the configuration from the environment and installs the SDK.
pub fn init_from_env() -> Result<TelemetryGuard, InitError> {
    init(Config::from_env()?)
}

/// Installs the `tracing` subscriber (span ids, sampler, JSON logs filtered by the log
/// filter), the metrics recorder and the exporters of `config`.
///
/// With `OTEL_SDK_DISABLED=true` nothing is installed and the guard is inert.
pub fn init(config: Config) -> Result<TelemetryGuard, InitError> {
    if config.disabled {
        return Ok(TelemetryGuard {
            config,
            prometheus: None,
            otlp_metrics: None,
            #[cfg(feature = "otlp")]
            otlp_logs: None,
            log_worker: None,
            #[cfg(feature = "export")]
            span_processors: Vec::new(),
        });
    }
    check_available(&config)?;

    let filter = parse_filter(&config)?;

    let (prometheus, otlp_metrics) = install_metrics(&config)?;

    let (log_layer, log_worker) = if config.logs_exporters.contains(&LogsExporter::Console) {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .thread_name("sdk-log-writer")
            .finish(std::io::stdout());
        let writer = CountingWriter::new(writer);
        let layer = JsonLogLayer::new(writer, &config.service).with_filter(LogFilter::new(filter));
        (Some(layer), Some(guard))
    } else {
        (None, None)
    };

    #[cfg(feature = "export")]
    let span_processors = crate::export::processors(&config).map_err(InitError::Exporter)?;
    #[cfg(feature = "export")]
    let span_layer = (!span_processors.is_empty()).then(|| {
        let sinks: Vec<std::sync::Arc<crate::export::BatchSpanProcessor>> = span_processors.clone();
        crate::spans::SpanCollectorLayer::new(std::sync::Arc::new(crate::export::FanOut(sinks)))
            .with_filter(LevelFilter::INFO)
    });
    #[cfg(not(feature = "export"))]
    let span_layer: Option<tracing_subscriber::layer::Identity> = None;

    let mut sampler = config.sampler;
    if config.traces_exporters.contains(&TracesExporter::Datadog)
        && sampler == crate::config::Sampler::default()
    {
        sampler.root = crate::config::RootSampler::AgentRate;
    }
    #[cfg(feature = "otlp")]
    let otlp_logs = if config.logs_exporters.contains(&LogsExporter::Otlp) {
        Some(
            crate::export::otlp_logs::OtlpLogsPipeline::start(
                &config,
                config.otlp.logs_protocol,
                None,
            )
            .map_err(InitError::Exporter)?,
        )
    } else {
        None
    };
    #[cfg(feature = "otlp")]
    let otlp_log_layer = match &otlp_logs {
        Some(pipeline) => Some(
            pipeline
                .layer()
                .with_filter(LogFilter::new(parse_filter(&config)?)),
        ),
        None => None,
    };
    #[cfg(not(feature = "otlp"))]
    let otlp_log_layer: Option<tracing_subscriber::layer::Identity> = None;

    let trace_layer = TraceContextLayer::new(sampler).with_filter(LevelFilter::INFO);
    let subscriber = Registry::default()
        .with(trace_layer)
        .with(span_layer)
        .with(log_layer)
        .with(otlp_log_layer);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| InitError::SubscriberAlreadySet)?;
    let _ = tracing_log::LogTracer::init();

    Ok(TelemetryGuard {
        config,
        prometheus,
        otlp_metrics,
        #[cfg(feature = "otlp")]
        otlp_logs,
        log_worker,
        #[cfg(feature = "export")]
        span_processors,
    })
}

#[cfg(feature = "prometheus-listener")]
fn build_prometheus(
    config: &Config,
) -> Result<(CatalogueRecorder, PrometheusExporter), PrometheusError> {
    match config.prometheus_listener {
        Some(addr) => PrometheusExporter::new_with_listener(addr),
        None => PrometheusExporter::new(),
    }
}

#[cfg(not(feature = "prometheus-listener"))]
fn build_prometheus(
    config: &Config,
) -> Result<(CatalogueRecorder, PrometheusExporter), PrometheusError> {
    if config.prometheus_listener.is_some() {
        return Err(PrometheusError::Listener(
            "OTEL_EXPORTER_PROMETHEUS_HOST/PORT need the `prometheus-listener` feature".into(),
        ));
    }
    PrometheusExporter::new()
}

#[cfg(feature = "otlp")]
type OtlpMetrics = Option<crate::export::otlp_metrics::OtlpMetricsPipeline>;
#[cfg(not(feature = "otlp"))]
type OtlpMetrics = Option<std::convert::Infallible>;

fn parse_filter(config: &Config) -> Result<EnvFilter, ConfigError> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(&config.log_filter)
        .map_err(|_| ConfigError::InvalidValue {
            var: "RUST_LOG",
            value: config.log_filter.clone(),
            expected: "tracing filter directives such as `info` or `my_crate=debug,hyper=warn`",
        })
}

fn recorder_taken<E>(_: E) -> InitError {
    InitError::Prometheus(PrometheusError::RecorderAlreadySet)
}

/// One of several metric backends, boxed so that any set of them can be installed.
struct Backend(Box<dyn metrics::Recorder + Send + Sync>);

impl metrics::Recorder for Backend {
    fn describe_counter(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Counter {
        self.0.register_counter(key, metadata)
    }
    fn register_gauge(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Gauge {
        self.0.register_gauge(key, metadata)
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0.register_histogram(key, metadata)
    }
}

/// Builds the configured metric backends and installs one global recorder: the backend
/// itself when there is one (handles record straight into it), a fan-out when there are
/// several.
fn install_metrics(
    config: &Config,
) -> Result<(Option<PrometheusExporter>, OtlpMetrics), InitError> {
    let mut backends: Vec<Backend> = Vec::new();
    let prometheus = if config
        .metrics_exporters
        .contains(&MetricsExporter::Prometheus)
    {
        let (recorder, exporter) = build_prometheus(config)?;
        backends.push(Backend(Box::new(recorder)));
        Some(exporter)
    } else {
        None
    };
    #[cfg(feature = "otlp")]
    let otlp = if config.metrics_exporters.contains(&MetricsExporter::Otlp) {
        let (recorder, pipeline) = crate::export::otlp_metrics::OtlpMetricsPipeline::start(
            config,
            config.otlp.metrics_protocol,
            None,
            config.metric_export_interval,
        )
        .map_err(InitError::Exporter)?;
        backends.push(Backend(Box::new(recorder)));
        Some(pipeline)
    } else {
        None
    };
    #[cfg(not(feature = "otlp"))]
    let otlp = None;
    #[cfg(feature = "dogstatsd")]
    if config
        .metrics_exporters
        .contains(&MetricsExporter::DogStatsD)
    {
        let recorder = crate::export::dogstatsd::recorder(config, &config.datadog.dogstatsd_addr)
            .map_err(InitError::Exporter)?;
        backends.push(Backend(Box::new(recorder)));
    }

    match backends.len() {
        0 => {}
        1 => {
            if let Some(backend) = backends.pop() {
                metrics::set_global_recorder(backend).map_err(recorder_taken)?;
            }
        }
        _ => {
            let fanout = backends
                .into_iter()
                .fold(
                    metrics_util::layers::FanoutBuilder::default(),
                    |fanout, backend| fanout.add_recorder(backend),
                )
                .build();
            metrics::set_global_recorder(fanout).map_err(recorder_taken)?;
        }
    }
    crate::catalogue::describe_all();
    Ok((prometheus, otlp))
}

/// Refuses exporters this build cannot serve, rather than silently dropping data.
fn check_available(config: &Config) -> Result<(), InitError> {
    let unavailable = |signal, exporter| Err(InitError::ExporterUnavailable { signal, exporter });
    if let Some(exporter) = config.traces_exporters.first() {
        match exporter {
            TracesExporter::Otlp if cfg!(feature = "otlp") => {}
            TracesExporter::Otlp => return unavailable("traces", "otlp"),
            TracesExporter::Datadog if cfg!(feature = "datadog") => {}
            TracesExporter::Datadog => return unavailable("traces", "datadog"),
            TracesExporter::Console if cfg!(feature = "export") => {}
            TracesExporter::Console => return unavailable("traces", "console"),
        }
    }
    for exporter in &config.metrics_exporters {
        match exporter {
            MetricsExporter::Prometheus => {}
            MetricsExporter::Otlp if cfg!(feature = "otlp") => {}
            MetricsExporter::Otlp => return unavailable("metrics", "otlp"),
            MetricsExporter::DogStatsD if cfg!(feature = "dogstatsd") => {}
            MetricsExporter::DogStatsD => return unavailable("metrics", "dogstatsd"),
            MetricsExporter::Console => return unavailable("metrics", "console"),
        }
    }
    for exporter in &config.logs_exporters {
        match exporter {
            LogsExporter::Console => {}
            LogsExporter::Otlp if cfg!(feature = "otlp") => {}
            LogsExporter::Otlp => return unavailable("logs", "otlp"),
        }
    }
    Ok(())
}

/// The non-blocking stdout writer, counting lines it had to drop in
/// `sdk.exporter.dropped{sdk.signal="logs"}`.
struct CountingWriter {
    inner: NonBlocking,
    errors: ErrorCounter,
    counted: AtomicUsize,
    dropped: metrics::Counter,
}

impl CountingWriter {
    fn new(inner: NonBlocking) -> Self {
        let errors = inner.error_counter();
        let dropped = catalogue::EXPORTER_DROPPED.counter(&[
            (sdk::SIGNAL, "logs".into()),
            (sdk::EXPORTER, "console".into()),
            (sdk::REASON, "queue_full".into()),
        ]);
        Self {
            inner,
            errors,
            counted: AtomicUsize::new(0),
            dropped,
        }
    }
}

/// One log line's writer.
struct LineWriter<'a> {
    owner: &'a CountingWriter,
    inner: NonBlocking,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let result = self.inner.write_all(buf);
        let dropped = self.owner.errors.dropped_lines();
        let counted = self.owner.counted.swap(dropped, Ordering::Relaxed);
        if dropped > counted {
            self.owner.dropped.increment((dropped - counted) as u64);
        }
        result
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<'a> MakeWriter<'a> for CountingWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            owner: self,
            inner: self.inner.make_writer(),
        }
    }
}
