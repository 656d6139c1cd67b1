//! Under a subscriber without any SDK layer (`tracing-opentelemetry` alone), the server and
//! client spans still carry their names, kinds and semantic-convention attributes, as span
//! fields.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::testing::foreign::{capture_foreign, otel_attr};
use sdk_tower::{HttpClientLayer, HttpServerLayer};
use tower::{Service, ServiceBuilder, ServiceExt};

#[test]
fn server_and_client_spans_under_tracing_opentelemetry() {
    let spans = capture_foreign(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = Router::new()
                .route("/users/{id}", get(|| async { "user" }))
                .route(
                    "/fail",
                    get(|| async { (http::StatusCode::BAD_GATEWAY, "down") }),
                )
                .layer(HttpServerLayer::new());
            tokio::spawn(async move { axum::serve(listener, app).await });
            let mut client = ServiceBuilder::new()
                .layer(HttpClientLayer::new())
                .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
            for path in ["/users/7", "/fail"] {
                let request = http::Request::get(format!("http://{addr}{path}"))
                    .header("x-request-id", format!("foreign{}", path.replace('/', "-")))
                    .body(Empty::new())
                    .unwrap();
                client.ready().await.unwrap().call(request).await.unwrap();
            }
        });
    });
    let named = |name: &str| {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!(
                "no span {name}: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    let server = named("GET /users/{id}");
    assert_eq!(format!("{:?}", server.span_kind), "Server");
    assert_eq!(
        otel_attr(server, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        otel_attr(server, "http.route").as_deref(),
        Some("/users/{id}")
    );
    assert_eq!(otel_attr(server, "url.path").as_deref(), Some("/users/7"));
    assert_eq!(
        otel_attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        otel_attr(server, "request_id").as_deref(),
        Some("foreign-users-7")
    );

    let failed = named("GET /fail");
    assert_eq!(otel_attr(failed, "error.type").as_deref(), Some("502"));
    assert!(
        matches!(failed.status, opentelemetry::trace::Status::Error { .. }),
        "{:?}",
        failed.status
    );

    let clients: Vec<_> = spans.iter().filter(|s| s.name == "GET").collect();
    assert_eq!(clients.len(), 2);
    assert_eq!(format!("{:?}", clients[0].span_kind), "Client");
    assert_eq!(
        otel_attr(clients[0], "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert!(
        otel_attr(clients[0], "url.full").is_some_and(|u| u.ends_with("/users/7")),
        "{:?}",
        clients[0].attributes
    );
}
