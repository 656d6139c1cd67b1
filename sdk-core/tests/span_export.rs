//! Finished spans: what the collector records, and the bounded batch path.

use sdk_core::config::{BatchConfig, RootSampler, Sampler};
use sdk_core::export::console::ConsoleSpanExporter;
use sdk_core::export::{BatchSpanProcessor, ExportError, SpanExporter};
use sdk_core::propagation::{SpanContext, SpanId, TraceId};
use sdk_core::spans::{AttrValue, FinishedSpan, SpanKind, SpanSink, SpanStatus};
use sdk_core::testing::{CapturedSpans, RecordedValue, capture_metrics};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tracing::instrument]
fn load_user(id: u64) -> u64 {
    tracing::info!(cache = "miss", "loading");
    id * 2
}

#[test]
fn collector_records_names_kinds_attributes_events_status_and_parents() {
    let captured = CapturedSpans::default();
    let remote = SpanContext::new(
        TraceId::new(0xfeed).unwrap(),
        SpanId::new(0xbeef).unwrap(),
        true,
    );
    tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
        let server = tracing::info_span!(
            "http.server.request",
            otel.name = "GET /users/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.response.status_code = tracing::field::Empty,
            retries = 0u64,
            ratio = 0.5,
            cached = false,
        );
        sdk_core::trace::set_parent(&server, &remote);
        let _g = server.enter();
        assert_eq!(load_user(21), 42);
        server.record("http.response.status_code", 500);
        tracing::error!(reason = "db down", "query failed");
    });

    let spans = captured.spans();
    assert_eq!(spans.len(), 2);
    let child = captured.span("load_user").unwrap();
    let server = captured.span("GET /users/{id}").unwrap();
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.trace_id.get(), 0xfeed);
    assert_eq!(server.parent_span_id, Some(SpanId::new(0xbeef).unwrap()));
    assert!(server.parent_is_remote);
    assert_eq!(server.attribute_str("http.request.method"), Some("GET"));
    assert_eq!(
        server.attribute("http.response.status_code"),
        Some(&AttrValue::I64(500))
    );
    assert_eq!(server.attribute("retries"), Some(&AttrValue::I64(0)));
    assert_eq!(server.attribute("ratio"), Some(&AttrValue::F64(0.5)));
    assert_eq!(server.attribute("cached"), Some(&AttrValue::Bool(false)));
    assert!(server.attribute("otel.name").is_none());
    assert_eq!(server.status, SpanStatus::Error("query failed".into()));
    assert_eq!(server.events.len(), 1);
    assert_eq!(server.events[0].name, "query failed");
    assert_eq!(
        server.events[0].attributes,
        vec![("reason", AttrValue::Str("db down".into()))]
    );
    assert!(server.end >= server.start);

    assert_eq!(child.trace_id, server.trace_id);
    assert_eq!(child.parent_span_id, Some(server.span_id));
    assert!(!child.parent_is_remote);
    assert_eq!(child.kind, SpanKind::Internal);
    assert_eq!(child.attribute("id"), Some(&AttrValue::I64(21)));
    assert_eq!(child.events[0].name, "loading");
    assert_eq!(child.status, SpanStatus::Unset);
    assert_eq!(child.target, "span_export");
    assert!(child.start >= server.start && child.end <= server.end);
}

#[test]
fn unsampled_spans_are_not_recorded() {
    let captured = CapturedSpans::default();
    let off = Sampler {
        root: RootSampler::AlwaysOff,
        parent_based: true,
    };
    tracing::subscriber::with_default(captured.subscriber(off), || {
        let _root = tracing::info_span!("root").entered();
        let _child = tracing::info_span!("child").entered();
    });
    assert!(captured.spans().is_empty());
}

#[test]
fn limits_bound_attributes_events_and_values() {
    let captured = CapturedSpans::default();
    tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
        let span = tracing::info_span!("big", value = tracing::field::Empty);
        let _g = span.enter();
        span.record("value", "x".repeat(10_000).as_str());
        for i in 0..200 {
            tracing::info!(i, "event");
        }
    });
    let span = captured.span("big").unwrap();
    assert_eq!(span.events.len(), sdk_core::spans::MAX_EVENTS);
    assert_eq!(
        span.dropped_events,
        200 - sdk_core::spans::MAX_EVENTS as u32
    );
    assert_eq!(
        span.attribute_str("value").unwrap().len(),
        sdk_core::spans::MAX_VALUE_LEN
    );
}

/// An exporter that blocks until released and records what it was given.
struct Gate {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    exported: Arc<Mutex<Vec<usize>>>,
}

impl SpanExporter for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError> {
        let (lock, cvar) = &*self.open;
        let mut open = lock.lock().unwrap();
        while !*open {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(ExportError::Failed("gate closed".into()));
            }
            open = cvar.wait_timeout(open, wait).unwrap().0;
        }
        self.exported.lock().unwrap().push(batch.len());
        Ok(())
    }
}

