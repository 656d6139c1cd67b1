//! Configuration from environment variables: every variable, every invalid value.

use sdk_core::config::{
    Config, ConfigError, LogsExporter, MetricsExporter, RootSampler, Sampler, TracesExporter,
};
use sdk_core::propagation::PropagationFormat;
use std::net::SocketAddr;

fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::builder().build_from_vars(vars.iter().copied())
}

fn ok(vars: &[(&str, &str)]) -> Config {
    match from(vars) {
        Ok(config) => config,
        Err(err) => panic!("{vars:?} rejected: {err}"),
    }
}

/// Asserts the error names the variable, the value and the accepted values.
fn rejected(vars: &[(&str, &str)], var: &str, accepted_fragment: &str) {
    let err = from(vars).expect_err("invalid value accepted");
    let ConfigError::InvalidValue {
        var: got_var,
        value,
        expected,
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(*got_var, var);
    let offending = vars
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| v.trim())
        .unwrap_or_default();
    assert_eq!(value, offending);
    assert!(expected.contains(accepted_fragment), "{expected}");
    let text = err.to_string();
    assert!(
        text.contains(var) && text.contains(offending) && text.contains(accepted_fragment),
        "{text}"
    );
}

#[test]
fn defaults_need_no_configuration() {
    let config = ok(&[]);
    assert_eq!(config.service.name, "unknown_service");
    assert_eq!(config.service.version, None);
    assert_eq!(config.service.environment, None);
    assert!(config.traces_exporters.is_empty());
    assert_eq!(config.metrics_exporters, vec![MetricsExporter::Prometheus]);
    assert_eq!(config.logs_exporters, vec![LogsExporter::Console]);
    assert_eq!(
        config.propagator.formats(),
        &[PropagationFormat::TraceContext, PropagationFormat::Baggage]
    );
    assert_eq!(
        config.sampler,
        Sampler {
            root: RootSampler::AlwaysOn,
            parent_based: true
        }
    );
    assert_eq!(config.log_filter, "info");
    assert_eq!(config.prometheus_listener, None);
    assert!(!config.disabled);
}

#[test]
fn service_identity_precedence() {
    let attrs = "service.name=from-attrs,service.version=1.0.0,deployment.environment.name=staging";
    let config = ok(&[("OTEL_RESOURCE_ATTRIBUTES", attrs)]);
    assert_eq!(config.service.name, "from-attrs");
    assert_eq!(config.service.version.as_deref(), Some("1.0.0"));
    assert_eq!(config.service.environment.as_deref(), Some("staging"));

    let config = ok(&[
        ("OTEL_RESOURCE_ATTRIBUTES", attrs),
        ("DD_SERVICE", "dd-name"),
        ("DD_ENV", "prod"),
        ("DD_VERSION", "2.0.0"),
    ]);
    assert_eq!(config.service.name, "dd-name");
    assert_eq!(config.service.environment.as_deref(), Some("prod"));
    assert_eq!(config.service.version.as_deref(), Some("2.0.0"));

    let config = ok(&[
        ("DD_SERVICE", "dd-name"),
        ("OTEL_SERVICE_NAME", "otel-name"),
    ]);
    assert_eq!(config.service.name, "otel-name");

    let config = Config::builder()
        .service_name("builder")
        .service_version("3")
        .environment("dev")
        .build_from_vars([
            ("OTEL_SERVICE_NAME", "otel-name"),
            ("DD_ENV", "prod"),
            ("DD_VERSION", "2"),
        ])
        .unwrap();
    assert_eq!(config.service.name, "builder");
    assert_eq!(config.service.version.as_deref(), Some("3"));
    assert_eq!(config.service.environment.as_deref(), Some("dev"));

    let defaulted = Config::builder()
        .default_service_name("demo")
        .build_from_vars::<&str, &str>([])
        .unwrap();
    assert_eq!(defaulted.service.name, "demo");
    let env_wins = Config::builder()
        .default_service_name("demo")
        .build_from_vars([("DD_SERVICE", "svc")])
        .unwrap();
    assert_eq!(env_wins.service.name, "svc");

    let legacy = ok(&[("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=qa")]);
    assert_eq!(legacy.service.environment.as_deref(), Some("qa"));

    // Found by the `config_env` fuzz target: an empty `service.name=` names nothing.
    let empty = ok(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=,service.version= ,deployment.environment.name=",
    )]);
    assert_eq!(empty.service.name, "unknown_service");
    assert_eq!(empty.service.version, None);
    assert_eq!(empty.service.environment, None);
}

