//! `SDK_PROCESS_METRICS=off`: `init` records no process or runtime metric and starts no
//! collector; invalid values of the variables fail `init` naming the variable. The
//! environment and `init` are global: this file (and process) has one test.

use sdk_core::config::{Config, ConfigError};
use sdk_core::process_metrics::{ENABLED_VAR, INTERVAL_VAR};
use sdk_core::{InitError, TelemetryGuard};

fn config() -> Config {
    Config::builder()
        .service_name("process-metrics-off-test")
        .build_from_vars::<&str, &str>([])
        .unwrap()
}

fn init() -> Result<TelemetryGuard, InitError> {
    sdk_core::init(config())
}

#[allow(unsafe_code)]
fn set_var(name: &str, value: &str) {
    // SAFETY: this process runs this one test, and nothing else reads the environment
    // while it is changed (`init` reads it on this thread).
    unsafe { std::env::set_var(name, value) }
}

fn invalid_var(result: Result<TelemetryGuard, InitError>) -> (&'static str, String) {
    match result {
        Err(InitError::Config(ConfigError::InvalidValue { var, value, .. })) => (var, value),
        other => panic!("expected an invalid-value error, got {other:?}"),
    }
}

#[test]
fn off_records_nothing_and_invalid_values_name_their_variable() {
    set_var(INTERVAL_VAR, "soon");
    assert_eq!(invalid_var(init()), (INTERVAL_VAR, "soon".to_owned()));
    set_var(INTERVAL_VAR, "50");
    assert_eq!(invalid_var(init()), (INTERVAL_VAR, "50".to_owned()));
    set_var(ENABLED_VAR, "maybe");
    let err = init().unwrap_err();
    assert!(err.to_string().contains(ENABLED_VAR), "{err}");

    // Off: the invalid interval no longer matters. Nothing was installed by the failed
    // calls, so this one succeeds.
    set_var(ENABLED_VAR, "off");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let entered = runtime.enter();
    let telemetry = init().unwrap();
    drop(entered);
    // When on, the first collection runs inside `init`: there is nothing to wait for.
    let text = telemetry.prometheus().unwrap().render();
    for prefix in ["process_", "sdk_runtime_tokio_", "sdk_collector_duration"] {
        assert!(
            !text.lines().any(|l| l.contains(prefix)),
            "{prefix}… recorded while off:\n{text}"
        );
    }
    let collector = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .any(|comm| comm.starts_with("sdk-process"));
    assert!(!collector, "a collector thread runs while off");
    assert!(!telemetry.watch_runtime(runtime.handle().clone()));
    telemetry.shutdown();
}
