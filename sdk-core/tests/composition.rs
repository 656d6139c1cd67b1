//! The SDK's layers as a value in the user's own `Registry`, beside a plain
//! `tracing_subscriber::fmt` layer and `tracing-opentelemetry`, with a span exporter of the
//! user's: each side receives what it should.

use sdk_core::config::Config;
use sdk_core::export::{ExportError, SpanExporter};
use sdk_core::record::with_record;
use sdk_core::spans::{AttrValue, FinishedSpan, SpanKind};
use sdk_core::testing::CapturedLogs;
use sdk_core::testing::foreign::{OtelCapture, otel_attr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

/// A span exporter of the user's: keeps what it is given.
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

fn config() -> Config {
    let none: [(&str, &str); 0] = [];
    Config::builder()
        .service_name("composed")
        .traces_exporters([])
        .metrics_exporters([])
        .logs_exporters([])
        .build_from_vars(none)
        .unwrap()
}

/// Work as an application does it: a span described through the record hook, an event,
/// a child span.
fn work() {
    let span = tracing::info_span!("checkout", otel.name = Empty, app.cart.items = Empty);
    with_record(&span, |record| {
        record.name("POST /checkout");
        record.kind(SpanKind::Server);
        record.set("app.cart.items", AttrValue::I64(3));
    });
    let _entered = span.enter();
    tracing::info!(order = 42, "order placed");
    let context = sdk_core::trace::current_span_context().expect("the SDK gives ids");
    tracing::info_span!("charge card").in_scope(|| {
        assert_eq!(
            sdk_core::trace::current_span_context().unwrap().trace_id,
            context.trace_id
        );
    });
}

#[test]
fn sdk_layers_compose_with_fmt_and_tracing_opentelemetry() {
    let memory = Memory::default();
    let (sdk, telemetry) = sdk_core::builder(config())
        .with_span_exporter(memory.clone())
        .into_layers()
        .unwrap();
    let text = CapturedLogs::default();
    let otel = OtelCapture::default();
    let subscriber = tracing_subscriber::registry()
        .with(sdk)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(text.clone())
                .with_ansi(false),
        )
        .with(otel.layer());
    tracing::subscriber::with_default(subscriber, work);
    assert!(telemetry.force_flush(Duration::from_secs(10)));

    // The SDK: the span named and described through the hook, the event inside it, the
    // child with the same trace.
    let exported = memory.0.lock().unwrap().clone();
    let parent = exported
        .iter()
        .find(|s| s.name == "POST /checkout")
        .unwrap_or_else(|| panic!("{exported:#?}"));
    assert_eq!(parent.kind, SpanKind::Server);
    assert_eq!(parent.attribute("app.cart.items"), Some(&AttrValue::I64(3)));
    assert_eq!(parent.events.len(), 1);
    assert_eq!(parent.events[0].name, "order placed");
    let child = exported.iter().find(|s| s.name == "charge card").unwrap();
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, Some(parent.span_id));

    // The user's fmt layer: every event, with its span and fields.
    let text = text.text();
    assert!(text.contains("order placed"), "{text}");
    assert!(text.contains("order=42"), "{text}");
    assert!(text.contains("checkout"), "{text}");

    // tracing-opentelemetry: both spans, nested, with its own ids.
    let spans = otel.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(
        names.contains(&"checkout") && names.contains(&"charge card"),
        "{names:?}"
    );
    let otel_parent = spans.iter().find(|s| s.name == "checkout").unwrap();
    let otel_child = spans.iter().find(|s| s.name == "charge card").unwrap();
    assert_eq!(
        otel_child.parent_span_id,
        otel_parent.span_context.span_id()
    );
    assert_eq!(otel_parent.events.len(), 1, "the event reaches it too");
    assert_eq!(
        otel_attr(otel_parent, "app.cart.items"),
        None,
        "recorded for the SDK only"
    );
    telemetry.shutdown();
}

#[test]
fn sdk_layers_go_after_the_users_own() {
    let memory = Memory::default();
    let (sdk, telemetry) = sdk_core::builder(config())
        .with_span_exporter(memory.clone())
        .into_layers()
        .unwrap();
    let text = CapturedLogs::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(text.clone())
                .with_ansi(false),
        )
        .with(sdk);
    tracing::subscriber::with_default(subscriber, work);
    assert!(telemetry.force_flush(Duration::from_secs(10)));
    let exported = memory.0.lock().unwrap().clone();
    assert!(
        exported
            .iter()
            .any(|s| s.name == "POST /checkout" && s.attribute("app.cart.items").is_some()),
        "{exported:#?}"
    );
    assert!(text.text().contains("order placed"));
}

#[test]
fn layers_for_init_are_refused_by_into_layers() {
    let result = sdk_core::builder(config())
        .with_layer(tracing_subscriber::fmt::layer())
        .into_layers::<tracing_subscriber::Registry>();
    assert!(matches!(result, Err(sdk_core::InitError::LayersNeedInit)));
}
