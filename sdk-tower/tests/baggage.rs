//! Baggage crosses the service: what a request brings in the `baggage` header goes out with
//! the calls made while handling it, through the tower client and through reqwest.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::testing::capture_everything;
use sdk_tower::{HttpClientLayer, HttpServerLayer, ReqwestMiddleware};
use tower::{Service, ServiceBuilder, ServiceExt};

/// Answers with the `baggage` header it received.
async fn echo(headers: http::HeaderMap) -> String {
    headers
        .get_all("baggage")
        .iter()
        .map(|v| v.to_str().unwrap_or("?").to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

async fn via_tower(State(downstream): State<String>) -> String {
    let mut client = ServiceBuilder::new()
        .layer(HttpClientLayer::new())
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let request = http::Request::get(format!("http://{downstream}/echo"))
        .body(Empty::new())
        .unwrap();
    let response = client.ready().await.unwrap().call(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

async fn via_reqwest(State(downstream): State<String>) -> String {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new())
        .build();
    client
        .get(format!("http://{downstream}/echo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn baggage_received_is_sent_on() {
    capture_everything(Default::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let downstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let downstream_addr = downstream.local_addr().unwrap().to_string();
            tokio::spawn(async move {
                axum::serve(downstream, Router::new().route("/echo", get(echo))).await
            });
            let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let upstream_addr = upstream.local_addr().unwrap();
            let app = Router::new()
                .route("/tower", get(via_tower))
                .route("/reqwest", get(via_reqwest))
                .with_state(downstream_addr)
                .layer(HttpServerLayer::new());
            tokio::spawn(async move { axum::serve(upstream, app).await });

            let client = reqwest::Client::new();
            for path in ["/tower", "/reqwest"] {
                let echoed = client
                    .get(format!("http://{upstream_addr}{path}"))
                    .header("baggage", "tenant=acme,region=eu%2Dwest;ttl=60")
                    .header(
                        "traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    )
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let members: Vec<&str> = echoed.split(',').map(str::trim).collect();
                assert!(members.contains(&"tenant=acme"), "{path}: {echoed}");
                assert!(
                    members.iter().any(|m| m.starts_with("region=eu")),
                    "{path}: {echoed}"
                );
                // No baggage in, none out.
                let without = client
                    .get(format!("http://{upstream_addr}{path}"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert_eq!(without, "", "{path}");
            }
        });
    });
}
