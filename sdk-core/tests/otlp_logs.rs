//! Log records over OTLP with the span's trace context, to the receiver and the test agent.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use sdk_core::config::{Config, OtlpProtocol, Sampler};
use sdk_core::export::ExporterError;
use sdk_core::export::otlp_logs::OtlpLogsPipeline;
use sdk_core::testing::TestAgent;
use sdk_core::testing::otlp::OtlpReceiver;
use sdk_core::trace::{TraceContextLayer, span_context};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

fn config() -> Config {
    Config::builder()
        .service_name("logs-test")
        .build_from_vars::<&str, &str>([])
        .unwrap()
}

/// Logs two events, one inside a span; returns that span's (trace id, span id) bytes.
fn emit(pipeline: &OtlpLogsPipeline) -> (Vec<u8>, Vec<u8>) {
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any span");
        let span = tracing::info_span!("request");
        let _g = span.enter();
        tracing::warn!(order = 42, paid = true, "payment slow");
        let ctx = span_context(&span).unwrap();
        (
            ctx.trace_id.get().to_be_bytes().to_vec(),
            ctx.span_id.get().to_be_bytes().to_vec(),
        )
    })
}

fn records(receiver: &OtlpReceiver) -> Vec<LogRecord> {
    receiver
        .received()
        .logs
        .iter()
        .flat_map(|r| r.resource_logs.iter())
        .flat_map(|rl| rl.scope_logs.iter())
        .flat_map(|sl| sl.log_records.iter().cloned())
        .collect()
}

fn run(protocol: OtlpProtocol, endpoint: String, receiver: &OtlpReceiver) {
    let pipeline = OtlpLogsPipeline::start(&config(), protocol, Some(&endpoint)).unwrap();
    let (trace_id, span_id) = emit(&pipeline);
    assert!(pipeline.force_flush(Duration::from_secs(10)));
    let records = records(receiver);
    assert_eq!(records.len(), 2, "{records:#?}");
    let outside = &records[0];
    assert_eq!(
        outside.body.as_ref().and_then(|b| b.value.clone()),
        Some(Any::StringValue("outside any span".into()))
    );
    assert!(outside.trace_id.is_empty() || outside.trace_id.iter().all(|b| *b == 0));
    let slow = &records[1];
    assert_eq!(
        slow.body.as_ref().and_then(|b| b.value.clone()),
        Some(Any::StringValue("payment slow".into()))
    );
    assert_eq!(slow.severity_text, "WARN");
    assert_eq!(slow.severity_number, 13);
    assert_eq!(slow.trace_id, trace_id);
    assert_eq!(slow.span_id, span_id);
    let attr = |key: &str| {
        slow.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(attr("order"), Some(Any::IntValue(42)));
    assert_eq!(attr("paid"), Some(Any::BoolValue(true)));
    assert!(
        format!(
            "{:?}",
            receiver.received().logs[0].resource_logs[0].resource
        )
        .contains("logs-test")
    );
    assert!(pipeline.shutdown(Duration::from_secs(10)));
}

#[test]
fn http_logs_carry_trace_context() {
    let receiver = OtlpReceiver::start().unwrap();
    run(
        OtlpProtocol::HttpProtobuf,
        receiver.http_url("/v1/logs"),
        &receiver,
    );
}

#[test]
fn grpc_logs_carry_trace_context() {
    let receiver = OtlpReceiver::start().unwrap();
    run(OtlpProtocol::Grpc, receiver.grpc_url(), &receiver);
}

#[test]
fn logs_reach_the_test_agent() {
    let agent = TestAgent::start().unwrap();
    let endpoint = format!("http://127.0.0.1:{}/v1/logs", agent.otlp_http_port);
    let pipeline =
        OtlpLogsPipeline::start(&config(), OtlpProtocol::HttpProtobuf, Some(&endpoint)).unwrap();
    emit(&pipeline);
    assert!(pipeline.force_flush(Duration::from_secs(10)));
    let (status, body) = agent.get_otlp("/test/session/logs").unwrap();
    assert_eq!(status, 200);
    assert!(body.to_string().contains("payment slow"), "{body}");
    pipeline.shutdown(Duration::from_secs(10));
}

#[test]
fn an_invalid_endpoint_is_reported_by_the_worker_as_a_typed_error() {
    let err = OtlpLogsPipeline::start(
        &config(),
        OtlpProtocol::HttpProtobuf,
        Some("http://collector host:4318/v1/logs"),
    )
    .expect_err("the invalid endpoint was accepted");
    assert!(
        matches!(
            err,
            ExporterError::InvalidSetting {
                signal: "logs",
                exporter: "otlp",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("http://collector host:4318/v1/logs"),
        "{err}"
    );
}
