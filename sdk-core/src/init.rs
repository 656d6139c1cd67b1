//! One call that installs the `tracing` subscriber, the metrics recorder and the exporters.

use crate::catalogue;
use crate::config::{Config, ConfigError, LogsExporter, MetricsExporter, TracesExporter};
use crate::prometheus::{CatalogueRecorder, PrometheusError, PrometheusExporter};
use crate::propagation::Propagator;
use crate::semconv::sdk;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

/// Log lines buffered between the application and the stdout writer thread; beyond this,
/// lines are dropped (and counted) rather than blocking a request.
pub const LOG_QUEUE_LINES: usize = 16_384;

/// Why [`init`] could not install the SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// An application metric was refused by the catalogue.
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    SubscriberAlreadySet,
    /// The Prometheus exporter could not be installed.
    #[error(transparent)]
    Prometheus(#[from] PrometheusError),
    /// An exporter could not be started; the error names the signal, the exporter and
    /// what failed. (Without feature `export` no exporter is started, and the variant is
    /// absent.)
    #[cfg(feature = "export")]
    #[error(transparent)]
    Exporter(#[from] crate::export::ExporterError),
    /// Layers were added with `with_layer` to a setup that returns its layers for the
    /// user's own subscriber (add them to that subscriber instead).
    #[error(
        "layers added with `with_layer` are installed by `init`; with `into_layers`, add them to your own registry"
    )]
    LayersNeedInit,
}

/// Keeps the SDK running; [`TelemetryGuard::shutdown`] (or drop) flushes everything.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    pub(crate) config: Config,
    pub(crate) prometheus: Option<PrometheusExporter>,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) otlp_metrics: OtlpMetrics,
    #[cfg(feature = "otlp")]
    pub(crate) otlp_logs: Option<crate::export::otlp_logs::OtlpLogsPipeline>,
    pub(crate) log_worker: Option<WorkerGuard>,
    #[cfg(feature = "export")]
    pub(crate) span_processors: Vec<std::sync::Arc<crate::export::BatchSpanProcessor>>,
    #[cfg(feature = "process-metrics")]
    pub(crate) process_metrics: Option<crate::process_metrics::Collector>,
}

