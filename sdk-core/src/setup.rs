//! Composable setup: the SDK's `tracing` layers as a value, or installed with the team's own.
//!
//! Two ways in, both reading one [`Config`]:
//!
//! - **The SDK installs the subscriber** ([`crate::init`], or [`builder`] for more): a
//!   `Registry` with your layers ([`TelemetryBuilder::with_layer`]: a fmt layer,
//!   `sentry-tracing`, `console-subscriber`, `tracing-opentelemetry`…) and the SDK's.
//! - **You install the subscriber** ([`TelemetryBuilder::into_layers`]): the SDK's layers
//!   are one value you add to your own `Registry`, in any position:
//!   `tracing_subscriber::registry().with(sdk_layers).with(your_layer).init()`.
//!
//! Either way the metrics recorder and exporters are installed, the configuration is
//! published for the server/client layers and database wrappers ([`crate::global`]), and
//! the returned [`TelemetryGuard`] flushes everything on shutdown. Span exporters of your
//! own ([`TelemetryBuilder::with_span_exporter`]) run behind the same bounded batch queue as
//! the SDK's.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! let config = sdk_core::config::Config::from_env()?;
//! let (sdk_layers, telemetry) = sdk_core::builder(config).into_layers()?;
//! tracing_subscriber::registry()
//!     .with(sdk_layers)
//!     .with(tracing_subscriber::fmt::layer().compact())
//!     .init();
//! tracing::info!("both the SDK and the fmt layer see this");
//! telemetry.shutdown();
//! # Ok(()) }
//! ```

use crate::config::{Config, LogsExporter, TracesExporter};
use crate::init::{CountingWriter, InitError, LOG_QUEUE_LINES, TelemetryGuard, install_metrics};
use crate::logs::{JsonLogLayer, LogFilter, LossCountingOutput};
use crate::trace::TraceContextLayer;
use tracing::Subscriber;
use tracing_appender::non_blocking::NonBlockingBuilder;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// A layer of the user's, boxed for the subscriber [`TelemetryBuilder::init`] installs.
pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Setup with the team's own layers and span exporters; see the [module](self).
#[must_use = "nothing is installed until `init` or `into_layers`"]
pub struct TelemetryBuilder {
    config: Config,
    layers: Vec<BoxedLayer>,
    metrics: Vec<&'static crate::catalogue::MetricDef>,
    #[cfg(feature = "export")]
    span_exporters: Vec<Box<dyn crate::export::SpanExporter>>,
    #[cfg(feature = "process-metrics")]
    process_metrics: crate::process_metrics::Settings,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service", &self.config.service.name)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

/// Starts a setup from `config`.
pub fn builder(config: Config) -> TelemetryBuilder {
    TelemetryBuilder {
        config,
        layers: Vec::new(),
        metrics: Vec::new(),
        #[cfg(feature = "export")]
        span_exporters: Vec::new(),
        #[cfg(feature = "process-metrics")]
        process_metrics: crate::process_metrics::Settings::default(),
    }
}

impl TelemetryBuilder {
    /// Adds one of your layers to the subscriber [`init`](Self::init) installs (beside the
    /// SDK's; it sees every span and event, with your own filters). Layers for
    /// [`into_layers`](Self::into_layers) go into your own `Registry` instead.
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers.push(Box::new(layer));
        self
    }

    /// Adds the service's own metrics to the catalogue (see
    /// [`catalogue::register`](crate::catalogue::register)) before the exporters start, so
    /// they get their units, descriptions, buckets and cardinality ceilings. A refused
    /// definition fails [`init`](Self::init) / [`into_layers`](Self::into_layers) with
    /// [`InitError::Catalogue`].
    pub fn with_metrics(mut self, defs: &[&'static crate::catalogue::MetricDef]) -> Self {
        self.metrics.extend_from_slice(defs);
        self
    }

    /// Sends finished spans to `exporter` too, through its own bounded batch queue
    /// (`OTEL_BSP_*`), besides the exporters `OTEL_TRACES_EXPORTER` chose.
    #[cfg(feature = "export")]
    pub fn with_span_exporter(mut self, exporter: impl crate::export::SpanExporter) -> Self {
        self.span_exporters.push(Box::new(exporter));
        self
    }

    /// Turns the process (and Tokio runtime) metrics on or off; this wins over
    /// `SDK_PROCESS_METRICS`. They are on by default (see [`crate::process_metrics`]).
    #[cfg(feature = "process-metrics")]
    pub fn with_process_metrics(mut self, enabled: bool) -> Self {
        self.process_metrics.enabled = Some(enabled);
        self
    }

    /// Collects the process metrics every `interval` (at least
    /// [`MIN_INTERVAL`](crate::process_metrics::MIN_INTERVAL); a shorter one fails `init`
    /// with [`InitError::Config`]); this wins over `SDK_PROCESS_METRICS_INTERVAL`.
    #[cfg(feature = "process-metrics")]
    pub fn with_process_metrics_interval(mut self, interval: std::time::Duration) -> Self {
        self.process_metrics.interval = Some(interval);
        self
    }

    /// Installs the metrics recorder, the exporters and a global `tracing` subscriber made
    /// of your layers and the SDK's.
    pub fn init(mut self) -> Result<TelemetryGuard, InitError> {
        let layers = std::mem::take(&mut self.layers);
        let (sdk_layers, guard) = self.build::<SdkBase>()?;
        let Some(sdk_layers) = sdk_layers else {
            return Ok(guard);
        };
        let subscriber = Registry::default()
            .with((!layers.is_empty()).then_some(layers))
            .with(sdk_layers);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| InitError::SubscriberAlreadySet)?;
        let _ = tracing_log::LogTracer::init();
        Ok(guard)
    }

