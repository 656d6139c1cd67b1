//! An outbound call dropped before its response (a caller's timeout) ends as cancelled, like
//! every other operation of the SDK.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::spans::{SpanKind, SpanStatus};
use sdk_core::testing::capture_everything;
use sdk_tower::HttpClientLayer;
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

#[test]
fn a_dropped_call_is_cancelled_with_its_duration() {
    let everything = capture_everything(Default::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let slow = Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            );
            tokio::spawn(async move { axum::serve(listener, slow).await });
            let mut client = ServiceBuilder::new()
                .layer(HttpClientLayer::new())
                .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
            let request = http::Request::get(format!("http://{addr}/slow"))
                .body(Empty::new())
                .unwrap();
            let call = client.ready().await.unwrap().call(request);
            let gave_up = tokio::time::timeout(Duration::from_millis(100), call).await;
            assert!(gave_up.is_err(), "the call should outlast the timeout");
        });
    });
    let span = everything.span("GET");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.attribute_str("error.type"), Some("cancelled"));
    assert_eq!(span.status, SpanStatus::Error("cancelled".into()));
    let durations = everything.histogram_samples(
        "http.client.request.duration",
        &[("error.type", "cancelled"), ("http.request.method", "GET")],
    );
    assert_eq!(durations.len(), 1, "{:?}", everything.metrics);
    assert!(durations[0] >= 0.1, "{durations:?}");
    assert_eq!(
        everything.counter(
            "sdk.operation.cancelled",
            &[("sdk.operation", "http.client")]
        ),
        1
    );
}
