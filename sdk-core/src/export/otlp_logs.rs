//! Logs over OTLP: a `tracing` layer that turns events into OpenTelemetry log records
//! carrying the span's trace context, queued (bounded, drops counted) and exported in
//! batches by `opentelemetry-otlp` from a worker thread with its own runtime.

use super::ExporterError;
use super::otlp::resource as otlp_resource;
use super::worker::{Control, Pending, WorkerHandle, export_deadline};
use crate::catalogue::EXPORTER_DROPPED;
use crate::config::{BatchConfig, Config, OtlpProtocol};
use crate::semconv::sdk;
use crate::trace::SpanState;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    LogBatch, LogExporter as _, LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider,
};
use std::time::{Duration, Instant, SystemTime};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

type Item = (SdkLogRecord, InstrumentationScope);

/// Hands records to the worker without blocking; a full queue drops and counts.
#[derive(Debug)]
struct QueueProcessor {
    queue: Sender<Item>,
    dropped: metrics::Counter,
}

impl LogProcessor for QueueProcessor {
    fn emit(&self, data: &mut SdkLogRecord, instrumentation: &InstrumentationScope) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send((data.clone(), instrumentation.clone()))
        {
            self.dropped.increment(1);
        }
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The OTLP log pipeline: logger provider, queue and worker.
#[derive(Debug)]
pub struct OtlpLogsPipeline {
    provider: SdkLoggerProvider,
    worker: WorkerHandle,
}

impl OtlpLogsPipeline {
    /// Starts the worker; `endpoint` overrides `OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT` (for
    /// HTTP the full URL with `/v1/logs`). Batching follows the span batch settings.
    pub fn start(
        config: &Config,
        protocol: OtlpProtocol,
        endpoint: Option<&str>,
    ) -> Result<Self, ExporterError> {
        let batch = config.batch;
        let (queue, queue_rx) = bounded(batch.max_queue_size.max(1));
        let label = |reason: &'static str| {
            EXPORTER_DROPPED.counter(&[
                (sdk::SIGNAL, "logs".into()),
                (sdk::EXPORTER, "otlp".into()),
                (sdk::REASON, reason.into()),
            ])
        };
        let processor = QueueProcessor {
            queue,
            dropped: label("queue_full"),
        };
        let failed = label("export_failed");
        let resource = otlp_resource(&config.service, &config.resource_attributes);
        let provider = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(processor)
            .build();
        let (ready_tx, ready_rx) = bounded(1);
        let endpoint = endpoint.map(str::to_owned);
        let worker = WorkerHandle::spawn("sdk-otlp-logs".into(), move |control| {
            run(
                protocol, endpoint, resource, batch, queue_rx, control, ready_tx, failed,
            )
        })
        .map_err(|source| ExporterError::Thread {
            signal: "logs",
            exporter: "otlp",
            source,
        })?;
        ready_rx.recv().map_err(|_| ExporterError::WorkerExited {
            signal: "logs",
            exporter: "otlp",
        })??;
        Ok(Self { provider, worker })
    }

    /// A layer emitting every event it sees through this pipeline (filter it like any
    /// layer).
    pub fn layer(&self) -> OtlpLogLayer {
        OtlpLogLayer {
            logger: self.provider.logger("sdk-core"),
        }
    }

