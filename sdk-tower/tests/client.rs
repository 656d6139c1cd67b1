//! Two real services on loopback: one trace spans both, through reqwest and through a
//! tower-wrapped hyper client.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::propagation::{PropagationFormat, Propagator};
use sdk_core::spans::{AttrValue, FinishedSpan, SpanKind, SpanStatus};
use sdk_core::testing::global;
use sdk_tower::{HttpClientLayer, HttpServerLayer, ReqwestMiddleware};
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

fn propagator() -> Propagator {
    Propagator::new([PropagationFormat::TraceContext, PropagationFormat::Datadog])
}

async fn serve(router: Router) -> String {
    global();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn downstream() -> String {
    serve(
        Router::new()
            .route("/inventory/{sku}", get(|| async { "12" }))
            .route(
                "/gone",
                get(|| async { (http::StatusCode::NOT_FOUND, "gone") }),
            )
            .layer(HttpServerLayer::new().propagator(propagator())),
    )
    .await
}

async fn wait_for(pred: impl Fn(&[FinishedSpan]) -> bool) -> Vec<FinishedSpan> {
    for _ in 0..300 {
        let spans = global().spans.spans();
        if pred(&spans) {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("spans never matched: {:#?}", global().spans.spans());
}

fn one_trace(spans: &[FinishedSpan], request_id: &str, downstream_route: &str) {
    let upstream = spans
        .iter()
        .find(|s| s.attribute_str("request_id") == Some(request_id))
        .unwrap();
    let client = spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Client
                && s.parent_span_id == Some(upstream.span_id)
                && s.attribute_str("url.full")
                    .is_some_and(|u| u.ends_with("/inventory/ab-1"))
        })
        .expect("client span under the upstream server span");
    let downstream = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server && s.parent_span_id == Some(client.span_id))
        .expect("downstream server span under the client span");
    assert_eq!(client.trace_id, upstream.trace_id);
    assert_eq!(downstream.trace_id, upstream.trace_id);
    assert!(downstream.parent_is_remote);
    assert_eq!(
        downstream.attribute_str("http.route"),
        Some(downstream_route)
    );
    assert_eq!(client.name, "GET");
    assert_eq!(client.attribute_str("server.address"), Some("127.0.0.1"));
    assert_eq!(
        client.attribute("http.response.status_code"),
        Some(&AttrValue::I64(200))
    );
    assert!(
        client
            .attribute_str("url.full")
            .unwrap()
            .ends_with(downstream_route.replace("{sku}", "ab-1").as_str())
    );
    assert!(
        !client.attribute_str("url.full").unwrap().contains("secret"),
        "query stripped from url.full"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_calls_join_the_trace() {
    let down = downstream().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new().propagator(propagator()))
        .build();
    let up = serve(
        Router::new()
            .route(
                "/checkout",
                get(move || {
                    let client = client.clone();
                    let down = down.clone();
                    async move {
                        let gone = client
                            .get(format!("http://{down}/gone"))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(gone.status(), 404);
                        client
                            .get(format!("http://{down}/inventory/ab-1?key=secret"))
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap()
                    }
                }),
            )
            .layer(HttpServerLayer::new().propagator(propagator())),
    )
    .await;
    let response = reqwest::Client::new()
        .get(format!("http://{up}/checkout"))
        .header("x-request-id", "reqwest-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "12");
    let spans = wait_for(|spans| {
        spans.iter().filter(|s| s.kind == SpanKind::Client).count() >= 2
            && spans
                .iter()
                .any(|s| s.attribute_str("request_id") == Some("reqwest-1"))
    })
    .await;
    one_trace(&spans, "reqwest-1", "/inventory/{sku}");
    let failed = spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Client
                && s.attribute("http.response.status_code") == Some(&AttrValue::I64(404))
        })
        .unwrap();
    assert!(
        matches!(failed.status, SpanStatus::Error(_)),
        "4xx fails a client span"
    );
    let metrics = global().prometheus.render();
    assert!(metrics.contains("http_client_request_duration_seconds_bucket{http_request_method=\"GET\",url_scheme=\"http\",server_address=\"127.0.0.1\""), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_hyper_client_joins_the_trace() {
    let down = downstream().await;
    let up = serve(
        Router::new()
            .route(
                "/checkout",
                get(move || {
                    let down = down.clone();
                    async move {
                        let hyper =
                            Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
                        let mut client = ServiceBuilder::new()
                            .layer(HttpClientLayer::new().propagator(propagator()))
                            .service(hyper);
                        let request = http::Request::get(format!("http://{down}/inventory/ab-1"))
                            .body(Empty::new())
                            .unwrap();
                        let response = client.ready().await.unwrap().call(request).await.unwrap();
                        String::from_utf8(
                            response
                                .into_body()
                                .collect()
                                .await
                                .unwrap()
                                .to_bytes()
                                .to_vec(),
                        )
                        .unwrap()
                    }
                }),
            )
            .layer(HttpServerLayer::new().propagator(propagator())),
    )
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{up}/checkout"))
        .header("x-request-id", "hyper-1")
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let spans = wait_for(|spans| {
        spans.iter().any(|s| s.kind == SpanKind::Client)
            && spans
                .iter()
                .any(|s| s.attribute_str("request_id") == Some("hyper-1"))
    })
    .await;
    one_trace(&spans, "hyper-1", "/inventory/{sku}");
}
