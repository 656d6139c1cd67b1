//! Traces over OTLP to an in-process receiver built from `opentelemetry-proto` (gRPC and
//! HTTP) and to the Datadog test agent's OTLP ports; faults: retry, no retry, receiver down.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use sdk_core::config::{OtlpProtocol, Sampler, ServiceInfo};
use sdk_core::export::otlp::{OtlpSpanExporter, resource};
use sdk_core::export::{ExporterError, SpanExporter};
use sdk_core::propagation::{SpanContext, SpanId, TraceId};
use sdk_core::spans::FinishedSpan;
use sdk_core::testing::otlp::OtlpReceiver;
use sdk_core::testing::{CapturedSpans, TestAgent};
use std::time::{Duration, Instant};

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const REMOTE_PARENT: u64 = 0x00f0_67aa_0ba9_02b7;

#[tracing::instrument]
fn load_inventory(items: u32) -> u32 {
    tracing::info!(items, "loaded");
    items
}

fn request_spans() -> Vec<FinishedSpan> {
    let captured = CapturedSpans::default();
    let remote = SpanContext::new(
        TraceId::new(TRACE).unwrap(),
        SpanId::new(REMOTE_PARENT).unwrap(),
        true,
    );
    tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
        let server = tracing::info_span!(
            "http.server.request",
            otel.name = "GET /users/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.route = "/users/{id}",
            http.response.status_code = 503,
        );
        sdk_core::trace::set_parent(&server, &remote);
        let _g = server.enter();
        load_inventory(3);
        tracing::error!("backend unavailable");
    });
    captured.spans()
}

fn service() -> ServiceInfo {
    ServiceInfo {
        name: "checkout".into(),
        version: Some("1.2.3".into()),
        environment: Some("ci".into()),
    }
}

fn exporter(protocol: OtlpProtocol, endpoint: &str) -> OtlpSpanExporter {
    OtlpSpanExporter::new(
        protocol,
        Some(endpoint),
        &resource(&service(), &[("team".into(), "payments".into())]),
    )
    .unwrap()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn assert_received(receiver: &OtlpReceiver, ours: &[FinishedSpan]) {
    let received = receiver.received();
    assert_eq!(received.traces.len(), 1);
    let resource_spans = &received.traces[0].resource_spans[0];
    let resource = resource_spans.resource.as_ref().unwrap();
    let res = |key: &str| {
        resource
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        res("service.name"),
        Some(Any::StringValue("checkout".into()))
    );
    assert_eq!(
        res("service.version"),
        Some(Any::StringValue("1.2.3".into()))
    );
    assert_eq!(
        res("deployment.environment.name"),
        Some(Any::StringValue("ci".into()))
    );
    assert_eq!(res("team"), Some(Any::StringValue("payments".into())));
    assert_eq!(
        resource_spans.scope_spans[0].scope.as_ref().unwrap().name,
        "otlp_export"
    );

    let spans = receiver.spans();
    assert_eq!(spans.len(), 2);
    let server = spans.iter().find(|s| s.name == "GET /users/{id}").unwrap();
    let child = spans.iter().find(|s| s.name == "load_inventory").unwrap();
    let ours_server = ours.iter().find(|s| s.name == "GET /users/{id}").unwrap();
    assert_eq!(server.trace_id, TRACE.to_be_bytes().to_vec());
    assert_eq!(
        server.span_id,
        ours_server.span_id.get().to_be_bytes().to_vec()
    );
    assert_eq!(server.parent_span_id, REMOTE_PARENT.to_be_bytes().to_vec());
    assert_eq!(server.kind, ProtoKind::Server as i32);
    assert_eq!(
        attr(server, "http.route"),
        Some(&Any::StringValue("/users/{id}".into()))
    );
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&Any::IntValue(503))
    );
    let status = server.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "backend unavailable");
    assert_eq!(server.events[0].name, "backend unavailable");
    assert!(server.end_time_unix_nano >= server.start_time_unix_nano);
    // The flags mark the remote parent (bit 9 set, bit 8 "has is_remote").
    assert_eq!(server.flags & 0x300, 0x300, "flags {:#x}", server.flags);

    // The user's #[instrument] span is a child of the SDK's server span.
    assert_eq!(child.trace_id, server.trace_id);
    assert_eq!(child.parent_span_id, server.span_id);
    assert_eq!(child.kind, ProtoKind::Internal as i32);
    assert_eq!(attr(child, "items"), Some(&Any::IntValue(3)));
}

#[test]
fn http_protobuf_to_the_receiver() {
    let receiver = OtlpReceiver::start().unwrap();
    let spans = request_spans();
    exporter(OtlpProtocol::HttpProtobuf, &receiver.http_url("/v1/traces"))
        .export(&spans, Instant::now() + Duration::from_secs(10))
        .unwrap();
    assert_received(&receiver, &spans);
    let request = &receiver.received().http_requests[0];
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/x-protobuf")
    );
}

#[test]
fn http_json_to_the_receiver() {
    let receiver = OtlpReceiver::start().unwrap();
    let spans = request_spans();
    exporter(OtlpProtocol::HttpJson, &receiver.http_url("/v1/traces"))
        .export(&spans, Instant::now() + Duration::from_secs(10))
        .unwrap();
    assert_received(&receiver, &spans);
    let request = &receiver.received().http_requests[0];
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/json"))
    );
}

