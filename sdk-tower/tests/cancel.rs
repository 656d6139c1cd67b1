//! A request whose response future is dropped (client gone, outer timeout) leaves
//! `http.server.active_requests` where it was.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use sdk_core::testing::{RecordedValue, capture_metrics};
use sdk_tower::HttpServerLayer;
use std::time::Duration;
use tower::ServiceExt;

#[test]
fn dropped_requests_are_no_longer_active() {
    let metrics = capture_metrics(|| {
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
                .layer(HttpServerLayer::new(
                    sdk_core::propagation::Propagator::default(),
                ));
            let request = http::Request::get("/slow").body(Body::empty()).unwrap();
            let gave_up =
                tokio::time::timeout(Duration::from_millis(50), app.oneshot(request)).await;
            assert!(gave_up.is_err());
        });
    });
    let active: Vec<f64> = metrics
        .iter()
        .filter(|m| m.name == "http.server.active_requests")
        .filter_map(|m| match m.value {
            RecordedValue::Gauge(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(active, vec![0.0], "{metrics:?}");
    assert!(
        !metrics
            .iter()
            .any(|m| m.name == "http.server.request.duration"),
        "no response, no duration"
    );
}
