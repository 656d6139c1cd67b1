//! Runs one server-layer variant of the `http_layer` benchmark in a loop, for a profiler
//! (`valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's
//! load): `profile_layer <bare|metrics|traces|full|ids|otel|diy> [requests]`. `otel` is
//! opentelemetry-instrumentation-tower, `diy` is TraceLayer + tracing-opentelemetry +
//! axum-prometheus, set up as in the `http_layer` benchmark.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{BatchSpanProcessor as OtelBatch, SdkTracerProvider, SpanData};
use sdk_core::config::{BatchConfig, Sampler};
use sdk_core::export::{BatchSpanProcessor, ExportError, SpanExporter};
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::trace::TraceContextLayer;
use sdk_tower::HttpServerLayer;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

struct Discard;

impl SpanExporter for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        black_box(batch);
        Ok(())
    }
}

#[derive(Debug)]
struct NoopSpans;

impl opentelemetry_sdk::trace::SpanExporter for NoopSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

#[derive(Debug)]
struct NoopMetrics;

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

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "full".to_owned());
    let requests: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let propagator = sdk_core::propagation::Propagator::default();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    let processor = Arc::new(
        BatchSpanProcessor::new(Box::new(Discard), BatchConfig::default())
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let router = Router::new().route("/users/{id}", get(|| async { "hello" }));
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
    let raw_recorder = sdk_core::prometheus::catalogue_builder()
        .unwrap_or_else(|e| panic!("{e}"))
        .build_recorder();
    if variant == "otel" || variant == "diy" {
        let app = if variant == "otel" {
            router.layer(
                opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
                    .with_route_extractor(
                        opentelemetry_instrumentation_tower::http::extractors::AxumMatchedPathExtractor,
                    )
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        } else {
            router
                .layer(tower_http::trace::TraceLayer::new_for_http())
                .layer(axum_prometheus::PrometheusMetricLayer::new())
        };
        let subscriber = tracing_subscriber::registry()
            .with((variant == "diy").then(|| {
                tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("diy"))
            }));
        tracing::subscriber::with_default(subscriber, || {
            metrics::with_local_recorder(&raw_recorder, || drive(&variant, app, requests))
        });
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
        return;
    }
    let (app, collect) = match variant.as_str() {
        "bare" => (router, false),
        "metrics" => (
            router.layer(HttpServerLayer::new(propagator).traces(false)),
            true,
        ),
        "traces" => (
            router.layer(HttpServerLayer::new(propagator).metrics(false)),
            true,
        ),
        "ids" => (router.layer(HttpServerLayer::new(propagator)), false),
        _ => (router.layer(HttpServerLayer::new(propagator)), true),
    };
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(collect.then(|| SpanCollectorLayer::new(processor.clone())));
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || drive(&variant, app, requests))
    });
    processor.shutdown(Duration::from_secs(5));
}

fn drive(variant: &str, app: Router, requests: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    for _ in 0..requests {
        let request = http::Request::get("/users/42")
            .body(Body::empty())
            .unwrap_or_default();
        let status = runtime.block_on(app.clone().oneshot(request));
        black_box(status.map(|r| r.status()).ok());
    }
    let elapsed = started.elapsed();
    println!(
        "{variant}: {requests} requests, {:.0} ns/request",
        elapsed.as_nanos() as f64 / requests as f64
    );
}
