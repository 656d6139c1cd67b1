//! Traces over OTLP (gRPC, HTTP/protobuf or HTTP/JSON) through `opentelemetry-otlp`.
//!
//! Finished spans are converted to `opentelemetry_sdk`'s `SpanData` and handed to the
//! official exporter, which brings the protobuf encoding, gzip, the endpoint, header and
//! timeout variables (`OTEL_EXPORTER_OTLP_*`), retries on the retryable statuses and codes
//! (with `Retry-After`) and partial-success handling. Over HTTP its client is hyper behind
//! a gate that keeps `Retry-After` for the next exports too (`otlp_http.rs`). The exporter
//! runs on the batch worker's own single-threaded runtime, never on the application's.

use super::{ExportError, ExporterError, SpanExporter};
use crate::config::{OtlpProtocol, ServiceInfo};
use crate::semconv::resource;
use crate::spans::{AttrValue, FinishedSpan, SpanKind, SpanStatus};
use opentelemetry::trace::{SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_otlp::ExporterBuildError;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use std::collections::HashMap;
use std::time::Instant;

/// The resource every signal carries: service identity plus `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource(service: &ServiceInfo, attributes: &[(String, String)]) -> Resource {
    let mut kvs: Vec<KeyValue> = attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    if let Some(version) = &service.version {
        kvs.push(KeyValue::new(resource::SERVICE_VERSION, version.clone()));
    }
    if let Some(environment) = &service.environment {
        kvs.push(KeyValue::new(
            resource::DEPLOYMENT_ENVIRONMENT_NAME,
            environment.clone(),
        ));
    }
    Resource::builder_empty()
        .with_attributes(kvs)
        .with_service_name(service.name.clone())
        .with_attributes([
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.name", "sdk-core"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ])
        .build()
}

fn otel_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(s) => Value::from(s.clone()),
        AttrValue::Shared(s) => Value::String(s.clone().into()),
        AttrValue::I64(v) => Value::I64(*v),
        AttrValue::F64(v) => Value::F64(*v),
        AttrValue::Bool(v) => Value::Bool(*v),
    }
}

/// Converts a finished span to OpenTelemetry's export model.
pub fn to_span_data(span: &FinishedSpan, scope: InstrumentationScope) -> SpanData {
    let trace_state = span
        .remote
        .as_ref()
        .filter(|r| !r.trace_state.is_empty())
        .and_then(|r| r.trace_state.header_value().parse::<TraceState>().ok())
        .unwrap_or_default();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(span.trace_id.get()),
            SpanId::from(span.span_id.get()),
            TraceFlags::SAMPLED,
            false,
            trace_state,
        ),
        parent_span_id: span
            .parent_span_id
            .map_or(SpanId::INVALID, |p| SpanId::from(p.get())),
        parent_span_is_remote: span.parent_is_remote,
        span_kind: match span.kind {
            SpanKind::Internal => opentelemetry::trace::SpanKind::Internal,
            SpanKind::Server => opentelemetry::trace::SpanKind::Server,
            SpanKind::Client => opentelemetry::trace::SpanKind::Client,
            SpanKind::Producer => opentelemetry::trace::SpanKind::Producer,
            SpanKind::Consumer => opentelemetry::trace::SpanKind::Consumer,
        },
        name: (&span.name).into(),
        start_time: span.start,
        end_time: span.end,
        attributes: span
            .attributes
            .iter()
            .map(|(k, v)| KeyValue::new(*k, otel_value(v)))
            .collect(),
        dropped_attributes_count: span.dropped_attributes,
        events: span_events(span),
        links: SpanLinks::default(),
        status: match &span.status {
            SpanStatus::Unset => Status::Unset,
            SpanStatus::Ok => Status::Ok,
            SpanStatus::Error(message) => Status::error(message.clone()),
        },
        instrumentation_scope: scope,
    }
}

fn span_events(span: &FinishedSpan) -> SpanEvents {
    let mut events = SpanEvents::default();
    events.events = span
        .events
        .iter()
        .map(|e| {
            opentelemetry::trace::Event::new(
                e.name.clone(),
                e.time,
                e.attributes
                    .iter()
                    .map(|(k, v)| KeyValue::new(*k, otel_value(v)))
                    .collect(),
                0,
            )
        })
        .collect();
    events.dropped_count = span.dropped_events;
    events
}

/// The single-threaded runtime an OTLP exporter for `signal` runs on, inside its worker
/// thread.
pub(crate) fn exporter_runtime(
    signal: &'static str,
) -> Result<tokio::runtime::Runtime, ExporterError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ExporterError::Runtime {
            signal,
            exporter: "otlp",
            source,
        })
}

