//! Metrics over OTLP: a `metrics` recorder that feeds OpenTelemetry instruments created
//! with the catalogue's unit, description and bucket boundaries, read by a manual reader
//! and pushed by `opentelemetry-otlp` from a worker thread with its own runtime every
//! `OTEL_METRIC_EXPORT_INTERVAL`, each export bounded by `OTEL_BSP_EXPORT_TIMEOUT`.
//! Shutdown collects and exports one last time before the meter provider stops.

use super::ExporterError;
use super::otlp::resource as otlp_resource;
use super::worker::{Control, Pending, WorkerHandle, export_deadline};
use crate::catalogue::{self, EXPORTER_DROPPED, MetricKind};
use crate::config::{Config, OtlpProtocol};
use crate::semconv::sdk;
use crossbeam_channel::{Receiver, Sender, bounded};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

#[derive(Clone)]
enum Instrument {
    Counter(opentelemetry::metrics::Counter<u64>),
    UpDown(opentelemetry::metrics::UpDownCounter<f64>),
    Gauge(opentelemetry::metrics::Gauge<f64>),
    Histogram(opentelemetry::metrics::Histogram<f64>),
}

/// The `metrics` recorder feeding OpenTelemetry instruments.
pub struct OtelRecorder {
    meter: Meter,
    instruments: RwLock<HashMap<String, Instrument>>,
}

impl std::fmt::Debug for OtelRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelRecorder").finish_non_exhaustive()
    }
}

fn attributes(key: &Key) -> Arc<[KeyValue]> {
    key.labels()
        .map(|l| KeyValue::new(l.key().to_owned(), l.value().to_owned()))
        .collect()
}

impl OtelRecorder {
    fn instrument(&self, name: &str, wanted: MetricKind) -> Instrument {
        if let Some(found) = self
            .instruments
            .read()
            .ok()
            .and_then(|map| map.get(name).cloned())
        {
            return found;
        }
        let def = catalogue::find(name);
        let kind = def.map_or(wanted, |d| d.kind);
        let unit = def.map(|d| d.unit.ucum()).unwrap_or_default();
        let description = def.map(|d| d.description).unwrap_or_default();
        let owned = name.to_owned();
        let instrument = match kind {
            MetricKind::Counter => Instrument::Counter(
                self.meter
                    .u64_counter(owned)
                    .with_unit(unit)
                    .with_description(description)
                    .build(),
            ),
            MetricKind::UpDownCounter => Instrument::UpDown(
                self.meter
                    .f64_up_down_counter(owned)
                    .with_unit(unit)
                    .with_description(description)
                    .build(),
            ),
            MetricKind::Gauge => Instrument::Gauge(
                self.meter
                    .f64_gauge(owned)
                    .with_unit(unit)
                    .with_description(description)
                    .build(),
            ),
            MetricKind::Histogram => {
                let buckets = def.map_or(catalogue::HTTP_SERVER_REQUEST_DURATION.buckets, |d| {
                    d.buckets
                });
                Instrument::Histogram(
                    self.meter
                        .f64_histogram(owned)
                        .with_unit(unit)
                        .with_description(description)
                        .with_boundaries(buckets.to_vec())
                        .build(),
                )
            }
        };
        if let Ok(mut map) = self.instruments.write() {
            map.entry(name.to_owned())
                .or_insert_with(|| instrument.clone());
        }
        instrument
    }
}

struct OtelCounter {
    counter: opentelemetry::metrics::Counter<u64>,
    attributes: Arc<[KeyValue]>,
    total: AtomicU64,
}

impl CounterFn for OtelCounter {
    fn increment(&self, value: u64) {
        self.total.fetch_add(value, Ordering::Relaxed);
        self.counter.add(value, &self.attributes);
    }
    fn absolute(&self, value: u64) {
        let before = self.total.fetch_max(value, Ordering::Relaxed);
        if value > before {
            self.counter.add(value - before, &self.attributes);
        }
    }
}

