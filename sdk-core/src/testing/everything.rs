//! [`capture_everything`]: spans, JSON log lines and metrics recorded while a closure runs
//! on this thread (run async code on a current-thread runtime inside it).

use super::{CapturedLogs, RecordedMetric, RecordedValue, capture_metrics};
use crate::config::{Sampler, ServiceInfo};
use crate::logs::JsonLogLayer;
use crate::spans::{AttrValue, FinishedSpan, SpanCollectorLayer};
use crate::trace::TraceContextLayer;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::layer::SubscriberExt;

/// What [`capture_everything`] recorded.
#[derive(Debug, Clone)]
pub struct Everything {
    /// Sampled spans, in the order they closed.
    pub spans: Vec<FinishedSpan>,
    /// JSON log lines.
    pub logs: Vec<serde_json::Value>,
    /// The log output as text.
    pub log_text: String,
    /// Every metric recorded.
    pub metrics: Vec<RecordedMetric>,
}

/// Runs `f` with a subscriber (trace ids sampled by `sampler`, span collection, JSON logs)
/// and a capturing metrics recorder, both for this thread only.
pub fn capture_everything(sampler: Sampler, f: impl FnOnce()) -> Everything {
    let spans: Arc<Mutex<Vec<FinishedSpan>>> = Arc::default();
    let sink = {
        let spans = Arc::clone(&spans);
        move |span| {
            spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(span)
        }
    };
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::registry()
        .with(TraceContextLayer::new(sampler))
        .with(SpanCollectorLayer::new(Arc::new(sink)))
        .with(JsonLogLayer::new(logs.clone(), &ServiceInfo::default()));
    let metrics = capture_metrics(|| tracing::subscriber::with_default(subscriber, f));
    let spans = spans.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Everything {
        spans,
        logs: logs.lines(),
        log_text: logs.text(),
        metrics,
    }
}

impl Everything {
    /// Spans named `name`, in closing order.
    pub fn spans_named(&self, name: &str) -> Vec<&FinishedSpan> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// The first span named `name`; panics listing the names when there is none.
    #[allow(
        clippy::panic,
        reason = "a test helper: the panic fails the test that asked"
    )]
    pub fn span(&self, name: &str) -> &FinishedSpan {
        self.spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}: {:?}", self.names()))
    }

    /// Every span name, in closing order.
    pub fn names(&self) -> Vec<String> {
        self.spans.iter().map(|s| s.name.to_string()).collect()
    }

    /// Metrics named `name` whose labels include every pair of `labels`.
    pub fn metrics(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&RecordedMetric> {
        self.metrics
            .iter()
            .filter(|m| m.name == name)
            .filter(|m| {
                labels
                    .iter()
                    .all(|(k, v)| m.labels.iter().any(|(mk, mv)| mk == k && mv == v))
            })
            .collect()
    }

    /// Every sample of the matching histograms.
    pub fn histogram_samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.metrics(name, labels)
            .into_iter()
            .flat_map(|m| match &m.value {
                RecordedValue::Histogram(v) => v.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The sum of the matching counters.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.metrics(name, labels)
            .into_iter()
            .map(|m| match m.value {
                RecordedValue::Counter(v) => v,
                _ => 0,
            })
            .sum()
    }

    /// The value of the first matching gauge.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.metrics(name, labels)
            .into_iter()
            .find_map(|m| match m.value {
                RecordedValue::Gauge(v) => Some(v),
                _ => None,
            })
    }
}

/// The string attribute `key` of `span`.
pub fn str_attr<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.attribute_str(key)
}

/// The integer attribute `key` of `span`.
pub fn int_attr(span: &FinishedSpan, key: &str) -> Option<i64> {
    match span.attribute(key) {
        Some(AttrValue::I64(v)) => Some(*v),
        _ => None,
    }
}