fn finished(n: u64) -> FinishedSpan {
    let captured = CapturedSpans::default();
    tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
        let _s = tracing::info_span!("unit", n).entered();
    });
    captured.spans().remove(0)
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking_and_shutdown_flushes() {
    let open = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let exported = Arc::new(Mutex::new(Vec::new()));
    let mut config = BatchConfig::default();
    config.schedule_delay = Duration::from_millis(20);
    config.export_timeout = Duration::from_secs(10);
    config.max_queue_size = 8;
    config.max_export_batch_size = 4;
    let span = finished(1);
    let recorded = capture_metrics(|| {
        let processor = BatchSpanProcessor::new(
            Box::new(Gate {
                open: Arc::clone(&open),
                exported: Arc::clone(&exported),
            }),
            config,
        )
        .unwrap();
        let started = Instant::now();
        for _ in 0..1000 {
            processor.submit(span.clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "submitting blocked"
        );
        *open.0.lock().unwrap() = true;
        open.1.notify_all();
        assert!(processor.shutdown(Duration::from_secs(10)));
    });
    let total: usize = exported.lock().unwrap().iter().sum();
    assert!(exported.lock().unwrap().iter().all(|&n| n <= 4));
    let dropped = recorded
        .iter()
        .find(|m| {
            m.name == "sdk.exporter.dropped"
                && m.labels
                    .iter()
                    .any(|(k, v)| k == "sdk.reason" && v == "queue_full")
        })
        .map(|m| match m.value {
            RecordedValue::Counter(n) => n as usize,
            _ => 0,
        })
        .unwrap_or(0);
    assert!(total >= 8, "queued spans were flushed at shutdown: {total}");
    assert_eq!(
        total + dropped,
        1000,
        "every span is either exported or counted as dropped"
    );
}

#[test]
fn batches_go_out_on_schedule_and_failures_are_counted() {
    let open = Arc::new((Mutex::new(true), std::sync::Condvar::new()));
    let exported = Arc::new(Mutex::new(Vec::new()));
    let mut config = BatchConfig::default();
    config.schedule_delay = Duration::from_millis(50);
    config.export_timeout = Duration::from_millis(100);
    config.max_queue_size = 100;
    config.max_export_batch_size = 10;
    let span = finished(2);
    let recorded = capture_metrics(|| {
        let processor = BatchSpanProcessor::new(
            Box::new(Gate {
                open: Arc::clone(&open),
                exported: Arc::clone(&exported),
            }),
            config,
        )
        .unwrap();
        for _ in 0..3 {
            processor.submit(span.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while exported.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            *exported.lock().unwrap(),
            vec![3],
            "a partial batch leaves on the schedule"
        );

        *open.0.lock().unwrap() = false;
        processor.submit(span.clone());
        processor.submit(span.clone());
        assert!(
            !processor.force_flush(Duration::from_secs(5)),
            "a flush whose export failed reports it"
        );
        processor.shutdown(Duration::from_secs(5));
    });
    let failed = recorded
        .iter()
        .find(|m| {
            m.labels
                .iter()
                .any(|(k, v)| k == "sdk.reason" && v == "export_failed")
        })
        .expect("failed export counted");
    assert_eq!(failed.value, RecordedValue::Counter(2));
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn console_exporter_writes_one_json_line_per_span() {
    let span = finished(3);
    let out = SharedBuf::default();
    let mut exporter = ConsoleSpanExporter::new(out.clone());
    exporter
        .export(
            &[span.clone(), span.clone()],
            Instant::now() + Duration::from_secs(1),
        )
        .unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["type"], "span");
    assert_eq!(lines[0]["name"], "unit");
    assert_eq!(lines[0]["trace_id"], span.trace_id.to_hex());
    assert_eq!(lines[0]["span_id"], span.span_id.to_hex());
    assert_eq!(lines[0]["attributes"]["n"], 3);
    assert_eq!(lines[0]["kind"], "internal");
    assert_eq!(lines[0]["status"], "unset");
}

/// A custom exporter with a bug: it panics on batches while `broken`, and on shutdown.
struct Buggy {
    broken: Arc<std::sync::atomic::AtomicBool>,
    exported: Arc<Mutex<Vec<usize>>>,
}

impl SpanExporter for Buggy {
    fn name(&self) -> &'static str {
        "buggy"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("exporter bug on {} spans", batch.len());
        }
        self.exported.lock().unwrap().push(batch.len());
        Ok(())
    }
    fn shutdown(&mut self) {
        panic!("exporter bug at shutdown");
    }
}

#[test]
fn a_panicking_exporter_loses_its_batch_counted_and_the_worker_exports_the_next() {
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let exported = Arc::new(Mutex::new(Vec::new()));
    let mut config = BatchConfig::default();
    // Exports happen on the flushes below only.
    config.schedule_delay = Duration::from_secs(3600);
    config.max_queue_size = 100;
    config.max_export_batch_size = 10;
    let span = finished(3);
    let recorded = capture_metrics(|| {
        let processor = BatchSpanProcessor::new(
            Box::new(Buggy {
                broken: Arc::clone(&broken),
                exported: Arc::clone(&exported),
            }),
            config,
        )
        .unwrap();
        for _ in 0..2 {
            processor.submit(span.clone());
        }
        assert!(
            !processor.force_flush(Duration::from_secs(30)),
            "a flush whose export panicked reports a failure"
        );
        broken.store(false, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..3 {
            processor.submit(span.clone());
        }
        assert!(
            processor.force_flush(Duration::from_secs(30)),
            "the worker survived the panic and exports the next batch"
        );
        assert!(
            processor.shutdown(Duration::from_secs(30)),
            "a panic in the exporter's shutdown does not fail the shutdown"
        );
    });
    assert_eq!(*exported.lock().unwrap(), vec![3]);
    let counter = |name: &str, label: (&str, &str)| -> u64 {
        recorded
            .iter()
            .filter(|m| m.name == name)
            .filter(|m| m.labels.contains(&(label.0.to_owned(), label.1.to_owned())))
            .map(|m| match m.value {
                RecordedValue::Counter(n) => n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(
        counter("sdk.exporter.dropped", ("sdk.reason", "panic")),
        2,
        "the panicked batch's spans are counted as dropped: {recorded:?}"
    );
    assert_eq!(
        counter("sdk.exporter.dropped", ("sdk.reason", "export_failed")),
        0
    );
    assert_eq!(
        counter("sdk.callback.panics", ("sdk.callback", "exporter")),
        2,
        "one panic in export, one in shutdown: {recorded:?}"
    );
}