#[test]
fn resource_attributes_are_decoded_and_validated() {
    let config = ok(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        " team=pay%20ments , region=eu-west-1,team=core",
    )]);
    assert_eq!(
        config.resource_attributes,
        vec![
            ("region".to_owned(), "eu-west-1".to_owned()),
            ("team".to_owned(), "core".to_owned())
        ]
    );
    rejected(
        &[("OTEL_RESOURCE_ATTRIBUTES", "novalue")],
        "OTEL_RESOURCE_ATTRIBUTES",
        "key=value",
    );
    rejected(
        &[("OTEL_RESOURCE_ATTRIBUTES", "=x")],
        "OTEL_RESOURCE_ATTRIBUTES",
        "key=value",
    );
    rejected(
        &[("OTEL_RESOURCE_ATTRIBUTES", "k=%FF")],
        "OTEL_RESOURCE_ATTRIBUTES",
        "percent-encoded",
    );
}

#[test]
fn exporters_per_signal() {
    let config = ok(&[
        ("OTEL_TRACES_EXPORTER", "otlp,Console"),
        ("OTEL_METRICS_EXPORTER", "dogstatsd"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    assert_eq!(
        config.traces_exporters,
        vec![TracesExporter::Otlp, TracesExporter::Console]
    );
    assert_eq!(config.metrics_exporters, vec![MetricsExporter::DogStatsD]);
    assert!(config.logs_exporters.is_empty());

    assert_eq!(
        ok(&[("OTEL_TRACES_EXPORTER", "datadog")]).traces_exporters,
        vec![TracesExporter::Datadog]
    );
    assert!(
        ok(&[("OTEL_TRACES_EXPORTER", "none")])
            .traces_exporters
            .is_empty()
    );
    for (value, expected) in [
        ("otlp", MetricsExporter::Otlp),
        ("prometheus", MetricsExporter::Prometheus),
        ("datadog", MetricsExporter::DogStatsD),
        ("console", MetricsExporter::Console),
    ] {
        assert_eq!(
            ok(&[("OTEL_METRICS_EXPORTER", value)]).metrics_exporters,
            vec![expected]
        );
    }
    assert!(
        ok(&[("OTEL_METRICS_EXPORTER", "none")])
            .metrics_exporters
            .is_empty()
    );
    assert_eq!(
        ok(&[("OTEL_LOGS_EXPORTER", "otlp")]).logs_exporters,
        vec![LogsExporter::Otlp]
    );
    assert_eq!(
        ok(&[("OTEL_LOGS_EXPORTER", "console")]).logs_exporters,
        vec![LogsExporter::Console]
    );

    rejected(
        &[("OTEL_TRACES_EXPORTER", "prometheus")],
        "OTEL_TRACES_EXPORTER",
        "otlp, datadog, console",
    );
    rejected(
        &[("OTEL_TRACES_EXPORTER", "zipkin")],
        "OTEL_TRACES_EXPORTER",
        "otlp, datadog, console",
    );
    rejected(
        &[("OTEL_TRACES_EXPORTER", "otlp,none")],
        "OTEL_TRACES_EXPORTER",
        "`none` alone",
    );
    rejected(
        &[("OTEL_METRICS_EXPORTER", "statsd")],
        "OTEL_METRICS_EXPORTER",
        "prometheus, datadog, dogstatsd",
    );
    rejected(
        &[("OTEL_LOGS_EXPORTER", "datadog")],
        "OTEL_LOGS_EXPORTER",
        "otlp, console",
    );
    rejected(
        &[("OTEL_LOGS_EXPORTER", ",,")],
        "OTEL_LOGS_EXPORTER",
        "otlp, console",
    );
}

#[test]
fn traces_exporter_default_follows_endpoints() {
    assert_eq!(
        ok(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).traces_exporters,
        vec![TracesExporter::Otlp]
    );
    assert_eq!(
        ok(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces"
        )])
        .traces_exporters,
        vec![TracesExporter::Otlp]
    );
    assert_eq!(
        ok(&[("DD_AGENT_HOST", "agent")]).traces_exporters,
        vec![TracesExporter::Datadog]
    );
    assert_eq!(
        ok(&[("DD_TRACE_AGENT_URL", "http://agent:8126")]).traces_exporters,
        vec![TracesExporter::Datadog]
    );
}

#[test]
fn propagators() {
    let config = ok(&[(
        "OTEL_PROPAGATORS",
        "b3multi, datadog,tracecontext,b3,baggage,datadog",
    )]);
    assert_eq!(
        config.propagator.formats(),
        &[
            PropagationFormat::B3Multi,
            PropagationFormat::Datadog,
            PropagationFormat::TraceContext,
            PropagationFormat::B3,
            PropagationFormat::Baggage
        ]
    );
    assert!(
        ok(&[("OTEL_PROPAGATORS", "none")])
            .propagator
            .formats()
            .is_empty()
    );
    let dd = ok(&[(
        "DD_TRACE_PROPAGATION_STYLE",
        "datadog,tracecontext,b3 single header",
    )]);
    assert_eq!(
        dd.propagator.formats(),
        &[
            PropagationFormat::Datadog,
            PropagationFormat::TraceContext,
            PropagationFormat::B3
        ]
    );
    let both = ok(&[
        ("DD_TRACE_PROPAGATION_STYLE", "datadog"),
        ("OTEL_PROPAGATORS", "b3"),
    ]);
    assert_eq!(both.propagator.formats(), &[PropagationFormat::B3]);

    rejected(
        &[("OTEL_PROPAGATORS", "jaeger")],
        "OTEL_PROPAGATORS",
        "tracecontext, baggage, datadog, b3, b3multi",
    );
    rejected(
        &[("OTEL_PROPAGATORS", "xray,tracecontext")],
        "OTEL_PROPAGATORS",
        "b3multi",
    );
    rejected(
        &[("DD_TRACE_PROPAGATION_STYLE", "w3c")],
        "DD_TRACE_PROPAGATION_STYLE",
        "tracecontext",
    );
}

#[test]
fn samplers() {
    let cases: [(&str, Option<&str>, Sampler); 7] = [
        (
            "always_on",
            None,
            Sampler {
                root: RootSampler::AlwaysOn,
                parent_based: false,
            },
        ),
        (
            "always_off",
            None,
            Sampler {
                root: RootSampler::AlwaysOff,
                parent_based: false,
            },
        ),
        (
            "traceidratio",
            Some("0.25"),
            Sampler {
                root: RootSampler::TraceIdRatio(0.25),
                parent_based: false,
            },
        ),
        (
            "traceidratio",
            None,
            Sampler {
                root: RootSampler::TraceIdRatio(1.0),
                parent_based: false,
            },
        ),
        (
            "parentbased_always_on",
            None,
            Sampler {
                root: RootSampler::AlwaysOn,
                parent_based: true,
            },
        ),
        (
            "PARENTBASED_ALWAYS_OFF",
            Some("ignored"),
            Sampler {
                root: RootSampler::AlwaysOff,
                parent_based: true,
            },
        ),
        (
            "parentbased_traceidratio",
            Some("0"),
            Sampler {
                root: RootSampler::TraceIdRatio(0.0),
                parent_based: true,
            },
        ),
    ];
    for (name, arg, expected) in cases {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
        if let Some(arg) = arg {
            vars.push(("OTEL_TRACES_SAMPLER_ARG", arg));
        }
        assert_eq!(ok(&vars).sampler, expected, "{name} {arg:?}");
    }
    assert_eq!(
        ok(&[("DD_TRACE_SAMPLE_RATE", "0.5")]).sampler,
        Sampler {
            root: RootSampler::TraceIdRatio(0.5),
            parent_based: true
        }
    );

    rejected(
        &[("OTEL_TRACES_SAMPLER", "jaeger_remote")],
        "OTEL_TRACES_SAMPLER",
        "parentbased_traceidratio",
    );
    rejected(
        &[("OTEL_TRACES_SAMPLER", "sometimes")],
        "OTEL_TRACES_SAMPLER",
        "always_on",
    );
    for bad in ["1.5", "-0.1", "half", "NaN"] {
        rejected(
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", bad),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "from 0 to 1",
        );
    }
    rejected(
        &[("DD_TRACE_SAMPLE_RATE", "2")],
        "DD_TRACE_SAMPLE_RATE",
        "from 0 to 1",
    );
}

#[test]
fn log_filter_listener_and_disable() {
    assert_eq!(
        ok(&[("RUST_LOG", "demo=debug,hyper=warn")]).log_filter,
        "demo=debug,hyper=warn"
    );
    assert_eq!(
        ok(&[("OTEL_EXPORTER_PROMETHEUS_PORT", "9100")]).prometheus_listener,
        Some("127.0.0.1:9100".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(
        ok(&[("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0")]).prometheus_listener,
        Some("0.0.0.0:9464".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(
        ok(&[
            ("OTEL_EXPORTER_PROMETHEUS_HOST", "[::1]"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
        ])
        .prometheus_listener,
        Some("[::1]:0".parse::<SocketAddr>().unwrap())
    );
    rejected(
        &[("OTEL_EXPORTER_PROMETHEUS_PORT", "70000")],
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        "0 to 65535",
    );
    rejected(
        &[("OTEL_EXPORTER_PROMETHEUS_HOST", "metrics.local")],
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        "IP address",
    );

    assert!(ok(&[("OTEL_SDK_DISABLED", "TRUE")]).disabled);
    assert!(!ok(&[("OTEL_SDK_DISABLED", "false")]).disabled);
    rejected(
        &[("OTEL_SDK_DISABLED", "yes")],
        "OTEL_SDK_DISABLED",
        "true or false",
    );
}

#[test]
fn empty_values_count_as_unset() {
    let config = ok(&[
        ("OTEL_SERVICE_NAME", ""),
        ("OTEL_TRACES_EXPORTER", "  "),
        ("OTEL_TRACES_SAMPLER", ""),
        ("OTEL_PROPAGATORS", ""),
    ]);
    assert_eq!(config.service.name, "unknown_service");
    assert!(config.traces_exporters.is_empty());
    assert_eq!(config.sampler, Sampler::default());
    assert_eq!(config.propagator.formats().len(), 2);
}

#[test]
fn builder_overrides_environment() {
    let config = Config::builder()
        .traces_exporters([TracesExporter::Console])
        .metrics_exporters([])
        .logs_exporters([LogsExporter::Otlp])
        .propagation([PropagationFormat::Datadog])
        .sampler(Sampler {
            root: RootSampler::AlwaysOff,
            parent_based: false,
        })
        .log_filter("warn")
        .prometheus_listener("127.0.0.1:9000".parse().unwrap())
        .build_from_vars([
            ("OTEL_TRACES_EXPORTER", "invalid"),
            ("OTEL_METRICS_EXPORTER", "invalid"),
            ("OTEL_LOGS_EXPORTER", "invalid"),
            ("OTEL_PROPAGATORS", "invalid"),
            ("OTEL_TRACES_SAMPLER", "invalid"),
            ("RUST_LOG", "debug"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "invalid"),
        ])
        .unwrap();
    assert_eq!(config.traces_exporters, vec![TracesExporter::Console]);
    assert!(config.metrics_exporters.is_empty());
    assert_eq!(config.logs_exporters, vec![LogsExporter::Otlp]);
    assert_eq!(config.propagator.formats(), &[PropagationFormat::Datadog]);
    assert_eq!(config.sampler.root, RootSampler::AlwaysOff);
    assert_eq!(config.log_filter, "warn");
    assert_eq!(
        config.prometheus_listener,
        Some("127.0.0.1:9000".parse().unwrap())
    );
}

#[test]
fn batch_processing_variables() {
    use sdk_core::config::BatchConfig;
    use std::time::Duration;
    assert_eq!(ok(&[]).batch, BatchConfig::default());
    let config = ok(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
    ]);
    assert_eq!(config.batch.schedule_delay, Duration::from_millis(250));
    assert_eq!(config.batch.export_timeout, Duration::from_secs(1));
    assert_eq!(config.batch.max_queue_size, 100);
    assert_eq!(
        config.batch.max_export_batch_size, 100,
        "capped at the queue size"
    );
    for var in ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT"] {
        for bad in ["0", "-5", "5s", "1.5"] {
            rejected(&[(var, bad)], var, "milliseconds");
        }
    }
    for var in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] {
        for bad in ["0", "many", "-1"] {
            rejected(&[(var, bad)], var, "positive whole number");
        }
    }
    assert_eq!(
        ok(&[("OTEL_METRIC_EXPORT_INTERVAL", "15000")]).metric_export_interval,
        Duration::from_secs(15)
    );
    rejected(
        &[("OTEL_METRIC_EXPORT_INTERVAL", "soon")],
        "OTEL_METRIC_EXPORT_INTERVAL",
        "milliseconds",
    );
}

#[test]
fn otlp_variables() {
    use sdk_core::config::OtlpProtocol;
    let config = ok(&[]);
    assert_eq!(config.otlp.traces_protocol, OtlpProtocol::HttpProtobuf);
    let config = ok(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
    ]);
    assert_eq!(config.otlp.traces_protocol, OtlpProtocol::Grpc);
    assert_eq!(config.otlp.metrics_protocol, OtlpProtocol::Grpc);
    assert_eq!(config.otlp.logs_protocol, OtlpProtocol::HttpJson);
    for var in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    ] {
        rejected(&[(var, "http")], var, "grpc, http/protobuf or http/json");
    }
    for signal in ["", "TRACES_", "METRICS_", "LOGS_"] {
        let endpoint: &'static str =
            Box::leak(format!("OTEL_EXPORTER_OTLP_{signal}ENDPOINT").into_boxed_str());
        let timeout: &'static str =
            Box::leak(format!("OTEL_EXPORTER_OTLP_{signal}TIMEOUT").into_boxed_str());
        let compression: &'static str =
            Box::leak(format!("OTEL_EXPORTER_OTLP_{signal}COMPRESSION").into_boxed_str());
        let headers: &'static str =
            Box::leak(format!("OTEL_EXPORTER_OTLP_{signal}HEADERS").into_boxed_str());
        assert!(
            from(&[
                (endpoint, "https://collector:4318"),
                (timeout, "5000"),
                (compression, "gzip"),
                (headers, "api-key=x,team=y")
            ])
            .is_ok()
        );
        rejected(
            &[(endpoint, "collector:4318")],
            endpoint,
            "http:// or https://",
        );
        rejected(&[(timeout, "10s")], timeout, "milliseconds");
        rejected(&[(compression, "zstd")], compression, "gzip or none");
        // Header values are credentials: the error names the variable and the keys only.
        for (value, quoted) in [("novalue", "…"), ("bad key=s3cr3t", "bad key=…")] {
            let err = from(&[(headers, value)]).expect_err("invalid headers accepted");
            let text = err.to_string();
            assert!(
                text.contains(headers) && text.contains(quoted) && !text.contains("s3cr3t"),
                "{text}"
            );
            assert!(text.contains("key=value"), "{text}");
        }
    }
}

#[test]
fn datadog_agent_variables() {
    use sdk_core::config::DatadogApi;
    let config = ok(&[]);
    assert_eq!(config.datadog.trace_agent_url, "http://localhost:8126");
    assert_eq!(config.datadog.api_version, DatadogApi::V04);
    assert_eq!(config.datadog.dogstatsd_addr, "localhost:8125");
    let config = ok(&[
        ("DD_AGENT_HOST", "agent"),
        ("DD_TRACE_AGENT_PORT", "9126"),
        ("DD_TRACE_API_VERSION", "v0.5"),
    ]);
    assert_eq!(config.datadog.trace_agent_url, "http://agent:9126");
    assert_eq!(config.datadog.api_version, DatadogApi::V05);
    assert_eq!(config.datadog.dogstatsd_addr, "agent:8125");
    let config = ok(&[
        ("DD_TRACE_AGENT_URL", "http://10.1.2.3:8126"),
        ("DD_AGENT_HOST", "ignored"),
    ]);
    assert_eq!(config.datadog.trace_agent_url, "http://10.1.2.3:8126");
    let config = ok(&[("DD_DOGSTATSD_URL", "unix:///var/run/datadog/dsd.socket")]);
    assert_eq!(
        config.datadog.dogstatsd_addr,
        "unix:///var/run/datadog/dsd.socket"
    );

    rejected(
        &[("DD_TRACE_AGENT_URL", "agent:8126")],
        "DD_TRACE_AGENT_URL",
        "http:// URL",
    );
    rejected(
        &[("DD_TRACE_AGENT_URL", "unix:///var/run/datadog/apm.socket")],
        "DD_TRACE_AGENT_URL",
        "http:// URL",
    );
    rejected(
        &[("DD_TRACE_AGENT_PORT", "0")],
        "DD_TRACE_AGENT_PORT",
        "1 to 65535",
    );
    rejected(
        &[("DD_TRACE_AGENT_PORT", "eighty")],
        "DD_TRACE_AGENT_PORT",
        "1 to 65535",
    );
    rejected(
        &[("DD_AGENT_HOST", "http://agent")],
        "DD_AGENT_HOST",
        "host name",
    );
    rejected(
        &[("DD_TRACE_API_VERSION", "v0.7")],
        "DD_TRACE_API_VERSION",
        "v0.4 or v0.5",
    );
    rejected(
        &[("DD_DOGSTATSD_URL", "udp://agent")],
        "DD_DOGSTATSD_URL",
        "udp://host:port",
    );
    rejected(
        &[("DD_DOGSTATSD_URL", "unix://relative")],
        "DD_DOGSTATSD_URL",
        "unix:///path",
    );
    rejected(
        &[("DD_DOGSTATSD_PORT", "99999")],
        "DD_DOGSTATSD_PORT",
        "1 to 65535",
    );
}
