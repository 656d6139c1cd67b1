//! Benchmarks live in `benches/`; this library holds what they and the profiling examples
//! share: exporters that discard, and the production span path (ids, collector, batch
//! queue) to record into.

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanData;
use sdk_core::config::{BatchConfig, Sampler};
use sdk_core::export::{BatchSpanProcessor, ExportError, SpanExporter};
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::trace::TraceContextLayer;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

/// Our span exporter that drops every batch (after the batch processor's work).
#[derive(Debug)]
pub struct Discard;

impl SpanExporter for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        black_box(batch);
        Ok(())
    }
}

/// An OpenTelemetry SDK span exporter that drops every batch.
#[derive(Debug)]
pub struct NoopSpans;

impl opentelemetry_sdk::trace::SpanExporter for NoopSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// An OpenTelemetry SDK metric exporter that drops every export.
#[derive(Debug)]
pub struct NoopMetrics;

impl PushMetricExporter for NoopMetrics {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        black_box(metrics);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// A batch processor in front of [`Discard`], with room for a whole benchmark's spans.
pub fn discarding_processor() -> Arc<BatchSpanProcessor> {
    let mut config = BatchConfig::default();
    config.max_queue_size = 1 << 16;
    Arc::new(BatchSpanProcessor::new(Box::new(Discard), config).unwrap_or_else(|e| panic!("{e}")))
}

/// The production span path: trace ids, span collection, the batch queue of `processor`.
pub fn traced_subscriber(
    processor: &Arc<BatchSpanProcessor>,
) -> impl tracing::Subscriber + Send + Sync + use<> {
    tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(processor.clone()))
}

/// A current-thread tokio runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// OpenTelemetry SDK providers as a user of its tower layer or of `tracing-opentelemetry`
/// sets them up: a batch span processor and a periodic metric reader, both exporting
/// nowhere, installed as the global providers.
pub fn otel_providers() -> (
    opentelemetry_sdk::trace::SdkTracerProvider,
    opentelemetry_sdk::metrics::SdkMeterProvider,
) {
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
    use opentelemetry_sdk::trace::{BatchSpanProcessor as OtelBatch, SdkTracerProvider};
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(OtelBatch::builder(NoopSpans).build())
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(NoopMetrics)
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    (tracer_provider, meter_provider)
}