    /// Installs the metrics recorder and the exporters, and returns the SDK's `tracing`
    /// layers for your own subscriber (with `OTEL_SDK_DISABLED=true`: layers that do
    /// nothing). Layers added with [`with_layer`](Self::with_layer) belong in that
    /// subscriber too: this refuses them rather than dropping them.
    pub fn into_layers<S>(self) -> Result<(SdkLayers<S>, TelemetryGuard), InitError>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if !self.layers.is_empty() {
            return Err(InitError::LayersNeedInit);
        }
        let (layers, guard) = self.build::<S>()?;
        let layers = layers.map(|l| Box::new(l) as Box<dyn Layer<S> + Send + Sync + 'static>);
        Ok((SdkLayers(layers), guard))
    }

    /// The SDK's layers for a subscriber `S` (`None` when disabled), and the guard.
    #[allow(clippy::type_complexity)]
    fn build<S>(
        self,
    ) -> Result<
        (
            Option<impl Layer<S> + Send + Sync + 'static>,
            TelemetryGuard,
        ),
        InitError,
    >
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        crate::catalogue::register(&self.metrics)?;
        let config = self.config;
        if config.disabled {
            crate::global::set_config(config.clone());
            return Ok((None, TelemetryGuard::inert(config)));
        }
        crate::init::check_available(&config)?;
        let filter = parse_filter(&config)?;
        #[cfg(feature = "process-metrics")]
        let process_metrics_interval = self.process_metrics.resolve()?;
        let (prometheus, otlp_metrics) = install_metrics(&config)?;

        let (log_layer, log_worker) = if config.logs_exporters.contains(&LogsExporter::Console) {
            let (writer, guard) = NonBlockingBuilder::default()
                .lossy(true)
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .thread_name("sdk-log-writer")
                .finish(LossCountingOutput::new(std::io::stdout()));
            let layer = JsonLogLayer::new(CountingWriter::new(writer), &config.service)
                .with_filter(LogFilter::new(filter));
            (Some(layer), Some(guard))
        } else {
            (None, None)
        };

        #[cfg(feature = "export")]
        let span_processors = {
            let mut processors = crate::export::processors(&config)?;
            for exporter in self.span_exporters {
                let processor = crate::export::start_processor(exporter, config.batch)?;
                processors.push(std::sync::Arc::new(processor));
            }
            processors
        };
        #[cfg(feature = "export")]
        let span_layer = (!span_processors.is_empty()).then(|| {
            let sinks = span_processors.clone();
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
            Some(crate::export::otlp_logs::OtlpLogsPipeline::start(
                &config,
                config.otlp.logs_protocol,
                None,
            )?)
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

        let layers = TraceContextLayer::new(sampler)
            .with_filter(LevelFilter::INFO)
            .and_then(span_layer)
            .and_then(log_layer)
            .and_then(otlp_log_layer);
        crate::global::set_config(config.clone());
        // Last, once nothing can fail: its first collection needs the recorder.
        #[cfg(feature = "process-metrics")]
        let process_metrics =
            process_metrics_interval.map(crate::process_metrics::Collector::start);
        let guard = TelemetryGuard {
            config,
            prometheus,
            otlp_metrics,
            #[cfg(feature = "otlp")]
            otlp_logs,
            log_worker,
            #[cfg(feature = "export")]
            span_processors,
            #[cfg(feature = "process-metrics")]
            process_metrics,
        };
        Ok((Some(layers), guard))
    }
}

/// The subscriber the SDK's layers sit on in [`TelemetryBuilder::init`].
type SdkBase = tracing_subscriber::layer::Layered<Option<Vec<BoxedLayer>>, Registry>;

/// The SDK's `tracing` layers (span ids and sampling, span export, JSON and OTLP logs), to
/// add to your own subscriber; see the [module](self).
pub struct SdkLayers<S>(Option<Box<dyn Layer<S> + Send + Sync + 'static>>);

impl<S> std::fmt::Debug for SdkLayers<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkLayers")
            .field("enabled", &self.0.is_some())
            .finish()
    }
}

impl<S> SdkLayers<S> {
    /// The layers as one boxed layer (`None` when the SDK is disabled).
    pub fn into_inner(self) -> Option<Box<dyn Layer<S> + Send + Sync + 'static>> {
        self.0
    }
}

impl<S> Layer<S> for SdkLayers<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.enabled(metadata, ctx)
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }
    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }
    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.event_enabled(event, ctx)
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_event(event, ctx);
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
    fn on_id_change(
        &self,
        old: &tracing::span::Id,
        new: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_id_change(old, new, ctx);
    }
    // SAFETY: forwards to the boxed layers, which uphold `downcast_raw`'s contract.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: the same call with the same id, on the layers this value owns.
        unsafe { self.0.downcast_raw(id) }
    }
}

/// The log filter of `config` (`RUST_LOG` syntax).
pub(crate) fn parse_filter(config: &Config) -> Result<EnvFilter, crate::config::ConfigError> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(&config.log_filter)
        .map_err(|_| crate::config::ConfigError::InvalidValue {
            var: "RUST_LOG",
            value: config.log_filter.clone(),
            expected: "tracing filter directives such as `info` or `my_crate=debug,hyper=warn`",
        })
}
