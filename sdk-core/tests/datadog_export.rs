//! Traces to the real Datadog test agent (`ddapm-test-agent`) with every trace check on.

use sdk_core::config::{DatadogApi, Sampler, ServiceInfo};
use sdk_core::export::SpanExporter;
use sdk_core::export::datadog::DatadogExporter;
use sdk_core::propagation::{SpanContext, SpanId, TraceId};
use sdk_core::spans::FinishedSpan;
use sdk_core::testing::{CapturedSpans, TestAgent};
use serde_json::Value;
use std::time::{Duration, Instant};

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;

fn service() -> ServiceInfo {
    ServiceInfo {
        name: "checkout".into(),
        version: Some("1.2.3".into()),
        environment: Some("ci".into()),
    }
}

/// A server span continuing a remote 128-bit trace, a database child and a failing child.
fn request_spans() -> Vec<FinishedSpan> {
    let captured = CapturedSpans::default();
    let mut remote = SpanContext::new(
        TraceId::new(TRACE).unwrap(),
        SpanId::new(0x00f0_67aa_0ba9_02b7).unwrap(),
        true,
    );
    remote.sampling_priority = Some(2);
    remote.origin = Some("rum".into());
    tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
        let server = tracing::info_span!(
            "http.server.request",
            otel.name = "GET /users/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.route = "/users/{id}",
            http.response.status_code = 200,
        );
        sdk_core::trace::set_parent(&server, &remote);
        let _g = server.enter();
        tracing::info_span!(
            "db",
            otel.name = "SELECT users",
            otel.kind = "client",
            db.system.name = "postgresql",
            db.query.text = "SELECT * FROM users WHERE id = $1",
        )
        .in_scope(|| {});
        tracing::info_span!("render", error.type = "TemplateError", error.stack = "render.rs:42")
            .in_scope(|| {
                tracing::error!("template missing");
            });
    });
    captured.spans()
}

fn export(agent: &TestAgent, version: DatadogApi, spans: &[FinishedSpan]) {
    let mut exporter = DatadogExporter::new(&agent.url(), version, service());
    exporter
        .export(spans, Instant::now() + Duration::from_secs(10))
        .expect("agent accepts the payload");
}

fn spans_by_resource(traces: &Value) -> Vec<Value> {
    traces
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t.as_array().unwrap().clone())
        .collect()
}

fn assert_exact_spans(agent: &TestAgent, spans: &[FinishedSpan]) {
    let (status, traces) = agent.get("/test/session/traces").unwrap();
    assert_eq!(status, 200, "{traces}");
    assert_eq!(traces.as_array().unwrap().len(), 1, "one trace: {traces:#}");
    let received = spans_by_resource(&traces);
    assert_eq!(received.len(), 3, "{traces:#}");
    let find = |resource: &str| {
        received
            .iter()
            .find(|s| s["resource"] == resource)
            .unwrap_or_else(|| panic!("{resource}: {traces:#}"))
            .clone()
    };
    let server = find("GET /users/{id}");
    let db = find("SELECT users");
    let render = find("render");
    let low = TRACE as u64;

    for span in [&server, &db, &render] {
        assert_eq!(span["service"], "checkout");
        assert_eq!(span["trace_id"].as_u64(), Some(low));
        assert_eq!(span["meta"]["env"], "ci");
        assert_eq!(span["meta"]["version"], "1.2.3");
    }
    let ours = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    assert_eq!(server["name"], "http.server.request");
    assert_eq!(server["type"], "web");
    assert_eq!(
        server["span_id"].as_u64(),
        Some(ours("GET /users/{id}").span_id.get())
    );
    assert_eq!(server["parent_id"].as_u64(), Some(0x00f0_67aa_0ba9_02b7));
    assert_eq!(server["meta"]["_dd.p.tid"], "4bf92f3577b34da6");
    assert_eq!(server["meta"]["_dd.origin"], "rum");
    assert_eq!(server["metrics"]["_sampling_priority_v1"], 2.0);
    assert_eq!(server["meta"]["http.route"], "/users/{id}");
    assert_eq!(server["metrics"]["http.response.status_code"], 200.0);
    assert_eq!(server["error"], 0);

    assert_eq!(db["name"], "postgresql.query");
    assert_eq!(db["type"], "sql");
    assert_eq!(db["parent_id"], server["span_id"]);
    assert_eq!(db["meta"]["span.kind"], "client");

    assert_eq!(render["error"], 1);
    assert_eq!(render["meta"]["error.type"], "TemplateError");
    assert_eq!(render["meta"]["error.message"], "template missing");
    assert_eq!(render["meta"]["error.stack"], "render.rs:42");
    assert_eq!(render["parent_id"], server["span_id"]);
    assert!(render["duration"].as_i64().unwrap() >= 0);

    assert_checks_passed(agent);
}