impl TelemetryGuard {
    /// A guard that owns nothing (the SDK is disabled).
    pub(crate) fn inert(config: Config) -> Self {
        Self {
            config,
            prometheus: None,
            otlp_metrics: None,
            #[cfg(feature = "otlp")]
            otlp_logs: None,
            log_worker: None,
            #[cfg(feature = "export")]
            span_processors: Vec::new(),
            #[cfg(feature = "process-metrics")]
            process_metrics: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configured propagator (for server and client layers).
    pub fn propagator(&self) -> &Propagator {
        &self.config.propagator
    }

    /// A `tower::Service` answering with the Prometheus text (mount it at `/metrics`), when
    /// metrics go to Prometheus.
    #[cfg(feature = "http")]
    pub fn metrics_service(&self) -> Option<crate::prometheus::MetricsService> {
        self.prometheus
            .as_ref()
            .map(|p| crate::prometheus::MetricsService::new(p.handle()))
    }

    /// The Prometheus exporter, when metrics go to Prometheus.
    pub fn prometheus(&self) -> Option<&PrometheusExporter> {
        self.prometheus.as_ref()
    }

    /// Reports the runtime of `handle` in the `sdk.runtime.tokio.*` metrics from now on,
    /// instead of the runtime that was current when `init` ran (if any): for a setup that
    /// runs before its runtime is built, or that wants another runtime reported. Collects
    /// once right away. `false` when process metrics are off (nothing is watched then).
    #[cfg(feature = "runtime-metrics")]
    pub fn watch_runtime(&self, handle: tokio::runtime::Handle) -> bool {
        match &self.process_metrics {
            Some(collector) => {
                collector.watch_runtime(handle);
                true
            }
            None => false,
        }
    }

    /// Exports every span finished so far, and the OTLP metrics and logs recorded so far;
    /// `false` if an export failed or `timeout` passed first. Every exporter is asked at
    /// once and all share the one deadline.
    pub fn force_flush(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        #[cfg(feature = "export")]
        let spans: Vec<_> = self
            .span_processors
            .iter()
            .map(|p| p.request_flush(deadline))
            .collect();
        #[cfg(feature = "otlp")]
        let metrics = self
            .otlp_metrics
            .as_ref()
            .map(|p| p.request_flush(deadline));
        #[cfg(feature = "otlp")]
        let logs = self.otlp_logs.as_ref().map(|p| p.request_flush(deadline));
        let _ = deadline;
        #[cfg_attr(not(feature = "export"), allow(unused_mut))]
        let mut ok = true;
        #[cfg(feature = "export")]
        for pending in spans {
            ok &= pending.wait();
        }
        #[cfg(feature = "otlp")]
        {
            ok &= metrics.is_none_or(|p| p.wait());
            ok &= logs.is_none_or(|p| p.wait());
        }
        ok
    }

    /// Delivers what was recorded before the call and stops background threads (the
    /// process metrics collector first): queued
    /// spans, a last OTLP metrics collection and queued OTLP log records are exported
    /// within `OTEL_BSP_EXPORT_TIMEOUT` (every exporter at once, one shared deadline; a
    /// backend that is down costs at most that long), DogStatsD gets its last flush, and
    /// queued JSON log lines are written out.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.config.disabled {
            return;
        }
        // First, so that nothing is recorded after the exporters' last collection.
        #[cfg(feature = "process-metrics")]
        drop(self.process_metrics.take());
        let asked = std::time::Instant::now();
        let deadline = asked + self.config.batch.export_timeout;
        let _ = deadline; // unused when no exporter is compiled in
        // Ask every export worker first, then wait for all of them against one deadline,
        // so that one slow backend does not use up the others' time.
        #[cfg(feature = "export")]
        let processors = std::mem::take(&mut self.span_processors);
        #[cfg(feature = "export")]
        let spans: Vec<_> = processors
            .iter()
            .map(|p| p.request_shutdown(deadline))
            .collect();
        #[cfg(feature = "otlp")]
        let metrics = self.otlp_metrics.take();
        #[cfg(feature = "otlp")]
        let metrics_stopping = metrics.as_ref().map(|p| p.request_shutdown(deadline));
        #[cfg(feature = "otlp")]
        let logs = self.otlp_logs.take();
        #[cfg(feature = "otlp")]
        let logs_stopping = logs.as_ref().map(|p| p.request_shutdown(deadline));
        #[cfg_attr(not(feature = "export"), allow(unused_mut))]
        let mut delivered = true;
        #[cfg(feature = "export")]
        for pending in spans {
            delivered &= pending.wait();
        }
        #[cfg(feature = "otlp")]
        {
            delivered &= metrics_stopping.is_none_or(|p| p.wait());
            if let Some(pipeline) = &metrics {
                pipeline.stop_provider();
            }
            delivered &= logs_stopping.is_none_or(|p| p.wait());
        }
        #[cfg(feature = "dogstatsd")]
        if self
            .config
            .metrics_exporters
            .contains(&MetricsExporter::DogStatsD)
        {
            let sent = crate::export::dogstatsd::sent_by(asked).min(deadline);
            std::thread::sleep(sent.saturating_duration_since(std::time::Instant::now()));
        }
        if !delivered {
            tracing::warn!(target: "sdk_core::shutdown", timeout_ms = self.config.batch.export_timeout.as_millis() as u64, "telemetry shutdown: some exports failed or timed out; the data is counted in sdk.exporter.dropped");
        }
        if let Some(prometheus) = self.prometheus.take() {
            prometheus.shutdown();
        }
        drop(self.log_worker.take());
        // Stopped: the guard is now as inert as a disabled one (drop after `shutdown`
        // has nothing left to do).
        self.config.disabled = true;
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
/// filter), the metrics recorder and the exporters of `config`, and publishes `config` for
/// the layers and wrappers built afterwards ([`crate::global`]). For your own layers or span
/// exporters, or your own subscriber, see [`crate::builder`].
///
/// With `OTEL_SDK_DISABLED=true` nothing is installed and the guard is inert.
pub fn init(config: Config) -> Result<TelemetryGuard, InitError> {
    crate::setup::builder(config).init()
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
pub(crate) type OtlpMetrics = Option<crate::export::otlp_metrics::OtlpMetricsPipeline>;
#[cfg(not(feature = "otlp"))]
pub(crate) type OtlpMetrics = Option<std::convert::Infallible>;

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
pub(crate) fn install_metrics(
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
        )?;
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
        let recorder = crate::export::dogstatsd::recorder(config, &config.datadog.dogstatsd_addr)?;
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
pub(crate) fn check_available(config: &Config) -> Result<(), InitError> {
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
pub(crate) struct CountingWriter {
    inner: NonBlocking,
    errors: ErrorCounter,
    counted: AtomicUsize,
    dropped: metrics::Counter,
}

impl CountingWriter {
    pub(crate) fn new(inner: NonBlocking) -> Self {
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
pub(crate) struct LineWriter<'a> {
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
