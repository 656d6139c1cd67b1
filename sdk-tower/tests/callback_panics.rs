//! User callbacks that panic (a response classifier on either side, a health check) fail
//! neither the request nor the endpoint: the default applies, and each panic is counted in
//! `sdk.callback.panics`.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sdk_core::spans::{SpanKind, SpanStatus};
use sdk_core::testing::{Everything, capture_everything};
use sdk_tower::health::{CheckFuture, Health, HealthCheck, check};
use sdk_tower::{HttpClientLayer, HttpServerLayer};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

/// Runs `body` on a current-thread runtime inside [`capture_everything`].
fn capture<Fut: Future<Output = ()>>(body: impl FnOnce() -> Fut) -> Everything {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    capture_everything(Default::default(), || runtime.block_on(body()))
}

fn panics(everything: &Everything, callback: &str) -> u64 {
    everything.counter("sdk.callback.panics", &[("sdk.callback", callback)])
}

fn broken_classifier(status: http::StatusCode) -> bool {
    if std::hint::black_box(true) {
        panic!("classifier bug on {status}");
    }
    false
}

#[test]
fn a_panicking_server_classifier_falls_back_to_5xx_and_the_requests_succeed() {
    let everything = capture(|| async {
        let app = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route(
                "/upstream",
                get(|| async { (http::StatusCode::BAD_GATEWAY, "upstream down") }),
            )
            .route(
                "/missing",
                get(|| async { (http::StatusCode::NOT_FOUND, "no") }),
            )
            .layer(HttpServerLayer::new().classify_with(broken_classifier));
        for (path, expected, body) in [
            ("/ok", 200, "fine"),
            ("/upstream", 502, "upstream down"),
            ("/missing", 404, "no"),
            ("/ok", 200, "fine"),
        ] {
            let request = http::Request::get(path).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), expected, "{path}");
            let text = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(text, body.as_bytes(), "{path}: the body is untouched");
        }
    });
    assert_eq!(
        panics(&everything, "classifier"),
        4,
        "{:?}",
        everything.metrics
    );
    let logged: Vec<_> = everything
        .logs
        .iter()
        .filter(|l| l["target"] == "sdk_core::callback")
        .collect();
    assert_eq!(
        logged.len(),
        4,
        "one ERROR line per panic: {}",
        everything.log_text
    );
    assert!(
        logged
            .iter()
            .all(|l| l["level"] == "ERROR" && l["fields"]["callback"] == "classifier")
    );
    assert!(
        !everything.log_text.contains("classifier bug"),
        "the panic message stays out of the logs"
    );
    // The default classification (5xx) applied to every response.
    let upstream = everything.span("GET /upstream");
    assert_eq!(upstream.attribute_str("error.type"), Some("502"));
    assert!(
        matches!(upstream.status, SpanStatus::Error(_)),
        "{upstream:?}"
    );
    let missing = everything.span("GET /missing");
    assert_eq!(missing.status, SpanStatus::Unset, "{missing:?}");
    assert!(missing.attribute("error.type").is_none());
    assert_eq!(everything.spans_named("GET /ok").len(), 2);
    assert_eq!(
        everything
            .histogram_samples("http.server.request.duration", &[("error.type", "502")])
            .len(),
        1
    );
    assert_eq!(
        everything
            .histogram_samples("http.server.request.duration", &[("http.route", "/ok")])
            .len(),
        2,
        "every request is measured"
    );
}

