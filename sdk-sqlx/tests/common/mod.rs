//! Capture of spans, JSON logs and metrics around one async test body, all on the test's
//! thread (current-thread runtime, local recorder, scoped subscriber).

#![allow(dead_code, unreachable_pub)]

use sdk_core::config::{Sampler, ServiceInfo};
use sdk_core::logs::JsonLogLayer;
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::testing::{CapturedLogs, RecordedMetric, RecordedValue, capture_metrics};
use sdk_core::trace::TraceContextLayer;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::layer::SubscriberExt;

pub struct Captured {
    pub spans: Vec<FinishedSpan>,
    pub logs: Vec<serde_json::Value>,
    pub log_text: String,
    pub metrics: Vec<RecordedMetric>,
}

impl Captured {
    pub fn spans_named(&self, name: &str) -> Vec<&FinishedSpan> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    pub fn span(&self, name: &str) -> &FinishedSpan {
        self.spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}: {:?}", self.names()))
    }

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

    pub fn histogram_samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.metrics(name, labels)
            .into_iter()
            .flat_map(|m| match &m.value {
                RecordedValue::Histogram(v) => v.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.metrics(name, labels)
            .into_iter()
            .map(|m| match m.value {
                RecordedValue::Counter(v) => v,
                _ => 0,
            })
            .sum()
    }

    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.metrics(name, labels)
            .into_iter()
            .find_map(|m| match m.value {
                RecordedValue::Gauge(v) => Some(v),
                _ => None,
            })
    }
}

/// Runs `body` on a current-thread runtime with spans, logs and metrics captured.
pub fn capture<F, Fut>(sampler: Sampler, body: F) -> Captured
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = capture_metrics(|| {
        tracing::subscriber::with_default(subscriber, || runtime.block_on(body()));
    });
    drop(runtime);
    let spans = spans.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Captured {
        spans,
        logs: logs.lines(),
        log_text: logs.text(),
        metrics,
    }
}

pub fn str_attr<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.attribute_str(key)
}

pub fn int_attr(span: &FinishedSpan, key: &str) -> Option<i64> {
    match span.attribute(key) {
        Some(sdk_core::spans::AttrValue::I64(v)) => Some(*v),
        _ => None,
    }
}
