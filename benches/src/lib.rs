//! Benchmarks live in `benches/`; this library holds what they and the profiling examples
//! share: exporters that discard, the production span path (ids, collector, batch queue)
//! to record into, a sample request's spans and the SQL corpus; [`collectors`] holds the
//! peers and values of the background collectors' comparisons.

pub mod collectors;

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

/// Statements as applications write them: parameterized, with inline literals, comments
/// (752 bytes).
pub const SQL_CORPUS: &[&str] = &[
    "SELECT u.id, u.email, u.created_at FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL",
    "INSERT INTO orders (id, user_id, total, currency, note) VALUES (42, 7, 19.99, 'EUR', 'gift for O''Brien')",
    "UPDATE accounts SET balance = balance - 100.50, updated_at = now() WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8) -- transfer",
    "SELECT * FROM events /* hot path */ WHERE kind = 'click' AND ts > '2026-01-01T00:00:00Z' ORDER BY ts DESC LIMIT 100",
    "WITH recent AS (SELECT user_id, count(*) AS n FROM sessions WHERE started_at > $1 GROUP BY user_id) SELECT u.name, r.n FROM users u JOIN recent r ON r.user_id = u.id WHERE r.n > 10",
    "DELETE FROM tokens WHERE expires_at < $1 OR token = E'abc\\'def' OR id = 0x1F",
    "SELECT $fn$ body with 'quotes' $fn$, TRUE, FALSE, NULL, -3.5e10 FROM dual",
];

/// A realistic request: server span with HTTP attributes and a database child.
pub fn sample_request() {
    let server = tracing::info_span!(
        "http.server.request",
        otel.name = "GET /users/{id}",
        otel.kind = "server",
        http.request.method = "GET",
        http.route = "/users/{id}",
        url.scheme = "http",
        http.response.status_code = tracing::field::Empty,
        request_id = "4bf92f3577b34da6",
    );
    let _g = server.enter();
    tracing::info_span!(
        "db",
        otel.name = "SELECT users",
        otel.kind = "client",
        db.system.name = "postgresql",
        db.query.text = "SELECT * FROM users WHERE id = $1",
    )
    .in_scope(|| {});
    server.record("http.response.status_code", 200);
}

/// The spans of `spans / 2` sample requests, as the collector finishes them.
pub fn sample_batch(spans: usize) -> Vec<FinishedSpan> {
    let finished = Arc::new(std::sync::Mutex::new(Vec::with_capacity(spans)));
    let sink = Arc::clone(&finished);
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(Arc::new(
            move |span: FinishedSpan| {
                if let Ok(mut spans) = sink.lock() {
                    spans.push(span);
                }
            },
        )));
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..spans / 2 {
            sample_request();
        }
    });
    finished
        .lock()
        .map(|mut spans| std::mem::take(&mut *spans))
        .unwrap_or_default()
}
