//! One axum hello-world request through `oneshot` (no network) with each instrumentation a
//! user would pick, in the same run. Every variant records into real backends: spans into
//! a batch processor whose exporter discards, metrics into a Prometheus recorder.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use sdk_benches::{discarding_processor, traced_subscriber};
use sdk_core::config::Sampler;
use sdk_core::trace::TraceContextLayer;
use sdk_tower::HttpServerLayer;
use std::time::Duration;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

fn hello() -> Router {
    Router::new().route("/users/{id}", get(|| async { "hello" }))
}

fn request() -> http::Request<Body> {
    http::Request::get("/users/42")
        .body(Body::empty())
        .unwrap_or_default()
}

fn run(c: &mut Criterion, group_name: &str, name: &str, app: Router) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group(group_name);
    group.bench_function(name, |b| {
        b.iter(|| {
            runtime.block_on(async {
                // The response body is read to its end, as a server writing it does.
                let response = app.clone().oneshot(request()).await;
                match response {
                    Ok(response) => {
                        let status = response.status();
                        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
                        Some((status, body.map(|b| b.len()).unwrap_or(0)))
                    }
                    Err(_) => None,
                }
            })
        })
    });
    group.finish();
}

const GROUP: &str = "axum hello-world per request";

fn layers(c: &mut Criterion) {
    let propagator = sdk_core::propagation::Propagator::default();
    let ours_recorder =
        sdk_core::prometheus::catalogue_recorder().unwrap_or_else(|e| panic!("{e}"));
    let raw_recorder = sdk_core::prometheus::catalogue_builder()
        .unwrap_or_else(|e| panic!("{e}"))
        .build_recorder();

    // Bare router, with the plain registry as subscriber.
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        run(c, GROUP, "bare router", hello())
    });

    // sdk-tower: spans go to our collector and batch queue, metrics to Prometheus.
    let processor = discarding_processor();
    let ours = traced_subscriber(&processor);
    tracing::subscriber::with_default(ours, || {
        metrics::with_local_recorder(&ours_recorder, || {
            run(
                c,
                GROUP,
                "sdk-tower metrics only",
                hello().layer(
                    HttpServerLayer::new()
                        .propagator(propagator.clone())
                        .traces(false),
                ),
            );
            run(
                c,
                GROUP,
                "sdk-tower traces only",
                hello().layer(
                    HttpServerLayer::new()
                        .propagator(propagator.clone())
                        .metrics(false),
                ),
            );
            run(
                c,
                GROUP,
                "sdk-tower full",
                hello().layer(HttpServerLayer::new().propagator(propagator.clone())),
            );
        });
    });
    processor.shutdown(Duration::from_secs(5));

    // sdk-tower with trace ids for logs and propagation but no trace exporter configured.
    let ids_only = tracing_subscriber::registry().with(TraceContextLayer::new(Sampler::default()));
    tracing::subscriber::with_default(ids_only, || {
        metrics::with_local_recorder(&ours_recorder, || {
            run(
                c,
                GROUP,
                "sdk-tower full, no trace exporter",
                hello().layer(HttpServerLayer::new().propagator(propagator.clone())),
            );
        });
    });

    // tower-http TraceLayer: tracing spans only, no export.
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        run(
            c,
            GROUP,
            "tower-http TraceLayer",
            hello().layer(tower_http::trace::TraceLayer::new_for_http()),
        );
    });

    // opentelemetry-instrumentation-tower: OTel traces and metrics through the global
    // providers (batch span processor and periodic reader with discarding exporters).
    let (tracer_provider, meter_provider) = sdk_benches::otel_providers();
    let otel_layer = opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
        .with_route_extractor(
            opentelemetry_instrumentation_tower::http::extractors::AxumMatchedPathExtractor,
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        run(
            c,
            GROUP,
            "opentelemetry-instrumentation-tower",
            hello().layer(otel_layer),
        );
    });

    // DIY: TraceLayer + tracing-opentelemetry + axum-prometheus.
    let diy = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("diy")));
    tracing::subscriber::with_default(diy, || {
        metrics::with_local_recorder(&raw_recorder, || {
            let app = hello()
                .layer(tower_http::trace::TraceLayer::new_for_http())
                .layer(axum_prometheus::PrometheusMetricLayer::new());
            run(
                c,
                GROUP,
                "DIY TraceLayer + tracing-opentelemetry + axum-prometheus",
                app,
            );
        });
    });
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
}

criterion_group!(benches, layers);
criterion_main!(benches);
