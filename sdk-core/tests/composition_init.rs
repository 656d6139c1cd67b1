//! `builder(config).with_layer(…).init()`: the SDK installs the global subscriber with the
//! user's layer beside its own, and publishes its configuration.

use sdk_core::config::Config;
use sdk_core::export::{ExportError, SpanExporter};
use sdk_core::propagation::PropagationFormat;
use sdk_core::spans::FinishedSpan;
use sdk_core::testing::CapturedLogs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<FinishedSpan>>>);

impl SpanExporter for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        self.0.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

#[test]
fn init_installs_the_users_layers_beside_the_sdks() {
    let none: [(&str, &str); 0] = [];
    let config = Config::builder()
        .service_name("with-layers")
        .traces_exporters([])
        .metrics_exporters([])
        .logs_exporters([])
        .propagation([PropagationFormat::B3])
        .build_from_vars(none)
        .unwrap();
    let memory = Memory::default();
    let text = CapturedLogs::default();
    let telemetry = sdk_core::builder(config)
        .with_layer(
            tracing_subscriber::fmt::layer()
                .with_writer(text.clone())
                .with_ansi(false),
        )
        .with_span_exporter(memory.clone())
        .init()
        .unwrap();
    tracing::info_span!("import").in_scope(|| tracing::warn!(rows = 7, "partial import"));
    assert!(telemetry.force_flush(Duration::from_secs(10)));
    assert!(text.text().contains("partial import"), "{}", text.text());
    assert!(text.text().contains("rows=7"));
    let exported = memory.0.lock().unwrap().clone();
    let import = exported.iter().find(|s| s.name == "import").unwrap();
    assert_eq!(import.events[0].name, "partial import");

    // What later layers and wrappers read instead of hand-passed state.
    assert!(sdk_core::global::is_installed());
    assert_eq!(sdk_core::global::service().name, "with-layers");
    assert_eq!(
        sdk_core::global::propagator().formats(),
        &[PropagationFormat::B3]
    );
    telemetry.shutdown();
}
