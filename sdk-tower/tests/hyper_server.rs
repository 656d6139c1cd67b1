//! A plain hyper server (no axum): the server layer takes hyper's own `Incoming` request
//! body, passes it on unchanged, and records the request like any other.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use sdk_core::testing::{capture_everything, int_attr};
use sdk_tower::HttpServerLayer;
use std::convert::Infallible;
use tower::ServiceBuilder;

/// Echoes the number of bytes it read from hyper's body type.
async fn handler(
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let read = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    Ok(http::Response::new(Full::new(Bytes::from(format!(
        "{read} bytes"
    )))))
}

#[test]
fn a_hyper_server_with_incoming_bodies() {
    let everything = capture_everything(Default::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let service = ServiceBuilder::new()
                .layer(HttpServerLayer::new().route_with(|_, uri| {
                    uri.path()
                        .starts_with("/upload")
                        .then(|| "/upload".to_owned())
                }))
                .service_fn(handler);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let service = TowerToHyperService::new(service.clone());
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let request = http::Request::post(format!("http://{addr}/upload/7"))
                .header("x-request-id", "hyper-1")
                .body(Full::new(Bytes::from_static(&[b'z'; 1234])))
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            assert!(response.headers().contains_key("traceparent"));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"1234 bytes");
        });
    });
    let span = everything.span("POST /upload");
    assert_eq!(span.attribute_str("request_id"), Some("hyper-1"));
    assert_eq!(int_attr(span, "http.response.status_code"), Some(200));
    let labels = [("http.route", "/upload"), ("http.request.method", "POST")];
    assert_eq!(
        everything.histogram_samples("http.server.request.body.size", &labels),
        vec![1234.0]
    );
    assert_eq!(
        everything.histogram_samples("http.server.response.body.size", &labels),
        vec![10.0]
    );
    assert_eq!(
        everything
            .histogram_samples("http.server.request.duration", &labels)
            .len(),
        1
    );
}