#[test]
fn a_panicking_client_classifier_falls_back_to_4xx_and_5xx_and_the_call_succeeds() {
    let everything = capture(|| async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let downstream = Router::new().route(
            "/gone",
            get(|| async { (http::StatusCode::NOT_FOUND, "gone") }),
        );
        tokio::spawn(async move { axum::serve(listener, downstream).await });
        let mut client = ServiceBuilder::new()
            .layer(HttpClientLayer::new().classify_with(broken_classifier))
            .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
        for _ in 0..2 {
            let request = http::Request::get(format!("http://{addr}/gone"))
                .body(Empty::new())
                .unwrap();
            let call = client.ready().await.unwrap().call(request);
            let response = tokio::time::timeout(Duration::from_secs(30), call)
                .await
                .expect("the call did not end within 30 s")
                .expect("the call succeeds although its classifier panicked");
            assert_eq!(response.status(), 404);
        }
    });
    assert_eq!(
        panics(&everything, "classifier"),
        2,
        "{:?}",
        everything.metrics
    );
    let calls: Vec<_> = everything
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client)
        .collect();
    assert_eq!(calls.len(), 2, "{:?}", everything.names());
    for call in calls {
        // The client default: 4xx is a failure of the call.
        assert_eq!(call.attribute_str("error.type"), Some("404"));
        assert!(matches!(call.status, SpanStatus::Error(_)), "{call:?}");
    }
}

/// A check that panics when called, before it makes its future, while `broken`.
struct PanicsWhenCalled {
    broken: Arc<AtomicBool>,
}

impl HealthCheck for PanicsWhenCalled {
    fn name(&self) -> &str {
        "panics-when-called"
    }

    fn check(&self) -> CheckFuture<'_> {
        if self.broken.load(Ordering::SeqCst) {
            panic!("check bug before its future");
        }
        Box::pin(async { Ok(()) })
    }
}

async fn readiness(health: &Health) -> (http::StatusCode, Value) {
    let request = http::Request::get("/ready").body(Body::empty()).unwrap();
    let response =
        tokio::time::timeout(Duration::from_secs(30), health.readiness().oneshot(request))
            .await
            .expect("readiness did not answer within 30 s")
            .unwrap();
    let status = response.status();
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let report = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {body:?}"));
    (status, report)
}

fn check_report<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn panicking_health_checks_fail_readiness_with_a_well_formed_report_and_recover() {
    let broken = Arc::new(AtomicBool::new(true));
    let everything = capture(|| {
        let broken = Arc::clone(&broken);
        async move {
            let in_future = Arc::clone(&broken);
            let health = Health::new()
                .timeout(Duration::from_secs(10))
                .with_check(check("database", || async { Ok(()) }))
                .with_check(PanicsWhenCalled {
                    broken: Arc::clone(&broken),
                })
                .with_check(check("panics-in-its-future", move || {
                    let broken = in_future.load(Ordering::SeqCst);
                    async move {
                        // A panic in a later poll, not the first one.
                        tokio::task::yield_now().await;
                        if broken {
                            panic!("check bug in its future");
                        }
                        Ok(())
                    }
                }));

            for _ in 0..2 {
                let (status, report) = readiness(&health).await;
                assert_eq!(status, 503, "{report}");
                assert_eq!(report["status"], "fail");
                assert_eq!(report["checks"].as_array().unwrap().len(), 3, "{report}");
                assert_eq!(check_report(&report, "database")["status"], "ok");
                let called = check_report(&report, "panics-when-called");
                assert_eq!(called["status"], "fail");
                assert_eq!(called["error"], "check panicked");
                let future = check_report(&report, "panics-in-its-future");
                assert_eq!(future["status"], "fail");
                assert_eq!(future["error"], "check panicked");
                assert!(
                    !report.to_string().contains("check bug"),
                    "a panic message may quote a secret: it stays out of the report: {report}"
                );
            }

            // Fixed: the same endpoint reports ready.
            broken.store(false, Ordering::SeqCst);
            let (status, report) = readiness(&health).await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["status"], "ok");
        }
    });
    assert_eq!(
        panics(&everything, "health_check"),
        4,
        "{:?}",
        everything.metrics
    );
    for name in ["panics-when-called", "panics-in-its-future"] {
        assert_eq!(
            everything
                .histogram_samples(
                    "sdk.health.check.duration",
                    &[("sdk.health.check", name), ("sdk.health.status", "fail")]
                )
                .len(),
            2,
            "{name}"
        );
    }
}
