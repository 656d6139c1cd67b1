//! The batch path from finished spans to a trace exporter.
//!
//! [`BatchSpanProcessor`] is a [`SpanSink`]: the request thread only pushes the span into a
//! bounded lock-free queue (`OTEL_BSP_MAX_QUEUE_SIZE`), waking the worker only when a full
//! batch waits; when the queue is full the span is
//! dropped and counted in `sdk.exporter.dropped{sdk.reason="queue_full"}`. A worker thread
//! exports batches of up to `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans every
//! `OTEL_BSP_SCHEDULE_DELAY`, or sooner when a batch is full, each export bounded by
//! `OTEL_BSP_EXPORT_TIMEOUT`. Failed batches are counted with `sdk.reason="export_failed"`.
//! An exporter that panics (a custom one, say) does not stop the worker: that batch is
//! dropped and counted with `sdk.reason="panic"` (and in `sdk.callback.panics`), and the
//! next batches are exported as usual.
//!
//! Flush and shutdown export every span queued when they were asked, in batches, each
//! export bounded by `OTEL_BSP_EXPORT_TIMEOUT` and all of them by the request's deadline;
//! what is still queued at the deadline (a collector that is down) is counted as
//! `export_failed` and given up, so shutdown never outlives its deadline.

pub mod console;
#[cfg(feature = "datadog")]
pub mod datadog;
#[cfg(feature = "dogstatsd")]
pub mod dogstatsd;
mod error;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "otlp")]
mod otlp_http;
#[cfg(feature = "otlp")]
pub mod otlp_logs;
#[cfg(feature = "otlp")]
pub mod otlp_metrics;
mod panic_safe;
pub mod retry;
mod worker;

use crate::catalogue::EXPORTER_DROPPED;
use crate::config::BatchConfig;
use crate::semconv::sdk;
use crate::spans::{FinishedSpan, SpanSink};
use crossbeam_channel::{Receiver, Sender, bounded, select};
use crossbeam_queue::ArrayQueue;
use panic_safe::PanicSafeExporter;
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{Control, Pending, WorkerHandle, export_deadline};

pub use error::ExporterError;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The receiver refused the data for good (4xx other than 408/429); not retried.
    #[error("rejected by the receiver: {0}")]
    Rejected(String),
    /// The receiver could not be reached or kept failing until the deadline.
    #[error("export failed: {0}")]
    Failed(String),
    /// The exporter panicked; the batch is dropped, the worker carries on.
    #[error("the exporter panicked")]
    Panicked,
}

/// Sends batches of finished spans somewhere. Runs on the worker thread only.
pub trait SpanExporter: Send + 'static {
    /// Short name for self-metrics (`otlp`, `datadog`, `console`).
    fn name(&self) -> &'static str;

    /// Exports `batch`, giving up (after retries) at `deadline`.
    fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError>;

    /// Releases resources; called once, after the last export.
    fn shutdown(&mut self) {}
}

/// A bounded queue and a worker thread in front of a [`SpanExporter`].
///
/// Submitting is a lock-free push; the worker is woken only when a full batch is waiting
/// (or on its schedule), so a request never pays for a thread wake-up.
#[derive(Debug)]
pub struct BatchSpanProcessor {
    queue: Arc<ArrayQueue<FinishedSpan>>,
    wake: Sender<()>,
    batch_size: usize,
    dropped: metrics::Counter,
    worker: WorkerHandle,
}

impl BatchSpanProcessor {
    /// Starts the worker thread for `exporter`.
    pub fn new(exporter: Box<dyn SpanExporter>, config: BatchConfig) -> std::io::Result<Self> {
        let queue = Arc::new(ArrayQueue::new(config.max_queue_size.max(1)));
        let (wake, woken) = bounded(1);
        let dropped = drop_counter(exporter.name(), "queue_full");
        // Handles are registered here, with the caller's recorder, not on the worker thread.
        let failed = drop_counter(exporter.name(), "export_failed");
        let panicked = drop_counter(exporter.name(), "panic");
        let exporter: Box<dyn SpanExporter> = Box::new(PanicSafeExporter::new(exporter));
        let spans = Arc::clone(&queue);
        let worker =
            WorkerHandle::spawn(format!("sdk-{}-spans", exporter.name()), move |control| {
                Worker {
                    exporter,
                    config,
                    spans,
                    woken,
                    control,
                    failed,
                    panicked,
                }
                .run()
            })?;
        Ok(Self {
            queue,
            wake,
            batch_size: config.max_export_batch_size.max(1),
            dropped,
            worker,
        })
    }