#[test]
fn grpc_to_the_receiver() {
    let receiver = OtlpReceiver::start().unwrap();
    let spans = request_spans();
    exporter(OtlpProtocol::Grpc, &receiver.grpc_url())
        .export(&spans, Instant::now() + Duration::from_secs(10))
        .unwrap();
    assert_received(&receiver, &spans);
}

#[test]
fn to_the_test_agent_over_http_and_grpc() {
    let agent = TestAgent::start().unwrap();
    let spans = request_spans();
    exporter(
        OtlpProtocol::HttpProtobuf,
        &format!("http://127.0.0.1:{}/v1/traces", agent.otlp_http_port),
    )
    .export(&spans, Instant::now() + Duration::from_secs(10))
    .unwrap();
    exporter(
        OtlpProtocol::Grpc,
        &format!("http://127.0.0.1:{}", agent.otlp_grpc_port),
    )
    .export(&spans, Instant::now() + Duration::from_secs(10))
    .unwrap();
    let (status, body) = agent.get_otlp("/test/session/traces").unwrap();
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert_eq!(
        text.matches("GET /users/{id}").count(),
        2,
        "one server span per transport: {text}"
    );
    assert_eq!(text.matches("load_inventory").count(), 2, "{text}");
    assert!(text.contains("checkout"), "{text}");
}

#[test]
fn retryable_status_is_retried_and_delivered_once() {
    let receiver = OtlpReceiver::start().unwrap();
    receiver.script_http([(503, Some(1)), (503, None)]);
    let spans = request_spans();
    let started = Instant::now();
    exporter(OtlpProtocol::HttpProtobuf, &receiver.http_url("/v1/traces"))
        .export(&spans, Instant::now() + Duration::from_secs(20))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let received = receiver.received();
    let statuses: Vec<u16> = received.http_requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(received.traces.len(), 1, "delivered once");
}

#[test]
fn retry_after_holds_the_next_export_too() {
    let receiver = OtlpReceiver::start().unwrap();
    receiver.script_http([(429, Some(2))]);
    let mut exporter = exporter(OtlpProtocol::HttpProtobuf, &receiver.http_url("/v1/traces"));
    // The first export gives up before the 2 s the collector asked for.
    let result = exporter.export(
        &request_spans(),
        Instant::now() + Duration::from_millis(500),
    );
    assert!(result.is_err(), "{result:?}");
    // The next one waits them out instead of asking again at once.
    exporter
        .export(&request_spans(), Instant::now() + Duration::from_secs(20))
        .unwrap();
    let requests = receiver.received().http_requests;
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    let gap = requests[1].arrived - requests[0].arrived;
    assert!(
        gap >= Duration::from_millis(1900),
        "the second export came {gap:?} after a 429 with Retry-After: 2"
    );
}

#[test]
fn an_export_that_cannot_outwait_retry_after_is_not_sent() {
    let receiver = OtlpReceiver::start().unwrap();
    receiver.script_http([(429, Some(30))]);
    let mut exporter = exporter(OtlpProtocol::HttpProtobuf, &receiver.http_url("/v1/traces"));
    let first = exporter.export(
        &request_spans(),
        Instant::now() + Duration::from_millis(500),
    );
    assert!(first.is_err(), "{first:?}");
    // A flush or shutdown with a 2 s deadline gives up at once instead of holding its
    // caller for the 30 s the collector asked for.
    let second = exporter.export(&request_spans(), Instant::now() + Duration::from_secs(2));
    assert!(
        matches!(&second, Err(sdk_core::export::ExportError::Failed(reason)) if reason.contains("Retry-After")),
        "{second:?}"
    );
    let statuses: Vec<u16> = receiver
        .received()
        .http_requests
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [429],
        "nothing sent while the collector asked to wait"
    );
}

#[test]
fn bad_request_is_not_retried() {
    let receiver = OtlpReceiver::start().unwrap();
    receiver.script_http([(400, None)]);
    let result = exporter(OtlpProtocol::HttpProtobuf, &receiver.http_url("/v1/traces"))
        .export(&request_spans(), Instant::now() + Duration::from_secs(10));
    assert!(result.is_err());
    assert_eq!(receiver.received().http_requests.len(), 1);
    assert!(receiver.received().traces.is_empty());
}

#[test]
fn receiver_down_fails_within_the_deadline() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (protocol, endpoint) in [
        (
            OtlpProtocol::HttpProtobuf,
            format!("http://127.0.0.1:{port}/v1/traces"),
        ),
        (OtlpProtocol::Grpc, format!("http://127.0.0.1:{port}")),
    ] {
        let started = Instant::now();
        let result = exporter(protocol, &endpoint)
            .export(&request_spans(), Instant::now() + Duration::from_secs(2));
        assert!(result.is_err(), "{protocol:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{protocol:?}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn an_invalid_endpoint_is_a_typed_error_naming_it() {
    for protocol in [
        OtlpProtocol::HttpProtobuf,
        OtlpProtocol::HttpJson,
        OtlpProtocol::Grpc,
    ] {
        let err = OtlpSpanExporter::new(
            protocol,
            Some("http://collector host:4318"),
            &resource(&service(), &[]),
        )
        .err()
        .unwrap_or_else(|| panic!("{protocol:?}: the invalid endpoint was accepted"));
        assert!(
            matches!(
                err,
                ExporterError::InvalidSetting {
                    signal: "traces",
                    exporter: "otlp",
                    ..
                }
            ),
            "{protocol:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("http://collector host:4318"),
            "{protocol:?}: {message}"
        );
        assert!(std::error::Error::source(&err).is_some(), "{protocol:?}");
    }
}
