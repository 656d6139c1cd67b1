//! The server layer over real sockets: spans, propagation in and out, request ids, user
//! ids, body sizes, panics, redaction, classification, and the cardinality ceiling.

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::propagation::{PropagationFormat, Propagator};
use sdk_core::spans::{AttrValue, FinishedSpan, SpanKind, SpanStatus};
use sdk_core::testing::global;
use sdk_tower::{HttpServerLayer, RequestSpan};
use std::time::Duration;

const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn app(layer: HttpServerLayer) -> Router {
    sdk_tower::panic::record_panic_locations();
    let api = Router::new().route("/items/{id}", get(|| async { "item" }));
    Router::new()
        .route(
            "/users/{id}",
            get(|| async move {
                // Found through a child span too: the server span is an ancestor.
                let lookup = tracing::info_span!("lookup");
                let _entered = lookup.enter();
                assert!(RequestSpan::current().record_user_id("u-17"));
                tracing::info!("looking up user");
                "user"
            }),
        )
        .route(
            "/fail",
            get(|| async { (http::StatusCode::BAD_GATEWAY, "upstream down") }),
        )
        .route(
            "/missing",
            get(|| async { (http::StatusCode::NOT_FOUND, "no") }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("boom at the handler");
                }
                "unreachable"
            }),
        )
        .route(
            "/panic-told",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("boom, told on purpose");
                }
                "unreachable"
            })
            .layer(sdk_tower::CatchPanicLayer::new().record_messages(true)),
        )
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
        )
        .route(
            "/stream",
            get(|| async {
                let chunks =
                    (0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[b'y'; 1000])));
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/grpc",
            get(|| async {
                (
                    [
                        (http::header::CONTENT_TYPE, "application/grpc"),
                        (http::HeaderName::from_static("grpc-status"), "14"),
                    ],
                    "",
                )
            }),
        )
        .nest("/api", api)
        .layer(sdk_tower::CatchPanicLayer::new())
        .layer(layer)
}

async fn serve(layer: HttpServerLayer) -> String {
    global();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(layer)).await });
    addr.to_string()
}

async fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from_static(body))).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// The server span whose request id is `id`, once it has closed.
async fn span_by_request_id(id: &str) -> FinishedSpan {
    for _ in 0..200 {
        if let Some(span) = global()
            .spans
            .spans()
            .into_iter()
            .find(|s| s.attribute_str("request_id") == Some(id))
        {
            return span;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no span with request id {id}");
}

fn layer() -> HttpServerLayer {
    HttpServerLayer::new()
        .propagator(Propagator::new(PropagationFormat::ALL))
        .server_address("api.example.com", 443)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_span_continues_the_trace_and_answers_with_it() {
    let addr = serve(layer()).await;
    let (status, headers, _) = send(
        &addr,
        "GET",
        "/users/42?token=secret",
        &[
            ("traceparent", TRACEPARENT),
            ("x-request-id", "req-abc.1"),
            ("host", "evil.example"),
        ],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-request-id"], "req-abc.1");
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(
        traceparent.starts_with(&format!("00-{TRACE_HEX}-")),
        "{traceparent}"
    );
    assert_eq!(
        headers["server-timing"],
        format!("traceparent;desc=\"{traceparent}\"").as_str()
    );

    let span = span_by_request_id("req-abc.1").await;
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.trace_id.to_hex(), TRACE_HEX);
    assert_eq!(span.parent_span_id.unwrap().to_hex(), "00f067aa0ba902b7");
    assert!(span.parent_is_remote);
    assert_eq!(span.span_id.to_hex(), &traceparent[36..52]);
    assert_eq!(span.attribute_str("http.route"), Some("/users/{id}"));
    assert_eq!(span.attribute_str("url.path"), Some("/users/42"));
    assert_eq!(
        span.attribute("url.query"),
        None,
        "query strings are off by default"
    );
    assert_eq!(
        span.attribute_str("server.address"),
        Some("api.example.com"),
        "never the Host header"
    );
    assert_eq!(span.attribute("server.port"), Some(&AttrValue::I64(443)));
    assert_eq!(
        span.attribute("http.response.status_code"),
        Some(&AttrValue::I64(200))
    );
    assert_eq!(span.attribute_str("user.id"), Some("u-17"));
    assert_eq!(span.attribute_str("network.protocol.version"), Some("1.1"));
    assert_eq!(span.status, SpanStatus::Unset);

    let line = global()
        .logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "looking up user" && l["request_id"] == "req-abc.1")
        .expect("log line inside the handler");
    assert_eq!(line["trace_id"], TRACE_HEX);
    assert_eq!(line["user_id"], "u-17");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_and_b3_parents_are_continued() {
    let addr = serve(layer()).await;
    let (_, headers, _) = send(
        &addr,
        "GET",
        "/api/items/1",
        &[
            ("x-datadog-trace-id", "11803532876627986230"),
            ("x-datadog-parent-id", "67667974448284343"),
            ("x-datadog-tags", "_dd.p.tid=4bf92f3577b34da6"),
            ("x-request-id", "dd-1"),
        ],
        b"",
    )
    .await;
    assert!(headers["traceparent"].to_str().unwrap().contains(TRACE_HEX));
    let span = span_by_request_id("dd-1").await;
    assert_eq!(span.trace_id.to_hex(), TRACE_HEX);
    assert_eq!(
        span.name, "GET /api/items/{id}",
        "nested routes keep the full template"
    );

    let (_, headers, _) = send(
        &addr,
        "GET",
        "/api/items/2",
        &[
            ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
            ("x-request-id", "b3-1"),
        ],
        b"",
    )
    .await;
    assert!(headers["traceparent"].to_str().unwrap().contains(TRACE_HEX));
    assert_eq!(
        span_by_request_id("b3-1").await.trace_id.to_hex(),
        TRACE_HEX
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_validated_or_generated() {
    let addr = serve(layer()).await;
    let (_, headers, _) = send(
        &addr,
        "GET",
        "/api/items/3",
        &[("x-request-id", "bad id <script>")],
        b"",
    )
    .await;
    let generated = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    span_by_request_id(&generated).await;
    let long = "a".repeat(200);
    let (_, headers, _) = send(
        &addr,
        "GET",
        "/api/items/3",
        &[("x-request-id", &long)],
        b"",
    )
    .await;
    assert_ne!(headers["x-request-id"], long.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_paths_and_unknown_methods_stay_out_of_names_and_labels() {
    let addr = serve(layer()).await;
    let (status, _, _) = send(
        &addr,
        "GET",
        "/no/such/secret-path",
        &[("x-request-id", "unmatched-1")],
        b"",
    )
    .await;
    assert_eq!(status, 404);
    let span = span_by_request_id("unmatched-1").await;
    assert_eq!(span.name, "GET");
    assert!(span.attribute("http.route").is_none());

    let (_, _, _) = send(
        &addr,
        "BREW",
        "/users/1",
        &[("x-request-id", "brew-1")],
        b"",
    )
    .await;
    let span = span_by_request_id("brew-1").await;
    assert_eq!(
        span.name, "HTTP /users/{id}",
        "unknown methods are named HTTP, as the conventions ask"
    );
    assert_eq!(span.attribute_str("http.request.method"), Some("_OTHER"));
    assert_eq!(
        span.attribute_str("http.request.method_original"),
        Some("BREW")
    );

    let metrics = global().prometheus.render();
    assert!(
        !metrics.contains("secret-path"),
        "raw path leaked into metrics"
    );
    assert!(!metrics.contains("BREW"), "raw method leaked into metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_mark_spans_and_metrics_client_errors_do_not() {
    let addr = serve(layer()).await;
    send(&addr, "GET", "/fail", &[("x-request-id", "fail-1")], b"").await;
    let span = span_by_request_id("fail-1").await;
    assert!(matches!(span.status, SpanStatus::Error(_)));
    assert_eq!(span.attribute_str("error.type"), Some("502"));
    send(
        &addr,
        "GET",
        "/missing",
        &[("x-request-id", "missing-1")],
        b"",
    )
    .await;
    let span = span_by_request_id("missing-1").await;
    assert_eq!(span.status, SpanStatus::Unset);
    assert!(span.attribute("error.type").is_none());
    let metrics = global().prometheus.render();
    assert!(metrics.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="502",url_scheme="http",network_protocol_version="1.1",http_route="/fail",error_type="502"}"#), "{metrics}");

    // A custom classifier and gRPC status support.
    let addr = serve(
        layer()
            .classify_with(|s: http::StatusCode| {
                s.is_server_error() || s == http::StatusCode::NOT_FOUND
            })
            .grpc(true),
    )
    .await;
    send(
        &addr,
        "GET",
        "/missing",
        &[("x-request-id", "missing-2")],
        b"",
    )
    .await;
    assert!(matches!(
        span_by_request_id("missing-2").await.status,
        SpanStatus::Error(_)
    ));
    send(&addr, "GET", "/grpc", &[("x-request-id", "grpc-1")], b"").await;
    let span = span_by_request_id("grpc-1").await;
    assert_eq!(span.attribute_str("error.type"), Some("UNAVAILABLE"));
    assert_eq!(
        span.attribute("rpc.grpc.status_code"),
        Some(&AttrValue::I64(14))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_become_500s_and_the_server_keeps_serving() {
    let addr = serve(layer()).await;
    let (status, headers, _) =
        send(&addr, "GET", "/panic", &[("x-request-id", "panic-1")], b"").await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-request-id"], "panic-1");
    let span = span_by_request_id("panic-1").await;
    // The message may quote a secret: it stays in the process unless asked for.
    assert_eq!(span.status, SpanStatus::Error("handler panicked".into()));
    assert_eq!(span.attribute_str("error.type"), Some("panic"));
    assert!(
        span.attribute_str("error.stack")
            .unwrap()
            .contains("tests/server.rs"),
        "{:?}",
        span.attribute("error.stack")
    );
    assert_eq!(
        send(&addr, "GET", "/users/5", &[], b"").await.0,
        200,
        "still serving"
    );
    let (status, _, _) = send(
        &addr,
        "GET",
        "/panic-told",
        &[("x-request-id", "panic-2")],
        b"",
    )
    .await;
    assert_eq!(status, 500);
    let span = span_by_request_id("panic-2").await;
    assert_eq!(
        span.status,
        SpanStatus::Error("boom, told on purpose".into()),
        "recorded when the layer is asked to"
    );
    let metrics = global().prometheus.render();
    assert!(
        metrics.contains(
            r#"sdk_http_server_panics_total{http_request_method="GET",http_route="/panic"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_only_by_allow_list_and_secrets_redacted() {
    let addr = serve(
        layer()
            .record_headers(["x-tenant", "Authorization", "cookie"])
            .record_query(true),
    )
    .await;
    send(
        &addr,
        "GET",
        "/users/9?page=2",
        &[
            ("x-request-id", "hdr-1"),
            ("x-tenant", "acme"),
            ("authorization", "Bearer s3cr3t"),
            ("cookie", "session=abc"),
            ("x-other", "nope"),
        ],
        b"",
    )
    .await;
    let span = span_by_request_id("hdr-1").await;
    assert_eq!(
        span.attribute_str("http.request.header.x-tenant"),
        Some("acme")
    );
    assert_eq!(
        span.attribute_str("http.request.header.authorization"),
        Some("[REDACTED]")
    );
    assert_eq!(
        span.attribute_str("http.request.header.cookie"),
        Some("[REDACTED]")
    );
    assert!(span.attribute("http.request.header.x-other").is_none());
    assert_eq!(span.attribute_str("url.query"), Some("page=2"));
    let everything = format!("{:?}{}", global().spans.spans(), global().logs.text());
    assert!(
        !everything.contains("s3cr3t") && !everything.contains("session=abc"),
        "a secret was recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_sizes_are_counted_as_they_stream() {
    let addr = serve(layer()).await;
    static BODY: [u8; 10_000] = [b'x'; 10_000];
    let (status, _, body) = send(
        &addr,
        "POST",
        "/upload",
        &[("x-request-id", "upload-1")],
        &BODY,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "10000 bytes");
    span_by_request_id("upload-1").await;
    let metrics = global().prometheus.render();
    let sum = |name: &str, route: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("http_route=\"{route}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(-1.0)
    };
    assert_eq!(
        sum("http_server_request_body_size_bytes_sum", "/upload"),
        10_000.0,
        "{metrics}"
    );
    assert_eq!(
        sum("http_server_response_body_size_bytes_sum", "/upload"),
        11.0,
        "{metrics}"
    );
    let (_, _, body) = send(
        &addr,
        "GET",
        "/stream",
        &[("x-request-id", "stream-1")],
        b"",
    )
    .await;
    assert_eq!(body.len(), 3000);
    span_by_request_id("stream-1").await;
    let metrics = global().prometheus.render();
    let streamed = metrics
        .lines()
        .find(|l| {
            l.starts_with("http_server_response_body_size_bytes_sum")
                && l.contains("http_route=\"/stream\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(streamed, Some(3000.0), "{metrics}");
}