/// Up-down counters and gauges; `metrics`' `set` becomes the difference to the last value.
struct OtelGauge {
    instrument: Instrument,
    attributes: Arc<[KeyValue]>,
    current: AtomicU64,
}

impl OtelGauge {
    fn apply(&self, update: impl Fn(f64) -> f64) {
        let mut before = self.current.load(Ordering::Relaxed);
        loop {
            let next = update(f64::from_bits(before));
            match self.current.compare_exchange_weak(
                before,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    match &self.instrument {
                        Instrument::UpDown(c) => {
                            c.add(next - f64::from_bits(before), &self.attributes)
                        }
                        Instrument::Gauge(g) => g.record(next, &self.attributes),
                        _ => {}
                    }
                    return;
                }
                Err(actual) => before = actual,
            }
        }
    }
}

impl GaugeFn for OtelGauge {
    fn increment(&self, value: f64) {
        self.apply(|v| v + value);
    }
    fn decrement(&self, value: f64) {
        self.apply(|v| v - value);
    }
    fn set(&self, value: f64) {
        self.apply(|_| value);
    }
}

struct OtelHistogram {
    histogram: opentelemetry::metrics::Histogram<f64>,
    attributes: Arc<[KeyValue]>,
}

impl HistogramFn for OtelHistogram {
    fn record(&self, value: f64) {
        self.histogram.record(value, &self.attributes);
    }
}

impl Recorder for OtelRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match self.instrument(key.name(), MetricKind::Counter) {
            Instrument::Counter(counter) => Counter::from_arc(Arc::new(OtelCounter {
                counter,
                attributes: attributes(key),
                total: AtomicU64::new(0),
            })),
            _ => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        match self.instrument(key.name(), MetricKind::Gauge) {
            instrument @ (Instrument::UpDown(_) | Instrument::Gauge(_)) => {
                Gauge::from_arc(Arc::new(OtelGauge {
                    instrument,
                    attributes: attributes(key),
                    current: AtomicU64::new(0f64.to_bits()),
                }))
            }
            _ => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match self.instrument(key.name(), MetricKind::Histogram) {
            Instrument::Histogram(histogram) => Histogram::from_arc(Arc::new(OtelHistogram {
                histogram,
                attributes: attributes(key),
            })),
            _ => Histogram::noop(),
        }
    }
}

/// The push side: a worker thread that collects and exports on an interval.
#[derive(Debug)]
pub struct OtlpMetricsPipeline {
    provider: SdkMeterProvider,
    worker: WorkerHandle,
}

impl OtlpMetricsPipeline {
    /// Builds the exporter and the recorder. `endpoint` overrides
    /// `OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT` (for HTTP the full URL with `/v1/metrics`).
    pub fn start(
        config: &Config,
        protocol: OtlpProtocol,
        endpoint: Option<&str>,
        interval: Duration,
    ) -> Result<(OtelRecorder, Self), ExporterError> {
        let reader = SharedReader(Arc::new(ManualReader::builder().build()));
        let provider = SdkMeterProvider::builder()
            .with_resource(otlp_resource(&config.service, &config.resource_attributes))
            .with_reader(reader.clone())
            .build();
        let recorder = OtelRecorder {
            meter: provider.meter("sdk-core"),
            instruments: RwLock::default(),
        };
        // Taken at the first failure, not now: this recorder is not installed yet, and a
        // handle taken before it is would count nowhere.
        let failed = || {
            EXPORTER_DROPPED.counter(&[
                (sdk::SIGNAL, "metrics".into()),
                (sdk::EXPORTER, "otlp".into()),
                (sdk::REASON, "export_failed".into()),
            ])
        };
        let (ready_tx, ready_rx) = bounded(1);
        let endpoint = endpoint.map(str::to_owned);
        let timing = Timing {
            interval,
            export_timeout: config.batch.export_timeout,
        };
        let worker = WorkerHandle::spawn("sdk-otlp-metrics".into(), move |control| {
            export_loop(
                protocol, endpoint, timing, reader, control, ready_tx, failed,
            )
        })
        .map_err(|source| ExporterError::Thread {
            signal: "metrics",
            exporter: "otlp",
            source,
        })?;
        ready_rx.recv().map_err(|_| ExporterError::WorkerExited {
            signal: "metrics",
            exporter: "otlp",
        })??;
        Ok((recorder, Self { provider, worker }))
    }