    /// Exports what is queued; `false` on failure or after `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> bool {
        self.worker.force_flush(timeout)
    }

    /// Exports what is queued and stops the worker; `false` on failure or after `timeout`
    /// (records still queued then are counted as dropped).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.request_shutdown(Instant::now() + timeout).wait()
    }

    /// Asks the worker to export what is queued by `deadline`; wait on the answer.
    #[cfg_attr(
        not(all(feature = "json-logs", feature = "prometheus")),
        allow(dead_code)
    )]
    pub(crate) fn request_flush(&self, deadline: Instant) -> Pending<'_> {
        self.worker.request_flush(deadline)
    }

    /// Stops taking records, then asks the worker to export what is queued by `deadline`
    /// and stop; wait on the answer.
    pub(crate) fn request_shutdown(&self, deadline: Instant) -> Pending<'_> {
        // Records emitted before this call are in the queue already; the provider only
        // stops accepting new ones.
        let _ = self.provider.shutdown();
        self.worker.request_shutdown(deadline)
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    protocol: OtlpProtocol,
    endpoint: Option<String>,
    resource: opentelemetry_sdk::Resource,
    batch: BatchConfig,
    queue: Receiver<Item>,
    control: Receiver<Control>,
    ready: Sender<Result<(), ExporterError>>,
    failed: metrics::Counter,
) {
    let gate = super::otlp_http::Gate::default();
    let Some((runtime, mut exporter)) = super::otlp::start_worker(&ready, "logs", || {
        super::otlp::build_exporter!(
            opentelemetry_otlp::LogExporter,
            "LOGS",
            &gate,
            protocol,
            endpoint.as_deref()
        )
    }) else {
        return;
    };
    exporter.set_resource(&resource);
    let mut pending: Vec<Item> = Vec::with_capacity(batch.max_export_batch_size);
    // Exports `pending` by `OTEL_BSP_EXPORT_TIMEOUT` and `limit`; `true` on success.
    let export = |pending: &mut Vec<Item>, limit: Option<Instant>| -> bool {
        if pending.is_empty() {
            return true;
        }
        let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            pending.iter().map(|(r, s)| (r, s)).collect();
        let deadline = export_deadline(batch.export_timeout, limit);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let ok = !gate.closed_past(deadline)
            && runtime
                .block_on(async {
                    tokio::time::timeout(remaining, exporter.export(LogBatch::new(&refs))).await
                })
                .is_ok_and(|r| r.is_ok());
        if !ok {
            failed.increment(pending.len() as u64);
        }
        pending.clear();
        ok
    };
    let mut next = Instant::now() + batch.schedule_delay;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        select! {
            recv(queue) -> item => match item {
                Ok(item) => {
                    pending.push(item);
                    if pending.len() >= batch.max_export_batch_size {
                        export(&mut pending, None);
                        next = Instant::now() + batch.schedule_delay;
                    }
                }
                Err(_) => {
                    export(&mut pending, None);
                    break;
                }
            },
            recv(control) -> message => {
                let (ack, limit, stop) = match message {
                    Ok(Control::Flush { ack, deadline }) => (Some(ack), Some(deadline), false),
                    Ok(Control::Shutdown { ack, deadline }) => (Some(ack), Some(deadline), true),
                    Err(_) => (None, None, true),
                };
                // Everything queued now, in batches; past the deadline the rest is
                // counted as dropped rather than holding the caller.
                let mut left = queue.len();
                let mut ok = true;
                while left > 0 {
                    if limit.is_some_and(|limit| Instant::now() >= limit) {
                        let mut given_up = pending.len() as u64;
                        pending.clear();
                        for _ in 0..left {
                            if queue.try_recv().is_err() {
                                break;
                            }
                            given_up += 1;
                        }
                        failed.increment(given_up);
                        ok = false;
                        break;
                    }
                    let Ok(item) = queue.try_recv() else { break };
                    left -= 1;
                    pending.push(item);
                    if pending.len() >= batch.max_export_batch_size {
                        ok &= export(&mut pending, limit);
                    }
                }
                ok &= export(&mut pending, limit);
                if stop {
                    let _ = exporter.shutdown();
                }
                if let Some(ack) = ack {
                    let _ = ack.send(ok);
                }
                if stop {
                    break;
                }
                next = Instant::now() + batch.schedule_delay;
            },
            default(wait) => {
                export(&mut pending, None);
                next = Instant::now() + batch.schedule_delay;
            }
        }
    }
}

/// A `tracing` layer turning events into OTLP log records with the span's trace context.
#[derive(Debug)]
pub struct OtlpLogLayer {
    logger: SdkLogger,
}

fn severity(level: &Level) -> (Severity, &'static str) {
    match *level {
        Level::TRACE => (Severity::Trace, "TRACE"),
        Level::DEBUG => (Severity::Debug, "DEBUG"),
        Level::INFO => (Severity::Info, "INFO"),
        Level::WARN => (Severity::Warn, "WARN"),
        Level::ERROR => (Severity::Error, "ERROR"),
    }
}

struct Fields<'a>(&'a mut SdkLogRecord);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .add_attribute(Key::from_static_str(field.name()), AnyValue::Double(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0
            .add_attribute(Key::from_static_str(field.name()), AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(
            |_| AnyValue::String(value.to_string().into()),
            AnyValue::Int,
        );
        self.0
            .add_attribute(Key::from_static_str(field.name()), value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0
            .add_attribute(Key::from_static_str(field.name()), AnyValue::Boolean(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.set_body(AnyValue::String(value.to_owned().into()));
        } else {
            self.0.add_attribute(
                Key::from_static_str(field.name()),
                AnyValue::String(value.to_owned().into()),
            );
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S> Layer<S> for OtlpLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut record = self.logger.create_log_record();
        let now = SystemTime::now();
        record.set_timestamp(now);
        record.set_observed_timestamp(now);
        let (number, text) = severity(meta.level());
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_target(meta.target());
        event.record(&mut Fields(&mut record));
        if let Some(span) = ctx.event_span(event) {
            for ancestor in span.scope() {
                if let Some(state) = ancestor.extensions().get::<SpanState>() {
                    let flags = if state.sampled {
                        TraceFlags::SAMPLED
                    } else {
                        TraceFlags::default()
                    };
                    record.set_trace_context(
                        TraceId::from(state.trace_id.get()),
                        SpanId::from(state.span_id.get()),
                        Some(flags),
                    );
                    break;
                }
            }
        }
        self.logger.emit(record);
    }
}
