//! Synthetic probes against real local servers: the blackbox-style gauges, phases, the
//! readiness check and stopping.
//!
//! Each test runs its servers and its probes on one current-thread runtime inside a
//! metrics (and log) capture for this thread, so the values recorded are exactly those
//! of the runs the test saw; waits poll the probe's run count with a generous deadline.
#![cfg(feature = "probe")]

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use sdk_core::catalogue::{
    COLLECTOR_DURATION, PROBE_DURATION, PROBE_HTTP_DURATION, PROBE_HTTP_STATUS_CODE, PROBE_SUCCESS,
};
use sdk_core::config::Sampler;
use sdk_core::testing::{RecordedMetric, RecordedValue, capture_everything};
use sdk_tower::health::Health;
use sdk_tower::probe::{
    HttpProbe, ProbeError, ProbeFailure, ProbeRun, ProbeStatus, Probes, TcpProbe,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `test` on a current-thread runtime under a capture; what it returned, the
/// metrics and the log text.
fn captured<T>(test: impl Future<Output = T>) -> (T, Vec<RecordedMetric>, String) {
    let mut out = None;
    let everything = capture_everything(Sampler::default(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        out = Some(runtime.block_on(test));
    });
    // The SDK's own lines: the test servers' (axum's, with its `tracing` feature on in a
    // workspace build) name their peers' addresses.
    let sdk_lines: Vec<&str> = everything
        .log_text
        .lines()
        .filter(|line| line.contains("\"target\":\"sdk_"))
        .collect();
    (out.unwrap(), everything.metrics, sdk_lines.join("\n"))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Waits until `probe` has finished `runs` runs.
async fn runs_reach(probe: &ProbeStatus, runs: u64) {
    let deadline = Instant::now() + DEADLINE;
    while probe.runs() < runs {
        assert!(
            Instant::now() < deadline,
            "probe `{}` finished {} runs, not {runs}, within {DEADLINE:?}",
            probe.name(),
            probe.runs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The one run of a probe with a long interval, then stops the probes.
async fn first_run(probes: Probes, name: &str) -> ProbeRun {
    let running = probes.spawn().unwrap();
    let probe = running.status(name).unwrap();
    runs_reach(&probe, 1).await;
    let run = probe.last_run().unwrap();
    drop(running);
    assert_eq!(probe.runs(), 1);
    run
}

fn value(metrics: &[RecordedMetric], name: &str, labels: &[(&str, &str)]) -> Option<RecordedValue> {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    metrics
        .iter()
        .find(|m| m.name == name && m.labels == labels)
        .map(|m| m.value.clone())
}

fn gauge(metrics: &[RecordedMetric], name: &str, labels: &[(&str, &str)]) -> f64 {
    match value(metrics, name, labels) {
        Some(RecordedValue::Gauge(v)) => v,
        other => panic!("{name}{labels:?}: {other:?} in {metrics:#?}"),
    }
}

const PHASES: [&str; 5] = ["resolve", "connect", "tls", "processing", "transfer"];

#[test]
fn http_probe_of_a_200_endpoint_succeeds_with_its_phases() {
    let (run, metrics, _) = captured(async {
        let addr = serve(Router::new().route("/health", get(|| async { "status: ok" }))).await;
        let probes = Probes::new().with(
            HttpProbe::get("orders-api", format!("http://{addr}/health"))
                .interval(LONG)
                .timeout(Duration::from_secs(30))
                .expect_body("ok"),
        );
        first_run(probes, "orders-api").await
    });
    assert!(run.success, "{run:?}");
    assert_eq!(run.status_code, Some(200));
    assert_eq!(run.failure, None);
    let phases = run.phases.unwrap();
    assert_eq!(phases.tls, Duration::ZERO);
    assert!(phases.processing > Duration::ZERO, "{phases:?}");
    assert!(phases.total() <= run.duration, "{phases:?} > {run:?}");

    let probe = [("sdk.probe", "orders-api")];
    assert_eq!(gauge(&metrics, PROBE_SUCCESS.name, &probe), 1.0);
    assert_eq!(gauge(&metrics, PROBE_HTTP_STATUS_CODE.name, &probe), 200.0);
    let duration = gauge(&metrics, PROBE_DURATION.name, &probe);
    assert_eq!(duration, run.duration.as_secs_f64());
    let mut sum = 0.0;
    for (phase, expected) in phases.labelled() {
        let recorded = gauge(
            &metrics,
            PROBE_HTTP_DURATION.name,
            &[("sdk.probe", "orders-api"), ("sdk.probe.phase", phase)],
        );
        assert_eq!(recorded, expected.as_secs_f64(), "{phase}");
        sum += recorded;
    }
    assert_eq!(PHASES, phases.labelled().map(|(phase, _)| phase));
    assert!(sum <= duration, "phases {sum} > duration {duration}");
    assert_eq!(
        value(
            &metrics,
            COLLECTOR_DURATION.name,
            &[("sdk.collector", "probe"), ("sdk.result", "ok")]
        ),
        Some(RecordedValue::Histogram(vec![duration]))
    );
    // Exported under the blackbox exporter's names.
    assert_eq!(PROBE_SUCCESS.prometheus_name(), "probe_success");
    assert_eq!(PROBE_DURATION.prometheus_name(), "probe_duration_seconds");
    assert_eq!(
        PROBE_HTTP_DURATION.prometheus_name(),
        "probe_http_duration_seconds"
    );
    assert_eq!(
        PROBE_HTTP_STATUS_CODE.prometheus_name(),
        "probe_http_status_code"
    );
}

#[test]
fn http_probe_of_a_503_endpoint_fails_with_the_status_and_never_logs_the_url() {
    let authorization = Arc::new(std::sync::Mutex::new(None));
    let seen = Arc::clone(&authorization);
    let ((run, body_run), metrics, logs) = captured(async move {
        let app = Router::new()
            .route(
                "/down",
                get(move |headers: HeaderMap| async move {
                    *seen.lock().unwrap() = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    (StatusCode::SERVICE_UNAVAILABLE, "down")
                }),
            )
            .route("/up", get(|| async { "degraded" }));
        let addr = serve(app).await;
        let down = Probes::new().with(
            HttpProbe::get(
                "payments",
                format!("http://probe-user:s3cret%40pw@{addr}/down?token=t0ken-xyz"),
            )
            .interval(LONG)
            .timeout(Duration::from_secs(30)),
        );
        let wrong_body = Probes::new().with(
            HttpProbe::get("payments-body", format!("http://{addr}/up"))
                .interval(LONG)
                .timeout(Duration::from_secs(30))
                .expect_body("status: ok"),
        );
        (
            first_run(down, "payments").await,
            first_run(wrong_body, "payments-body").await,
        )
    });
    assert!(!run.success);
    assert_eq!(run.status_code, Some(503));
    assert_eq!(run.failure, Some(ProbeFailure::Status(503)));
    assert_eq!(
        authorization.lock().unwrap().as_deref(),
        Some("Basic cHJvYmUtdXNlcjpzM2NyZXRAcHc="),
        "user-info is sent as Basic credentials, percent-decoded"
    );
    let probe = [("sdk.probe", "payments")];
    assert_eq!(gauge(&metrics, PROBE_SUCCESS.name, &probe), 0.0);
    assert_eq!(gauge(&metrics, PROBE_HTTP_STATUS_CODE.name, &probe), 503.0);

    assert_eq!(body_run.status_code, Some(200));
    assert_eq!(body_run.failure, Some(ProbeFailure::BodyMismatch));
    assert_eq!(
        gauge(
            &metrics,
            PROBE_SUCCESS.name,
            &[("sdk.probe", "payments-body")]
        ),
        0.0
    );
    match value(
        &metrics,
        COLLECTOR_DURATION.name,
        &[("sdk.collector", "probe"), ("sdk.result", "fail")],
    ) {
        Some(RecordedValue::Histogram(samples)) => assert_eq!(samples.len(), 2),
        other => panic!("{other:?}"),
    }

    assert!(logs.contains("probe failing"), "{logs}");
    assert!(logs.contains("payments"), "{logs}");
    assert!(logs.contains("unexpected status 503"), "{logs}");
    for secret in ["s3cret", "probe-user", "t0ken", "/down", "127.0.0.1"] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}

#[test]
fn http_probe_slower_than_its_timeout_fails_with_status_0() {
    let release = Arc::new(tokio::sync::Notify::new());
    let handler_release = Arc::clone(&release);
    let (run, metrics, _) = captured(async move {
        let app = Router::new().route(
            "/slow",
            get(move || async move {
                handler_release.notified().await;
                "late"
            }),
        );
        let addr = serve(app).await;
        let probes = Probes::new().with(
            HttpProbe::get("slow", format!("http://{addr}/slow"))
                .interval(LONG)
                .timeout(Duration::from_millis(200)),
        );
        let run = first_run(probes, "slow").await;
        release.notify_waiters();
        run
    });
    assert!(!run.success);
    assert_eq!(
        run.failure,
        Some(ProbeFailure::Timeout(Duration::from_millis(200)))
    );
    assert_eq!(run.status_code, None);
    assert!(run.duration >= Duration::from_millis(200), "{run:?}");
    let phases = run.phases.unwrap();
    assert_eq!(phases.processing, Duration::ZERO, "not reached");
    assert_eq!(phases.transfer, Duration::ZERO, "not reached");

    let probe = [("sdk.probe", "slow")];
    assert_eq!(gauge(&metrics, PROBE_SUCCESS.name, &probe), 0.0);
    assert_eq!(gauge(&metrics, PROBE_HTTP_STATUS_CODE.name, &probe), 0.0);
    assert_eq!(
        gauge(&metrics, PROBE_DURATION.name, &probe),
        run.duration.as_secs_f64()
    );
    assert_eq!(
        gauge(
            &metrics,
            PROBE_HTTP_DURATION.name,
            &[("sdk.probe", "slow"), ("sdk.probe.phase", "processing")]
        ),
        0.0
    );
}

#[test]
fn tcp_probe_of_a_listening_port_succeeds_and_of_a_closed_port_fails() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let ((open_run, closed_run), metrics, _) = captured(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        let running = Probes::new()
            .with(TcpProbe::new("open", open.to_string()).interval(LONG))
            .with(TcpProbe::new("closed", closed.to_string()).interval(LONG))
            .spawn()
            .unwrap();
        let (open, closed) = (
            running.status("open").unwrap(),
            running.status("closed").unwrap(),
        );
        runs_reach(&open, 1).await;
        runs_reach(&closed, 1).await;
        let runs = (open.last_run().unwrap(), closed.last_run().unwrap());
        drop((running, listener));
        runs
    });
    assert!(open_run.success, "{open_run:?}");
    assert_eq!((open_run.status_code, open_run.phases), (None, None));
    assert!(!closed_run.success);
    assert!(
        matches!(closed_run.failure, Some(ProbeFailure::Connect(_))),
        "{closed_run:?}"
    );
    assert_eq!(
        gauge(&metrics, PROBE_SUCCESS.name, &[("sdk.probe", "open")]),
        1.0
    );
    assert_eq!(
        gauge(&metrics, PROBE_SUCCESS.name, &[("sdk.probe", "closed")]),
        0.0
    );
    assert_eq!(
        gauge(&metrics, PROBE_DURATION.name, &[("sdk.probe", "closed")]),
        closed_run.duration.as_secs_f64()
    );
    assert!(
        metrics.iter().all(|m| !m.name.starts_with("probe.http.")),
        "TCP probes record no HTTP gauges"
    );
}

#[test]
fn readiness_passes_then_fails_when_the_endpoint_starts_failing() {
    let ((before_first, passing, failing), _, _) = captured(async {
        let up = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&up);
        let app = Router::new().route(
            "/health",
            get(move || {
                let up = flag.load(Ordering::SeqCst);
                async move {
                    if up {
                        StatusCode::OK
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                }
            }),
        );
        let addr = serve(app).await;
        let running = Probes::new()
            .with(
                HttpProbe::get("api", format!("http://{addr}/health"))
                    .interval(Duration::from_secs(1))
                    .timeout(Duration::from_secs(1)),
            )
            .spawn()
            .unwrap();
        let probe = running.status("api").unwrap();
        let health = running.statuses().fold(Health::new(), Health::with_check);
        // The probe task has not been polled yet on this thread.
        let before_first = health.report().await;

        runs_reach(&probe, 1).await;
        let passing = health.report().await;

        up.store(false, Ordering::SeqCst);
        // A run in flight when the flag changed may still see 200: wait for the one after.
        let runs = probe.runs();
        runs_reach(&probe, runs + 2).await;
        let runs = probe.runs();
        let failing = health.report().await;
        assert_eq!(probe.runs(), runs, "readiness does not run the probe");
        (before_first, passing, failing)
    });
    assert_eq!(before_first.status, "fail");
    assert_eq!(
        before_first.checks[0].error.as_deref(),
        Some("no run has finished yet")
    );
    assert_eq!(passing.status, "ok", "{passing:?}");
    assert_eq!(passing.checks[0].name, "api");
    assert_eq!(failing.status, "fail", "{failing:?}");
    assert_eq!(
        failing.checks[0].error.as_deref(),
        Some("last run failed: unexpected status 500")
    );
}

#[test]
fn dropping_the_handle_stops_the_runs() {
    let ((hits_at_drop, hits_later, runs_at_drop, runs_later, verdict), _, _) = captured(async {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = Router::new().route(
            "/",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "ok" }
            }),
        );
        let addr = serve(app).await;
        let interval = Duration::from_millis(20);
        let running = Probes::new()
            .with(
                HttpProbe::get("busy", format!("http://{addr}/"))
                    .interval(interval)
                    .timeout(interval),
            )
            .spawn()
            .unwrap();
        let probe = running.status("busy").unwrap();
        runs_reach(&probe, 3).await;
        drop(running);
        let (hits_at_drop, runs_at_drop) = (hits.load(Ordering::SeqCst), probe.runs());
        tokio::time::sleep(interval * 10).await;
        (
            hits_at_drop,
            hits.load(Ordering::SeqCst),
            runs_at_drop,
            probe.runs(),
            probe.verdict(),
        )
    });
    assert_eq!(runs_later, runs_at_drop);
    // A request already sent when the handle dropped may still reach the server.
    assert!(
        hits_later <= hits_at_drop + 1,
        "{hits_later} requests after {hits_at_drop}"
    );
    assert_eq!(verdict, Err("the probes were stopped".to_owned()));
}

#[test]
fn declarations_are_refused_with_typed_errors() {
    let https = Probes::new()
        .with(HttpProbe::get(
            "secure",
            "https://user:pw@example.org/?key=k",
        ))
        .spawn()
        .unwrap_err();
    assert_eq!(
        https,
        ProbeError::UnsupportedScheme {
            probe: "secure".into(),
            scheme: "https".into()
        }
    );
    assert!(!https.to_string().contains("pw"), "{https}");
    let duplicate = Probes::new()
        .with(TcpProbe::new("db", "127.0.0.1:5432"))
        .with(HttpProbe::get("db", "http://127.0.0.1:5432/"))
        .spawn()
        .unwrap_err();
    assert_eq!(duplicate, ProbeError::DuplicateName { probe: "db".into() });
    let outside = Probes::new()
        .with(TcpProbe::new("db", "127.0.0.1:5432"))
        .spawn()
        .unwrap_err();
    assert_eq!(outside, ProbeError::NoRuntime);
}
