//! The batch path from finished spans to a trace exporter.
//!
//! [`BatchSpanProcessor`] is a [`SpanSink`]: the request thread only pushes the span into a
//! bounded lock-free queue (`OTEL_BSP_MAX_QUEUE_SIZE`), waking the worker only when a full
//! batch waits; when the queue is full the span is
//! dropped and counted in `sdk.exporter.dropped{sdk.reason="queue_full"}`. A worker thread
//! exports batches of up to `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans every
//! `OTEL_BSP_SCHEDULE_DELAY`, or sooner when a batch is full, each export bounded by
//! `OTEL_BSP_EXPORT_TIMEOUT`. Failed batches are counted with `sdk.reason="export_failed"`.
//! Shutdown exports what is queued within a deadline.

pub mod console;
#[cfg(feature = "datadog")]
pub mod datadog;
#[cfg(feature = "dogstatsd")]
pub mod dogstatsd;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "otlp")]
pub mod otlp_logs;
#[cfg(feature = "otlp")]
pub mod otlp_metrics;
pub mod retry;
mod worker;

use crate::catalogue::EXPORTER_DROPPED;
use crate::config::BatchConfig;
use crate::semconv::sdk;
use crate::spans::{FinishedSpan, SpanSink};
use crossbeam_channel::{Receiver, Sender, bounded, select};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{Control, WorkerHandle};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The receiver refused the data for good (4xx other than 408/429); not retried.
    #[error("rejected by the receiver: {0}")]
    Rejected(String),
    /// The receiver could not be reached or kept failing until the deadline.
    #[error("export failed: {0}")]
    Failed(String),
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
    /// `timeout` passed first (the worker then finishes in the background).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.worker.shutdown(timeout)
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
) -> Result<Vec<std::sync::Arc<BatchSpanProcessor>>, String> {
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
                return Err(format!(
                    "{other:?} traces exporter is not available in this build"
                ));
            }
        };
        let processor =
            BatchSpanProcessor::new(exporter, config.batch).map_err(|e| e.to_string())?;
        out.push(std::sync::Arc::new(processor));
    }
    Ok(out)
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
                    while self.spans.len() >= size {
                        self.export_next(&mut batch, size);
                    }
                },
                recv(self.control) -> message => {
                    let (ack, stop) = match message {
                        Ok(Control::Flush(ack)) => (Some(ack), false),
                        Ok(Control::Shutdown(ack)) => (Some(ack), true),
                        Err(_) => (None, true),
                    };
                    let ok = self.drain(&mut batch, size);
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
                    self.drain(&mut batch, size);
                    next_export = Instant::now() + self.config.schedule_delay;
                }
            }
        }
    }

    /// Exports everything queued right now, in batches; `true` if every export succeeded.
    fn drain(&mut self, batch: &mut Vec<FinishedSpan>, size: usize) -> bool {
        let mut ok = true;
        while !self.spans.is_empty() {
            ok &= self.export_next(batch, size);
        }
        ok
    }

    /// Exports up to `size` queued spans.
    fn export_next(&mut self, batch: &mut Vec<FinishedSpan>, size: usize) -> bool {
        while batch.len() < size {
            match self.spans.pop() {
                Some(span) => batch.push(span),
                None => break,
            }
        }
        if batch.is_empty() {
            return true;
        }
        let deadline = Instant::now() + self.config.export_timeout;
        let result = self.exporter.export(batch, deadline);
        if let Err(err) = &result {
            self.failed.increment(batch.len() as u64);
            tracing::debug!(target: "sdk_core::export", exporter = self.exporter.name(), error = %err, spans = batch.len(), "span export failed");
        }
        batch.clear();
        result.is_ok()
    }
}
