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