    /// Exports everything queued so far; `false` if an export failed or `timeout` passed.
    pub fn force_flush(&self, timeout: Duration) -> bool {
        self.worker.force_flush(timeout)
    }

    /// Exports what is queued and stops the worker; `false` if an export failed or
    /// `timeout` passed first (spans still queued then are counted as dropped).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.worker.shutdown(timeout)
    }

    /// Asks the worker to export what is queued by `deadline`; wait on the answer.
    // Used by `TelemetryGuard`, which needs the `json-logs` and `prometheus` features too.
    #[cfg_attr(
        not(all(feature = "json-logs", feature = "prometheus")),
        allow(dead_code)
    )]
    pub(crate) fn request_flush(&self, deadline: Instant) -> Pending<'_> {
        self.worker.request_flush(deadline)
    }

    /// Asks the worker to export what is queued by `deadline` and stop.
    #[cfg_attr(
        not(all(feature = "json-logs", feature = "prometheus")),
        allow(dead_code)
    )]
    pub(crate) fn request_shutdown(&self, deadline: Instant) -> Pending<'_> {
        self.worker.request_shutdown(deadline)
    }
}

impl SpanSink for BatchSpanProcessor {
    fn submit(&self, span: FinishedSpan) {
        if self.queue.push(span).is_err() {
            self.dropped.increment(1);
        } else if self.queue.len() >= self.batch_size {
            let _ = self.wake.try_send(());
        }
    }
}

/// Sends each finished span to every processor.
#[derive(Debug)]
pub struct FanOut(pub Vec<std::sync::Arc<BatchSpanProcessor>>);

impl SpanSink for FanOut {
    fn submit(&self, span: FinishedSpan) {
        if let Some((last, rest)) = self.0.split_last() {
            for processor in rest {
                processor.submit(span.clone());
            }
            last.submit(span);
        }
    }
}

/// One processor per configured trace exporter.
pub fn processors(
    config: &crate::config::Config,
) -> Result<Vec<std::sync::Arc<BatchSpanProcessor>>, ExporterError> {
    use crate::config::TracesExporter;
    let mut out = Vec::new();
    for exporter in &config.traces_exporters {
        let exporter: Box<dyn SpanExporter> = match exporter {
            TracesExporter::Console => Box::new(console::ConsoleSpanExporter::default()),
            #[cfg(feature = "otlp")]
            TracesExporter::Otlp => Box::new(otlp::OtlpSpanExporter::new(
                config.otlp.traces_protocol,
                None,
                &otlp::resource(&config.service, &config.resource_attributes),
            )?),
            #[cfg(feature = "datadog")]
            TracesExporter::Datadog => Box::new(datadog::DatadogExporter::new(
                &config.datadog.trace_agent_url,
                config.datadog.api_version,
                config.service.clone(),
            )),
            #[allow(unreachable_patterns)]
            other => {
                return Err(ExporterError::Unavailable {
                    signal: "traces",
                    exporter: match other {
                        TracesExporter::Otlp => "otlp",
                        TracesExporter::Datadog => "datadog",
                        TracesExporter::Console => "console",
                    },
                });
            }
        };
        let processor = start_processor(exporter, config.batch)?;
        out.push(std::sync::Arc::new(processor));
    }
    Ok(out)
}

/// [`BatchSpanProcessor::new`], with a failure to spawn the worker as an [`ExporterError`].
pub(crate) fn start_processor(
    exporter: Box<dyn SpanExporter>,
    config: BatchConfig,
) -> Result<BatchSpanProcessor, ExporterError> {
    let name = exporter.name();
    BatchSpanProcessor::new(exporter, config).map_err(|source| ExporterError::Thread {
        signal: "traces",
        exporter: name,
        source,
    })
}

fn drop_counter(exporter: &'static str, reason: &'static str) -> metrics::Counter {
    EXPORTER_DROPPED.counter(&[
        (sdk::SIGNAL, "traces".into()),
        (sdk::EXPORTER, exporter.into()),
        (sdk::REASON, reason.into()),
    ])
}