/// Every enabled check that ran passed, and the header checks did run.
fn assert_checks_passed(agent: &TestAgent) {
    let (status, summary) = agent.get("/test/trace_check/summary").unwrap();
    assert_eq!(status, 200, "{summary}");
    let checks = summary.as_object().expect("summary object");
    for (name, counts) in checks {
        assert_eq!(counts["Failed_Checks"], 0, "check {name} failed: {summary}");
    }
    for name in [
        "trace_count_header",
        "meta_tracer_version_header",
        "trace_content_length",
    ] {
        assert!(
            checks[name]["Passed_Checks"].as_u64().unwrap_or(0) >= 1,
            "{name} did not run: {summary}"
        );
    }
}

#[test]
fn v04_payload_passes_every_check_and_arrives_exactly() {
    let agent = TestAgent::start().unwrap();
    let spans = request_spans();
    export(&agent, DatadogApi::V04, &spans);
    assert_exact_spans(&agent, &spans);
}

#[test]
fn v05_payload_passes_every_check_and_arrives_exactly() {
    let agent = TestAgent::start().unwrap();
    let spans = request_spans();
    export(&agent, DatadogApi::V05, &spans);
    assert_exact_spans(&agent, &spans);
}

#[test]
fn unreachable_agent_fails_within_the_deadline() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut exporter = DatadogExporter::new(
        &format!("http://127.0.0.1:{port}"),
        DatadogApi::V04,
        service(),
    );
    let started = Instant::now();
    let result = exporter.export(
        &request_spans(),
        Instant::now() + Duration::from_millis(800),
    );
    assert!(result.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A scripted stand-in for the agent's answers that the real test agent cannot give:
/// failures on demand and a chosen `rate_by_service`.
struct ScriptedAgent {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(u16, usize)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ScriptedAgent {
    fn start(script: Vec<(u16, Option<u64>)>, rates: &'static str) -> Self {
        use std::sync::{Arc, Mutex};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<(u16, usize)>>> = Arc::default();
        let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
        let state = (Arc::clone(&seen), script);
        let app = axum::Router::new().fallback(move |body: bytes::Bytes| {
            let (seen, script) = state.clone();
            async move {
                let (status, retry_after) =
                    script.lock().unwrap().pop_front().unwrap_or((200, None));
                seen.lock().unwrap().push((status, body.len()));
                let mut response =
                    axum::response::Response::new(axum::body::Body::from(if status == 200 {
                        rates
                    } else {
                        "no"
                    }));
                *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", seconds.to_string().parse().unwrap());
                }
                response
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            seen,
            _runtime: runtime,
        }
    }
}

#[test]
fn unavailable_agent_is_retried_with_retry_after_and_rates_are_applied() {
    let agent = ScriptedAgent::start(
        vec![(503, Some(1)), (429, None)],
        r#"{"rate_by_service":{"service:checkout,env:ci":0.25,"service:,env:":1.0}}"#,
    );
    let mut exporter = DatadogExporter::new(
        &format!("http://{}", agent.addr),
        DatadogApi::V04,
        service(),
    );
    let started = Instant::now();
    exporter
        .export(&request_spans(), Instant::now() + Duration::from_secs(20))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let seen = agent.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [503, 429, 200]
    );
    assert!(
        seen.iter().all(|(_, len)| *len > 0 && *len == seen[0].1),
        "the same payload each time"
    );
    assert_eq!(sdk_core::trace::agent_rate(), 0.25);

    // The agent rate drives root sampling when chosen.
    let sampler = Sampler {
        root: sdk_core::config::RootSampler::AgentRate,
        parent_based: true,
    };
    let kept = (1..=20_000u128)
        .filter(|i| {
            sdk_core::trace::sample_root(
                &sampler,
                TraceId::new(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)).unwrap(),
            )
        })
        .count();
    assert!((4000..6000).contains(&kept), "kept {kept} of 20000 at 0.25");
    sdk_core::trace::set_agent_rate(1.0);
}

#[test]
fn retry_after_holds_the_next_batch_too() {
    let agent = ScriptedAgent::start(vec![(429, Some(2))], "{}");
    let mut exporter = DatadogExporter::new(
        &format!("http://{}", agent.addr),
        DatadogApi::V04,
        service(),
    );
    let started = Instant::now();
    // The first batch gives up before the 2 s the agent asked for.
    let result = exporter.export(
        &request_spans(),
        Instant::now() + Duration::from_millis(500),
    );
    assert!(result.is_err(), "{result:?}");
    // The next one waits them out instead of asking again at once.
    exporter
        .export(&request_spans(), Instant::now() + Duration::from_secs(20))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "the second batch went out {:?} after a 429 with Retry-After: 2",
        started.elapsed()
    );
    let seen = agent.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [429, 200]);
}

#[test]
fn rejected_payload_is_not_retried() {
    let agent = ScriptedAgent::start(vec![(400, None)], "{}");
    let mut exporter = DatadogExporter::new(
        &format!("http://{}", agent.addr),
        DatadogApi::V05,
        service(),
    );
    let result = exporter.export(&request_spans(), Instant::now() + Duration::from_secs(10));
    assert!(
        matches!(result, Err(sdk_core::export::ExportError::Rejected(_))),
        "{result:?}"
    );
    assert_eq!(agent.seen.lock().unwrap().len(), 1);
}
