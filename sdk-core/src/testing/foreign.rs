//! A foreign `tracing` stack for tests: `tracing-opentelemetry` on a plain `Registry`, with
//! no SDK layer, exporting to memory. Instrumentation run under it must still describe its
//! spans (the [record hook](crate::record) falls back to span fields).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::layer::SubscriberExt;

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

/// A `tracing-opentelemetry` layer exporting to memory, and the spans it exported.
pub struct OtelCapture {
    provider: SdkTracerProvider,
    spans: Collect,
}

impl std::fmt::Debug for OtelCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelCapture").finish_non_exhaustive()
    }
}

impl Default for OtelCapture {
    fn default() -> Self {
        let spans = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        Self { provider, spans }
    }
}

impl OtelCapture {
    /// The `tracing-opentelemetry` layer, for any registry-based subscriber.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("foreign-test"))
    }

    /// Spans exported so far (each is exported when it closes).
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        self.spans
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `f` under a subscriber made only of `tracing-opentelemetry` (no SDK layer) and
/// returns the spans it exported.
pub fn capture_foreign(f: impl FnOnce()) -> Vec<SpanData> {
    let capture = OtelCapture::default();
    let subscriber = tracing_subscriber::registry().with(capture.layer());
    tracing::subscriber::with_default(subscriber, f);
    capture.spans()
}

/// The string form of attribute `key` of `span`.
pub fn otel_attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}
