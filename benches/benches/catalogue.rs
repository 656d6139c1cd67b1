//! Recording through a catalogue definition vs the raw `metrics` facade, both into the
//! Prometheus recorder with the same buckets.

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::SharedString;
use sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION;
use sdk_core::prometheus::{catalogue_builder, catalogue_recorder};
use sdk_core::semconv::{http, url};
use std::hint::black_box;

fn labels() -> [(&'static str, SharedString); 4] {
    [
        (http::REQUEST_METHOD, SharedString::const_str("GET")),
        (http::ROUTE, SharedString::const_str("/users/{id}")),
        (http::RESPONSE_STATUS_CODE, SharedString::const_str("200")),
        (url::SCHEME, SharedString::const_str("http")),
    ]
}

fn record(c: &mut Criterion) {
    let raw_recorder = catalogue_builder()
        .expect("catalogue buckets are valid")
        .build_recorder();
    let ours_recorder = catalogue_recorder().expect("catalogue buckets are valid");
    let mut group = c.benchmark_group("histogram record");

    let raw = metrics::with_local_recorder(&raw_recorder, || {
        metrics::histogram!(
            "http.server.request.duration",
            "http.request.method" => "GET",
            "http.route" => "/users/{id}",
            "http.response.status_code" => "200",
            "url.scheme" => "http"
        )
    });
    group.bench_function("raw metrics handle", |b| {
        b.iter(|| raw.record(black_box(0.042)))
    });

    let ours = metrics::with_local_recorder(&ours_recorder, || {
        HTTP_SERVER_REQUEST_DURATION.histogram(&labels())
    });
    group.bench_function("catalogue handle", |b| {
        b.iter(|| ours.record(black_box(0.042)))
    });

    metrics::with_local_recorder(&raw_recorder, || {
        group.bench_function("raw metrics macro per call", |b| {
            b.iter(|| {
                metrics::histogram!(
                    "http.server.request.duration",
                    "http.request.method" => "GET",
                    "http.route" => "/users/{id}",
                    "http.response.status_code" => "200",
                    "url.scheme" => "http"
                )
                .record(black_box(0.042));
            });
        });
    });
    // Label values known only at run time, as in request middleware.
    let route = String::from("/users/{id}");
    metrics::with_local_recorder(&raw_recorder, || {
        group.bench_function("raw metrics macro per call, runtime labels", |b| {
            b.iter(|| {
                metrics::histogram!(
                    "http.server.request.duration",
                    "http.request.method" => "GET",
                    "http.route" => black_box(&route).clone(),
                    "http.response.status_code" => "200",
                    "url.scheme" => "http"
                )
                .record(black_box(0.042));
            });
        });
    });
    metrics::with_local_recorder(&ours_recorder, || {
        group.bench_function("catalogue lookup per call, runtime labels", |b| {
            b.iter(|| {
                let mut labels = labels();
                labels[1].1 = black_box(&route).clone().into();
                HTTP_SERVER_REQUEST_DURATION
                    .histogram(&labels)
                    .record(black_box(0.042));
            });
        });
    });
    metrics::with_local_recorder(&ours_recorder, || {
        group.bench_function("catalogue lookup per call", |b| {
            b.iter(|| {
                HTTP_SERVER_REQUEST_DURATION
                    .histogram(&labels())
                    .record(black_box(0.042))
            });
        });
    });
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
