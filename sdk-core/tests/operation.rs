//! The one operation lifecycle every adapter uses: an operation finishes once with its
//! outcome; dropped unfinished it is cancelled (`error.type = cancelled` on the span, the
//! adapter's metrics with the duration, `sdk.operation.cancelled` counted); a panicking
//! `OnFinish` is not run a second time by the drop; under a subscriber without the SDK's
//! layers the same writes become span fields.

use sdk_core::config::Sampler;
use sdk_core::operation::{Finished, OnFinish, Operation, Outcome};
use sdk_core::spans::{AttrValue, SpanKind, SpanStatus};
use sdk_core::testing::capture_everything;
use sdk_core::testing::foreign::{capture_foreign, otel_attr};
use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::field::Empty;

/// One `on_finish` call: the outcome's `error.type` and the duration.
type Call = (Option<String>, Duration);

/// What the adapter was told, one entry per `on_finish` call.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    fn all(&self) -> Vec<Call> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Adapter {
    calls: Calls,
    panics: bool,
}

impl OnFinish for Adapter {
    fn on_finish(&mut self, finished: &Finished<'_>, outcome: &Outcome) {
        self.calls
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((outcome.error_type().map(str::to_owned), finished.elapsed()));
        assert!(!self.panics, "the adapter's on_finish fails");
    }
}

fn start(calls: &Calls, panics: bool) -> Operation<Adapter> {
    let span = tracing::info_span!(
        "job",
        otel.name = Empty,
        otel.kind = Empty,
        otel.status_code = Empty,
        otel.status_message = Empty,
        job.queue = Empty,
        error.type = Empty,
    );
    let adapter = Adapter {
        calls: calls.clone(),
        panics,
    };
    Operation::start(span, "job", SpanKind::Consumer, adapter, |record| {
        record.name("process emails");
        record.push("job.queue", AttrValue::Str(Cow::Borrowed("emails")));
    })
}

#[test]
fn a_finished_operation_reports_its_outcome_once() {
    let calls = Calls::default();
    let captured = capture_everything(Sampler::default(), || {
        let operation = start(&calls, false);
        assert!(!operation.is_finished());
        operation.finish(Outcome::Ok);
    });
    let calls = calls.all();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, None);
    let span = captured.span("process emails");
    assert_eq!(span.kind, SpanKind::Consumer);
    assert_eq!(span.attribute_str("job.queue"), Some("emails"));
    assert_eq!(span.attribute("error.type"), None);
    assert!(!matches!(span.status, SpanStatus::Error(_)));
    assert_eq!(
        captured.counter("sdk.operation.cancelled", &[("sdk.operation", "job")]),
        0
    );
}

#[test]
fn a_failed_operation_marks_its_span() {
    let calls = Calls::default();
    let captured = capture_everything(Sampler::default(), || {
        start(&calls, false).finish(Outcome::failed_with("timeout", "no answer in 5 s"));
    });
    assert_eq!(calls.all()[0].0.as_deref(), Some("timeout"));
    let span = captured.span("process emails");
    assert_eq!(span.attribute_str("error.type"), Some("timeout"));
    assert_eq!(span.status, SpanStatus::Error("no answer in 5 s".into()));
}

#[test]
fn a_dropped_operation_is_cancelled_with_its_duration_and_counted() {
    let calls = Calls::default();
    let captured = capture_everything(Sampler::default(), || {
        let operation = start(&calls, false);
        // Time passes while it runs: the duration handed to the adapter covers it.
        let deadline = std::time::Instant::now() + Duration::from_millis(5);
        while std::time::Instant::now() < deadline {
            std::hint::spin_loop();
        }
        drop(operation);
    });
    let calls = calls.all();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0.as_deref(), Some("cancelled"));
    assert!(calls[0].1 >= Duration::from_millis(5), "{:?}", calls[0].1);
    let span = captured.span("process emails");
    assert_eq!(span.attribute_str("error.type"), Some("cancelled"));
    assert!(
        matches!(span.status, SpanStatus::Error(_)),
        "{:?}",
        span.status
    );
    assert_eq!(
        captured.counter("sdk.operation.cancelled", &[("sdk.operation", "job")]),
        1
    );
}

#[test]
fn a_panicking_adapter_is_not_finished_again_by_the_drop() {
    let calls = Calls::default();
    let captured = capture_everything(Sampler::default(), || {
        let operation = start(&calls, true);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            operation.finish(Outcome::Ok);
        }));
        assert!(result.is_err(), "the adapter's panic reaches the caller");
    });
    assert_eq!(calls.all().len(), 1, "{:?}", calls.all());
    assert_eq!(
        captured.counter("sdk.operation.cancelled", &[("sdk.operation", "job")]),
        0,
        "a finished operation is not also cancelled"
    );
}

#[test]
fn under_a_foreign_subscriber_the_operation_writes_span_fields() {
    let calls = Calls::default();
    let spans = capture_foreign(|| {
        start(&calls, false).finish(Outcome::Ok);
        drop(start(&calls, false));
    });
    assert_eq!(calls.all().len(), 2);
    assert_eq!(spans.len(), 2, "{spans:?}");
    for span in &spans {
        assert_eq!(span.name, "process emails");
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Consumer);
        assert_eq!(otel_attr(span, "job.queue").as_deref(), Some("emails"));
    }
    assert_eq!(otel_attr(&spans[0], "error.type"), None);
    assert_eq!(
        otel_attr(&spans[1], "error.type").as_deref(),
        Some("cancelled")
    );
    assert!(matches!(
        spans[1].status,
        opentelemetry::trace::Status::Error { .. }
    ));
}
