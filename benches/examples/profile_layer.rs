//! Runs one server-layer variant of the `http_layer` benchmark in a loop, for a profiler
//! (`valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's
//! load): `profile_layer <bare|metrics|traces|full|ids|otel|diy> [requests]`. `otel` is
//! opentelemetry-instrumentation-tower, `diy` is TraceLayer + tracing-opentelemetry +
//! axum-prometheus, set up as in the `http_layer` benchmark.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use sdk_benches::discarding_processor;
use sdk_core::config::Sampler;
use sdk_core::spans::SpanCollectorLayer;
use sdk_core::trace::TraceContextLayer;
use sdk_tower::HttpServerLayer;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "full".to_owned());
    let requests: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let propagator = sdk_core::propagation::Propagator::default();
    let recorder = sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    let processor = discarding_processor();
    let router = Router::new().route("/users/{id}", get(|| async { "hello" }));
    let (tracer_provider, meter_provider) = sdk_benches::otel_providers();
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
            router.layer(HttpServerLayer::new().propagator(propagator).traces(false)),
            true,
        ),
        "traces" => (
            router.layer(HttpServerLayer::new().propagator(propagator).metrics(false)),
            true,
        ),
        "ids" => (
            router.layer(HttpServerLayer::new().propagator(propagator)),
            false,
        ),
        _ => (
            router.layer(HttpServerLayer::new().propagator(propagator)),
            true,
        ),
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
    let runtime = sdk_benches::runtime();
    let started = Instant::now();
    for _ in 0..requests {
        let request = http::Request::get("/users/42")
            .body(Body::empty())
            .unwrap_or_default();
        // The response body is read to its end, as a server writing it does.
        let read = runtime.block_on(async {
            let response = app.clone().oneshot(request).await.ok()?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            Some((status, body.map(|b| b.len()).unwrap_or(0)))
        });
        black_box(read);
    }
    let elapsed = started.elapsed();
    println!(
        "{variant}: {requests} requests, {:.0} ns/request",
        elapsed.as_nanos() as f64 / requests as f64
    );
}
