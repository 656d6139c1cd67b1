//! The trace export path: encoding throughput per exporter, the batch path end to end, and
//! the per-span cost on the request thread against `tracing-opentelemetry` with the
//! OpenTelemetry SDK's batch processor.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor as OtelBatch, SdkTracerProvider, SpanData};
use prost::Message;
use sdk_benches::{sample_batch, sample_request};
use sdk_core::config::{BatchConfig, Sampler, ServiceInfo};
use sdk_core::export::datadog::{encode_batch_v04, encode_v05, to_traces};
use sdk_core::export::otlp::{resource, to_span_data};
use sdk_core::export::{BatchSpanProcessor, ExportError, SpanExporter};
use sdk_core::spans::{FinishedSpan, SpanCollectorLayer};
use sdk_core::trace::TraceContextLayer;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

const BATCH: usize = 512;

fn service() -> ServiceInfo {
    ServiceInfo {
        name: "checkout".into(),
        version: Some("1.2.3".into()),
        environment: Some("prod".into()),
    }
}

fn encoding(c: &mut Criterion) {
    let batch = sample_batch(BATCH);
    let service = service();
    let otel_resource = resource(&service, &[]);
    let proto_resource = (&otel_resource).into();
    let scope = opentelemetry::InstrumentationScope::builder("export").build();
    let mut group = c.benchmark_group("encode 512 spans");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("datadog v0.4 msgpack", |b| {
        b.iter(|| encode_batch_v04(black_box(&batch), &service).map(|(v, _)| v.len()))
    });
    group.bench_function("datadog v0.5 msgpack", |b| {
        b.iter(|| encode_v05(&to_traces(black_box(&batch), &service)).map(|v| v.len()))
    });
    group.bench_function("otlp protobuf", |b| {
        b.iter(|| {
            let data: Vec<SpanData> = black_box(&batch)
                .iter()
                .map(|s| to_span_data(s, scope.clone()))
                .collect();
            let spans =
                opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                    data,
                    &proto_resource,
                );
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                resource_spans: spans,
            }
            .encode_to_vec()
            .len()
        })
    });
    group.finish();
}

/// Encodes like the Datadog exporter and discards the bytes: the batch path without I/O.
struct EncodeOnly(ServiceInfo);

impl SpanExporter for EncodeOnly {
    fn name(&self) -> &'static str {
        "encode-only"
    }
    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        black_box(encode_batch_v04(batch, &self.0)?);
        Ok(())
    }
}

fn batch_path(c: &mut Criterion) {
    let batch = sample_batch(BATCH);
    let mut config = BatchConfig::default();
    config.max_queue_size = 8192;
    config.max_export_batch_size = BATCH;
    let processor = BatchSpanProcessor::new(Box::new(EncodeOnly(service())), config).unwrap();
    let mut group = c.benchmark_group("batch path");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("submit + export 512 spans (datadog encoding)", |b| {
        b.iter_batched(
            || batch.clone(),
            |spans| {
                for span in spans {
                    sdk_core::spans::SpanSink::submit(&processor, span);
                }
                assert!(processor.force_flush(Duration::from_secs(10)));
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    processor.shutdown(Duration::from_secs(5));
}

#[derive(Debug)]
struct NoopExporter;

impl opentelemetry_sdk::trace::SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn request_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("per request (2 spans) on the request thread");

    let bare = tracing_subscriber::registry();
    tracing::subscriber::with_default(bare, || {
        group.bench_function("registry only", |b| b.iter(sample_request));
    });

    let mut config = BatchConfig::default();
    config.max_queue_size = 1 << 16;
    config.max_export_batch_size = 512;
    let processor =
        Arc::new(BatchSpanProcessor::new(Box::new(EncodeOnly(service())), config).unwrap());
    let ours = tracing_subscriber::registry()
        .with(TraceContextLayer::new(Sampler::default()))
        .with(SpanCollectorLayer::new(processor.clone()));
    tracing::subscriber::with_default(ours, || {
        group.bench_function("sdk-core ids + collector + batch queue", |b| {
            b.iter(sample_request)
        });
    });
    processor.shutdown(Duration::from_secs(5));

    let ids_only = tracing_subscriber::registry().with(TraceContextLayer::new(Sampler::default()));
    tracing::subscriber::with_default(ids_only, || {
        group.bench_function("sdk-core ids only (no exporter)", |b| {
            b.iter(sample_request)
        });
    });

    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtelBatch::builder(NoopExporter).build())
        .build();
    let otel = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::with_default(otel, || {
        group.bench_function("tracing-opentelemetry + SDK batch processor", |b| {
            b.iter(sample_request)
        });
    });
    let _ = provider.shutdown();
    group.finish();
}

criterion_group!(benches, encoding, batch_path, request_thread);
criterion_main!(benches);
