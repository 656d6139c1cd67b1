//! `init` installs global state, so it has this file (and process) to itself.

use sdk_core::catalogue::HTTP_SERVER_REQUEST_DURATION;
use sdk_core::config::{Config, ConfigError, MetricsExporter};
use sdk_core::export::ExporterError;
use sdk_core::semconv::http;
use sdk_core::{InitError, init};

#[test]
fn init_validates_installs_and_refuses_a_second_install() {
    let bad_filter = Config::builder()
        .log_filter("=[")
        .build_from_vars::<&str, &str>([])
        .unwrap();
    match init(bad_filter) {
        Err(InitError::Config(ConfigError::InvalidValue {
            var: "RUST_LOG",
            value,
            ..
        })) => assert_eq!(value, "=["),
        other => panic!("expected RUST_LOG error, got {other:?}"),
    }

    let otlp = Config::builder()
        .metrics_exporters([MetricsExporter::Console])
        .build_from_vars::<&str, &str>([])
        .unwrap();
    let err = init(otlp).expect_err("unavailable exporter accepted");
    assert!(
        matches!(
            err,
            InitError::ExporterUnavailable {
                signal: "metrics",
                exporter: "console"
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("console"));

    // An exporter that cannot start fails `init` with the exporter's typed error, before
    // anything global is installed.
    let mut bad_address = Config::builder()
        .metrics_exporters([MetricsExporter::DogStatsD])
        .build_from_vars::<&str, &str>([])
        .unwrap();
    bad_address.datadog.dogstatsd_addr = "no-port".into();
    let err = init(bad_address).expect_err("invalid DogStatsD address accepted");
    assert!(
        matches!(
            &err,
            InitError::Exporter(ExporterError::DogStatsDAddress { addr, .. }) if addr == "no-port"
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"no-port\""), "{err}");

    let disabled = Config::builder()
        .build_from_vars([("OTEL_SDK_DISABLED", "true")])
        .unwrap();
    let inert = init(disabled).unwrap();
    assert!(inert.prometheus().is_none());
    drop(inert);

    let config = Config::builder()
        .service_name("init-test")
        .build_from_vars::<&str, &str>([])
        .unwrap();
    let guard = init(config).unwrap();
    assert_eq!(guard.config().service.name, "init-test");
    HTTP_SERVER_REQUEST_DURATION
        .histogram(&[
            (http::REQUEST_METHOD, "GET".into()),
            (http::ROUTE, "/".into()),
        ])
        .record(0.02);
    let text = guard.prometheus().unwrap().render();
    assert!(
        text.contains("http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_route=\"/\",le=\"0.025\"} 1"),
        "{text}"
    );
    sdk_core::testing::promtool_check(&text).unwrap();

    let span = tracing::info_span!("request");
    assert!(
        sdk_core::trace::span_context(&span).is_some(),
        "the span-context layer is installed"
    );

    let again = init(Config::builder().build_from_vars::<&str, &str>([]).unwrap());
    assert!(
        matches!(
            again,
            Err(InitError::Prometheus(_)) | Err(InitError::SubscriberAlreadySet)
        ),
        "{again:?}"
    );
    guard.shutdown();
}