struct Worker {
    exporter: Box<dyn SpanExporter>,
    config: BatchConfig,
    spans: Arc<ArrayQueue<FinishedSpan>>,
    woken: Receiver<()>,
    control: Receiver<Control>,
    failed: metrics::Counter,
    /// Spans of batches whose export panicked.
    panicked: metrics::Counter,
}

impl Worker {
    fn run(mut self) {
        let size = self.config.max_export_batch_size.max(1);
        let mut batch: Vec<FinishedSpan> = Vec::with_capacity(size);
        let mut next_export = Instant::now() + self.config.schedule_delay;
        loop {
            let wait = next_export.saturating_duration_since(Instant::now());
            select! {
                recv(self.woken) -> _ => {
                    // The full batches waiting now, not those that keep arriving: a flush or
                    // shutdown request is looked at in between.
                    for _ in 0..self.spans.len() / size {
                        self.export_next(&mut batch, size, None);
                    }
                },
                recv(self.control) -> message => {
                    let (ack, deadline, stop) = match message {
                        Ok(Control::Flush { ack, deadline }) => (Some(ack), Some(deadline), false),
                        Ok(Control::Shutdown { ack, deadline }) => (Some(ack), Some(deadline), true),
                        // The processor is gone: export what is left on the usual bounds.
                        Err(_) => (None, None, true),
                    };
                    let ok = self.drain(&mut batch, size, deadline);
                    if stop {
                        self.exporter.shutdown();
                    }
                    if let Some(ack) = ack {
                        let _ = ack.send(ok);
                    }
                    if stop {
                        return;
                    }
                    next_export = Instant::now() + self.config.schedule_delay;
                },
                default(wait) => {
                    self.drain(&mut batch, size, None);
                    next_export = Instant::now() + self.config.schedule_delay;
                }
            }
        }
    }

    /// Exports the spans queued right now (not those that keep arriving meanwhile, so a
    /// busy application cannot keep a flush going), in batches; `true` if every export
    /// succeeded. Past `limit`, what is left is counted as failed and given up.
    fn drain(
        &mut self,
        batch: &mut Vec<FinishedSpan>,
        size: usize,
        limit: Option<Instant>,
    ) -> bool {
        let mut left = self.spans.len();
        let mut ok = true;
        while left > 0 {
            if limit.is_some_and(|limit| Instant::now() >= limit) {
                let mut given_up = 0u64;
                while given_up < left as u64 && self.spans.pop().is_some() {
                    given_up += 1;
                }
                self.failed.increment(given_up);
                tracing::debug!(target: "sdk_core::export", exporter = self.exporter.name(), spans = given_up, "deadline passed; spans not exported");
                return false;
            }
            let (exported, success) = self.export_next(batch, size.min(left), limit);
            if exported == 0 {
                break;
            }
            left = left.saturating_sub(exported);
            ok &= success;
        }
        ok
    }

    /// Exports up to `size` queued spans, by `OTEL_BSP_EXPORT_TIMEOUT` and `limit`; how
    /// many it took and whether the export succeeded.
    fn export_next(
        &mut self,
        batch: &mut Vec<FinishedSpan>,
        size: usize,
        limit: Option<Instant>,
    ) -> (usize, bool) {
        while batch.len() < size {
            match self.spans.pop() {
                Some(span) => batch.push(span),
                None => break,
            }
        }
        if batch.is_empty() {
            return (0, true);
        }
        let deadline = export_deadline(self.config.export_timeout, limit);
        let result = self.exporter.export(batch, deadline);
        if let Err(err) = &result {
            match err {
                ExportError::Panicked => self.panicked.increment(batch.len() as u64),
                _ => self.failed.increment(batch.len() as u64),
            }
            tracing::debug!(target: "sdk_core::export", exporter = self.exporter.name(), error = %err, spans = batch.len(), "span export failed");
        }
        let exported = batch.len();
        batch.clear();
        (exported, result.is_ok())
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::config::Sampler;
    use crate::testing::CapturedSpans;
    use std::sync::Mutex;

    fn finished() -> FinishedSpan {
        let captured = CapturedSpans::default();
        tracing::subscriber::with_default(captured.subscriber(Sampler::default()), || {
            let _s = tracing::info_span!("unit").entered();
        });
        captured.spans().remove(0)
    }

    /// What the worker did: the size and deadline of each export, and whether the
    /// exporter was shut down.
    #[derive(Default)]
    struct Log {
        exports: Vec<(usize, Instant)>,
        shut_down: bool,
    }

    /// Succeeds at once, or (`down`) behaves like a collector that never answers: holds
    /// each export until its deadline, then fails.
    struct Recording {
        log: Arc<Mutex<Log>>,
        down: bool,
    }

    impl SpanExporter for Recording {
        fn name(&self) -> &'static str {
            "recording"
        }
        fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError> {
            if let Ok(mut log) = self.log.lock() {
                log.exports.push((batch.len(), deadline));
            }
            if self.down {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return Err(ExportError::Failed("collector down".into()));
            }
            Ok(())
        }
        fn shutdown(&mut self) {
            if let Ok(mut log) = self.log.lock() {
                log.shut_down = true;
            }
        }
    }

