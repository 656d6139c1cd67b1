//! A request whose response future is dropped (client gone, outer timeout) ends as
//! cancelled: `http.server.active_requests` goes back down, the duration is recorded with
//! `error.type = cancelled`, `sdk.operation.cancelled` counts it and the span says so.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use sdk_core::spans::SpanStatus;
use sdk_core::testing::{RecordedValue, capture_everything};
use sdk_tower::HttpServerLayer;
use std::time::Duration;
use tower::ServiceExt;

#[test]
fn dropped_requests_end_as_cancelled() {
    let everything = capture_everything(Default::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let app = Router::new()
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        "late"
                    }),
                )
                .layer(HttpServerLayer::new());
            let request = http::Request::get("/slow").body(Body::empty()).unwrap();
            let gave_up =
                tokio::time::timeout(Duration::from_millis(50), app.oneshot(request)).await;
            assert!(gave_up.is_err());
        });
    });
    let metrics = &everything.metrics;
    let active: Vec<f64> = metrics
        .iter()
        .filter(|m| m.name == "http.server.active_requests")
        .filter_map(|m| match m.value {
            RecordedValue::Gauge(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(active, vec![0.0], "{metrics:?}");
    let durations = everything.histogram_samples(
        "http.server.request.duration",
        &[("error.type", "cancelled"), ("http.route", "/slow")],
    );
    assert_eq!(durations.len(), 1, "{metrics:?}");
    assert!(
        durations[0] >= 0.05,
        "the duration runs to the drop: {durations:?}"
    );
    assert_eq!(
        everything.counter(
            "sdk.operation.cancelled",
            &[("sdk.operation", "http.server")]
        ),
        1
    );
    let span = everything.span("GET /slow");
    assert_eq!(span.attribute_str("error.type"), Some("cancelled"));
    assert!(matches!(span.status, SpanStatus::Error(_)), "{span:?}");
}

/// A response body dropped before its end cancels the request; a HEAD response body, which
/// servers drop unread, does not.
#[test]
fn a_body_dropped_midway_is_cancelled_but_a_head_body_is_not() {
    use http_body_util::BodyExt;
    let everything = capture_everything(Default::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let chunks = || {
                let parts: [Result<&'static str, std::io::Error>; 2] = [Ok("first"), Ok("second")];
                Body::from_stream(futures_util::stream::iter(parts))
            };
            let app = Router::new()
                .route("/stream", get(move || async move { chunks() }))
                .layer(HttpServerLayer::new());

            let request = http::Request::get("/stream").body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let mut body = response.into_body();
            let first = body.frame().await.unwrap().unwrap();
            assert_eq!(first.into_data().unwrap(), "first");
            drop(body);

            let request = http::Request::head("/stream").body(Body::empty()).unwrap();
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
            drop(response);
        });
    });
    let cancelled = everything.histogram_samples(
        "http.server.request.duration",
        &[("http.request.method", "GET"), ("error.type", "cancelled")],
    );
    assert_eq!(cancelled.len(), 1, "{:?}", everything.metrics);
    let head: Vec<_> = everything
        .metrics(
            "http.server.request.duration",
            &[("http.request.method", "HEAD")],
        )
        .into_iter()
        .map(|m| m.labels.clone())
        .collect();
    assert_eq!(head.len(), 1, "{:?}", everything.metrics);
    assert!(
        head[0].iter().all(|(key, _)| key != "error.type"),
        "a HEAD body dropped unread is no cancellation: {head:?}"
    );
    assert_eq!(
        everything.counter(
            "sdk.operation.cancelled",
            &[("sdk.operation", "http.server")]
        ),
        1
    );
    assert_eq!(
        everything.span("HEAD /stream").attribute("error.type"),
        None
    );
}
