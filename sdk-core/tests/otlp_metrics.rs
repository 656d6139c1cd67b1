//! Catalogue metrics over OTLP to the in-process receiver (HTTP and gRPC) and to the test
//! agent: names, units, descriptions, bucket boundaries, counts and attributes.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use sdk_core::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, HTTP_SERVER_REQUEST_DURATION, PROPAGATION_REJECTED,
};
use sdk_core::config::{Config, OtlpProtocol};
use sdk_core::export::ExporterError;
use sdk_core::export::otlp_metrics::OtlpMetricsPipeline;
use sdk_core::semconv::{db, http, sdk};
use sdk_core::testing::TestAgent;
use sdk_core::testing::otlp::OtlpReceiver;
use std::time::Duration;

fn config() -> Config {
    Config::builder()
        .service_name("metrics-test")
        .build_from_vars::<&str, &str>([])
        .unwrap()
}

fn record_workload() {
    let duration = HTTP_SERVER_REQUEST_DURATION.histogram(&[
        (http::REQUEST_METHOD, "GET".into()),
        (http::ROUTE, "/users/{id}".into()),
        (http::RESPONSE_STATUS_CODE, "200".into()),
    ]);
    for value in [0.003, 0.02, 0.02, 0.3, 12.0] {
        duration.record(value);
    }
    PROPAGATION_REJECTED
        .counter(&[(sdk::PROPAGATOR, "b3".into())])
        .increment(4);
    let pool = DB_CLIENT_CONNECTION_COUNT.gauge(&[
        (db::CLIENT_CONNECTION_POOL_NAME, "main".into()),
        (db::CLIENT_CONNECTION_STATE, "idle".into()),
    ]);
    pool.increment(5.0);
    pool.decrement(2.0);
}

fn metrics(receiver: &OtlpReceiver) -> Vec<Metric> {
    receiver
        .received()
        .metrics
        .iter()
        .flat_map(|r| r.resource_metrics.iter())
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter().cloned())
        .collect()
}

fn assert_workload(metrics: &[Metric]) {
    let find = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing: {metrics:#?}"))
    };
    let duration = find("http.server.request.duration");
    assert_eq!(duration.unit, "s");
    assert_eq!(
        duration.description,
        HTTP_SERVER_REQUEST_DURATION.description
    );
    let Some(Data::Histogram(histogram)) = &duration.data else {
        panic!("not a histogram: {duration:?}")
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.explicit_bounds, HTTP_SERVER_REQUEST_DURATION.buckets);
    assert_eq!(point.count, 5);
    assert!((point.sum.unwrap() - 12.343).abs() < 1e-9);
    // Buckets: (..0.005] 1, (0.01..0.025] 2, (0.25..0.5] 1, (10..] 1.
    let mut expected = vec![0u64; HTTP_SERVER_REQUEST_DURATION.buckets.len() + 1];
    expected[0] = 1;
    expected[2] = 2;
    expected[7] = 1;
    expected[14] = 1;
    assert_eq!(point.bucket_counts, expected);
    let route = point
        .attributes
        .iter()
        .find(|kv| kv.key == "http.route")
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value);
    assert_eq!(route, Some(Any::StringValue("/users/{id}".into())));

    let rejected = find("sdk.propagation.rejected");
    assert_eq!(rejected.unit, "{header}");
    let Some(Data::Sum(sum)) = &rejected.data else {
        panic!("not a sum")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(4))
    );

    let pool = find("db.client.connection.count");
    let Some(Data::Sum(sum)) = &pool.data else {
        panic!("not a sum")
    };
    assert!(!sum.is_monotonic);
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(3.0))
    );
}

fn run(protocol: OtlpProtocol, endpoint: String, receiver: &OtlpReceiver) {
    let (recorder, pipeline) = OtlpMetricsPipeline::start(
        &config(),
        protocol,
        Some(&endpoint),
        Duration::from_secs(3600),
    )
    .unwrap();
    metrics::with_local_recorder(&recorder, record_workload);
    assert!(pipeline.force_flush(Duration::from_secs(10)));
    assert_workload(&metrics(receiver));
    let resource = &receiver.received().metrics[0].resource_metrics[0];
    assert!(format!("{:?}", resource.resource).contains("metrics-test"));
    assert!(pipeline.shutdown(Duration::from_secs(10)));
}

#[test]
fn http_protobuf_metrics_keep_catalogue_units_and_buckets() {
    let receiver = OtlpReceiver::start().unwrap();
    run(
        OtlpProtocol::HttpProtobuf,
        receiver.http_url("/v1/metrics"),
        &receiver,
    );
}

#[test]
fn grpc_metrics_keep_catalogue_units_and_buckets() {
    let receiver = OtlpReceiver::start().unwrap();
    run(OtlpProtocol::Grpc, receiver.grpc_url(), &receiver);
}

#[test]
fn metrics_reach_the_test_agent() {
    let agent = TestAgent::start().unwrap();
    let endpoint = format!("http://127.0.0.1:{}/v1/metrics", agent.otlp_http_port);
    let (recorder, pipeline) = OtlpMetricsPipeline::start(
        &config(),
        OtlpProtocol::HttpProtobuf,
        Some(&endpoint),
        Duration::from_secs(3600),
    )
    .unwrap();
    metrics::with_local_recorder(&recorder, record_workload);
    assert!(pipeline.force_flush(Duration::from_secs(10)));
    let (status, body) = agent.get_otlp("/test/session/metrics").unwrap();
    assert_eq!(status, 200);
    let text = body.to_string();
    assert!(text.contains("http.server.request.duration"), "{text}");
    assert!(text.contains("db.client.connection.count"), "{text}");
    pipeline.shutdown(Duration::from_secs(10));
}

#[test]
fn an_invalid_endpoint_is_reported_by_the_worker_as_a_typed_error() {
    let err = OtlpMetricsPipeline::start(
        &config(),
        OtlpProtocol::Grpc,
        Some("http://collector host:4317"),
        Duration::from_secs(3600),
    )
    .expect_err("the invalid endpoint was accepted");
    assert!(
        matches!(
            err,
            ExporterError::InvalidSetting {
                signal: "metrics",
                exporter: "otlp",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("http://collector host:4317"),
        "{err}"
    );
}
