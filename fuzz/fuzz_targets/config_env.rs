//! Configuration from the environment: any values of every variable the SDK reads, in
//! any combination. A refusal is an error that names its variable; an accepted
//! configuration keeps its documented invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::config::Config;

const VARS: [&str; 47] = [
    "DD_AGENT_HOST",
    "DD_DOGSTATSD_PORT",
    "DD_DOGSTATSD_URL",
    "DD_ENV",
    "DD_SERVICE",
    "DD_TRACE_AGENT_PORT",
    "DD_TRACE_AGENT_URL",
    "DD_TRACE_API_VERSION",
    "DD_TRACE_PROPAGATION_STYLE",
    "DD_TRACE_SAMPLE_RATE",
    "DD_VERSION",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_LOGS_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_PROPAGATORS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
];

fuzz_target!(|vars: Vec<(u8, String)>| {
    let vars: Vec<(&str, &str)> = vars
        .iter()
        .map(|(var, value)| (VARS[usize::from(*var) % VARS.len()], value.as_str()))
        .collect();
    match Config::builder().build_from_vars(vars.iter().copied()) {
        Err(error) => {
            let message = error.to_string();
            assert!(
                vars.iter().any(|(var, _)| message.contains(var)),
                "the error names its variable: {message}"
            );
        }
        Ok(config) => {
            assert!(config.batch.max_export_batch_size <= config.batch.max_queue_size);
            assert!(config.batch.max_queue_size > 0 && config.batch.max_export_batch_size > 0);
            assert!(!config.service.name.is_empty(), "a service name, always");
        }
    }
});