    fn processor(down: bool, config: BatchConfig) -> (BatchSpanProcessor, Arc<Mutex<Log>>) {
        let log = Arc::new(Mutex::new(Log::default()));
        let exporter = Recording {
            log: Arc::clone(&log),
            down,
        };
        (
            BatchSpanProcessor::new(Box::new(exporter), config).unwrap(),
            log,
        )
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn shutdown_exports_every_queued_span_in_batches_then_releases_the_exporter() {
        let (processor, log) = processor(
            false,
            BatchConfig {
                schedule_delay: HOUR,
                export_timeout: HOUR,
                max_queue_size: 1000,
                max_export_batch_size: 10,
            },
        );
        let span = finished();
        for _ in 0..95 {
            processor.submit(span.clone());
        }
        assert!(processor.shutdown(Duration::from_secs(60)));
        let log = log.lock().unwrap();
        assert_eq!(log.exports.iter().map(|(n, _)| n).sum::<usize>(), 95);
        assert!(
            log.exports.iter().all(|(n, _)| *n <= 10),
            "{:?}",
            log.exports
        );
        assert!(log.shut_down);
        drop(log);
        // A second shutdown (the guard's drop) finds the worker gone and returns at once.
        assert!(processor.shutdown(Duration::from_secs(60)));
    }

    #[test]
    fn shutdown_with_the_collector_down_ends_by_its_deadline() {
        // Fewer spans than a batch: nothing is exported before the shutdown asks.
        let (processor, log) = processor(
            true,
            BatchConfig {
                schedule_delay: HOUR,
                export_timeout: HOUR,
                max_queue_size: 1000,
                max_export_batch_size: 100,
            },
        );
        let span = finished();
        for _ in 0..99 {
            processor.submit(span.clone());
        }
        let deadline = Instant::now() + Duration::from_millis(300);
        assert!(!processor.request_shutdown(deadline).wait());
        // The worker's export was bounded by the shutdown's deadline, not by the hour of
        // `OTEL_BSP_EXPORT_TIMEOUT`, and it released the exporter after it.
        let until = Instant::now() + Duration::from_secs(60);
        while !log.lock().unwrap().shut_down {
            assert!(
                Instant::now() < until,
                "the worker did not stop after its deadline"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = log.lock().unwrap();
        assert_eq!(log.exports, vec![(99, deadline)]);
    }

    #[test]
    fn a_drain_past_its_deadline_gives_the_rest_up() {
        let spans = Arc::new(ArrayQueue::new(100));
        let span = finished();
        for _ in 0..90 {
            let _ = spans.push(span.clone());
        }
        let log = Arc::new(Mutex::new(Log::default()));
        let (_wake, woken) = bounded(1);
        let (_control, control) = bounded(1);
        let mut worker = Worker {
            exporter: Box::new(Recording {
                log: Arc::clone(&log),
                down: true,
            }),
            config: BatchConfig {
                schedule_delay: HOUR,
                export_timeout: Duration::from_millis(50),
                max_queue_size: 100,
                max_export_batch_size: 10,
            },
            spans: Arc::clone(&spans),
            woken,
            control,
            failed: metrics::Counter::noop(),
            panicked: metrics::Counter::noop(),
        };
        let limit = Instant::now() + Duration::from_millis(120);
        assert!(!worker.drain(&mut Vec::new(), 10, Some(limit)));
        assert!(spans.is_empty(), "what was left is given up");
        let log = log.lock().unwrap();
        // Each export waits out its own 50 ms: two or three of the nine batches fit.
        assert!((1..9).contains(&log.exports.len()), "{:?}", log.exports);
        assert!(log.exports.iter().all(|(n, d)| *n == 10 && *d <= limit));
    }
}