/// An `opentelemetry-otlp` build error for `signal` as an [`ExporterError`]: an invalid
/// setting (endpoint, protocol, headers…) or another failure.
pub(crate) fn build_error(signal: &'static str, error: ExporterBuildError) -> ExporterError {
    match error {
        error @ ExporterBuildError::InvalidConfiguration(_) => ExporterError::InvalidSetting {
            signal,
            exporter: "otlp",
            source: Box::new(error),
        },
        error @ ExporterBuildError::InternalFailure(_) => ExporterError::Build {
            signal,
            exporter: "otlp",
            source: Box::new(error),
        },
    }
}

/// Starts an export worker's runtime and builds its exporter for `signal` inside it,
/// telling `ready` whether that worked; `None` when it did not (the reason was sent).
pub(crate) fn start_worker<T>(
    ready: &crossbeam_channel::Sender<Result<(), ExporterError>>,
    signal: &'static str,
    build: impl FnOnce() -> Result<T, ExporterBuildError>,
) -> Option<(tokio::runtime::Runtime, T)> {
    let runtime = match exporter_runtime(signal) {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(err));
            return None;
        }
    };
    let built = {
        let _guard = runtime.enter();
        build()
    };
    match built {
        Ok(exporter) => {
            let _ = ready.send(Ok(()));
            Some((runtime, exporter))
        }
        Err(err) => {
            let _ = ready.send(Err(build_error(signal, err)));
            None
        }
    }
}

/// Builds an `opentelemetry-otlp` exporter of type `$exporter` for a protocol and an
/// optional endpoint (the standard variables fill in the rest). Call inside the runtime.
macro_rules! build_exporter {
    ($exporter:ty, $signal:literal, $gate:expr, $protocol:expr, $endpoint:expr) => {{
        use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
        let endpoint: Option<&str> = $endpoint;
        match $protocol {
            $crate::config::OtlpProtocol::Grpc => {
                let mut builder = <$exporter>::builder().with_tonic();
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                builder.build()
            }
            protocol => {
                let wire = if protocol == $crate::config::OtlpProtocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                };
                let mut builder = <$exporter>::builder()
                    .with_http()
                    .with_protocol(wire)
                    .with_http_client($crate::export::otlp_http::GatedClient::for_signal(
                        $signal, $gate,
                    ));
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                builder.build()
            }
        }
    }};
}
pub(crate) use build_exporter;

/// OTLP trace exporter with its own single-threaded runtime.
pub struct OtlpSpanExporter {
    runtime: tokio::runtime::Runtime,
    inner: opentelemetry_otlp::SpanExporter,
    scopes: HashMap<&'static str, InstrumentationScope>,
    gate: super::otlp_http::Gate,
}

impl OtlpSpanExporter {
    /// An exporter for `protocol`; `endpoint` overrides `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`
    /// (for HTTP the full URL including `/v1/traces`).
    pub fn new(
        protocol: OtlpProtocol,
        endpoint: Option<&str>,
        resource: &Resource,
    ) -> Result<Self, ExporterError> {
        let runtime = exporter_runtime("traces")?;
        let gate = super::otlp_http::Gate::default();
        let mut inner = {
            let _guard = runtime.enter();
            build_exporter!(
                opentelemetry_otlp::SpanExporter,
                "TRACES",
                &gate,
                protocol,
                endpoint
            )
            .map_err(|e| build_error("traces", e))?
        };
        inner.set_resource(resource);
        Ok(Self {
            runtime,
            inner,
            scopes: HashMap::new(),
            gate,
        })
    }
}

impl SpanExporter for OtlpSpanExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError> {
        if self.gate.closed_past(deadline) {
            return Err(ExportError::Failed(
                "the collector asked to wait (Retry-After) past this export's deadline".into(),
            ));
        }
        let data: Vec<SpanData> = batch
            .iter()
            .map(|span| {
                let scope = self
                    .scopes
                    .entry(span.target)
                    .or_insert_with(|| InstrumentationScope::builder(span.target).build())
                    .clone();
                to_span_data(span, scope)
            })
            .collect();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let inner = &self.inner;
        match self
            .runtime
            .block_on(async { tokio::time::timeout(remaining, inner.export(data)).await })
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(ExportError::Failed(err.to_string())),
            Err(_) => Err(ExportError::Failed("export timed out".into())),
        }
    }

    fn shutdown(&mut self) {
        let _ = self.inner.shutdown();
    }
}