    /// Collects and exports now; `false` on failure or after `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> bool {
        self.worker.force_flush(timeout)
    }

    /// Collects and exports a last time and stops the worker; `false` on failure or after
    /// `timeout`.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let ok = self.request_shutdown(Instant::now() + timeout).wait();
        self.stop_provider();
        ok
    }

    /// Asks the worker to collect and export by `deadline`; wait on the answer.
    #[cfg_attr(
        not(all(feature = "json-logs", feature = "prometheus")),
        allow(dead_code)
    )]
    pub(crate) fn request_flush(&self, deadline: Instant) -> Pending<'_> {
        self.worker.request_flush(deadline)
    }

    /// Asks the worker to collect and export a last time by `deadline` and stop; wait on
    /// the answer, then call [`Self::stop_provider`].
    pub(crate) fn request_shutdown(&self, deadline: Instant) -> Pending<'_> {
        self.worker.request_shutdown(deadline)
    }

    /// Shuts the meter provider down; after the worker's last collection, since a shut
    /// down reader collects nothing.
    pub(crate) fn stop_provider(&self) {
        let _ = self.provider.shutdown();
    }
}

/// When the worker exports, and for how long each export may take.
#[derive(Debug, Clone, Copy)]
struct Timing {
    interval: Duration,
    export_timeout: Duration,
}

fn export_loop(
    protocol: OtlpProtocol,
    endpoint: Option<String>,
    timing: Timing,
    reader: SharedReader,
    control: Receiver<Control>,
    ready: Sender<Result<(), ExporterError>>,
    failed: impl Fn() -> metrics::Counter,
) {
    let mut failed_handle: Option<metrics::Counter> = None;
    let gate = super::otlp_http::Gate::default();
    let Some((runtime, exporter)) = super::otlp::start_worker(&ready, "metrics", || {
        super::otlp::build_exporter!(
            opentelemetry_otlp::MetricExporter,
            "METRICS",
            &gate,
            protocol,
            endpoint.as_deref()
        )
    }) else {
        return;
    };
    // Collects and exports by `OTEL_BSP_EXPORT_TIMEOUT` and `limit`; `true` on success.
    let mut export = |limit: Option<Instant>| -> bool {
        let mut metrics = ResourceMetrics::default();
        if reader.collect(&mut metrics).is_err() {
            return false;
        }
        let points: usize = metrics.scope_metrics().map(|s| s.metrics().count()).sum();
        if points == 0 {
            return true;
        }
        let deadline = export_deadline(timing.export_timeout, limit);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let ok = !gate.closed_past(deadline)
            && runtime
                .block_on(async {
                    tokio::time::timeout(remaining, exporter.export(&metrics)).await
                })
                .is_ok_and(|r| r.is_ok());
        if !ok {
            failed_handle
                .get_or_insert_with(&failed)
                .increment(points as u64);
        }
        ok
    };
    loop {
        match control.recv_timeout(timing.interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                export(None);
            }
            Ok(Control::Flush { ack, deadline }) => {
                let _ = ack.send(export(Some(deadline)));
            }
            Ok(Control::Shutdown { ack, deadline }) => {
                let ok = export(Some(deadline));
                let _ = exporter.shutdown();
                let _ = ack.send(ok);
                return;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                export(None);
                return;
            }
        }
    }
}
