//! Traces to the Datadog agent's trace API, v0.4 or v0.5 msgpack.
//!
//! Mapping from a [`FinishedSpan`]:
//!
//! | Datadog | from |
//! |---|---|
//! | `service`, `meta.env`, `meta.version` | the configuration (`DD_SERVICE`/`OTEL_SERVICE_NAME`, `DD_ENV`, `DD_VERSION`) |
//! | `name` | `http.server.request` / `http.client.request` for HTTP spans, `{db.system.name}.query` for database spans, else the span name |
//! | `resource` | `dd.resource`, else the span name (`GET /users/{id}`, a query summary) |
//! | `type` | `dd.type`, else `web` (HTTP server), `http` (HTTP client), `redis`, `sql` (other databases), else `custom` |
//! | `trace_id` | low 64 bits; the high 64 bits go in `meta._dd.p.tid` on the chunk's first span |
//! | `error`, `meta.error.*` | span status error: `error.type` (attribute or `error`), `error.message` (status description), `error.stack` (attribute) |
//! | `metrics._sampling_priority_v1` | the remote priority, else 1 (auto keep), on the chunk's first span |
//! | `meta`, `metrics` | string and numeric attributes |
//!
//! The agent's `rate_by_service` answer becomes the sampling rate of new traces when no
//! sampler was configured (see [`crate::trace::set_agent_rate`]).

use super::retry::{Attempt, retry_after, retryable_status, with_backoff};
use super::{ExportError, SpanExporter};
use crate::config::{DatadogApi, ServiceInfo};
use crate::semconv::{db, error, http};
use crate::spans::{AttrValue, FinishedSpan, SpanKind, SpanStatus};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, UNIX_EPOCH};

fn path(version: DatadogApi) -> &'static str {
    match version {
        DatadogApi::V04 => "/v0.4/traces",
        DatadogApi::V05 => "/v0.5/traces",
    }
}

/// One span in Datadog's model (v0.4 field names).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DdSpan {
    /// Service.
    pub service: String,
    /// Operation name.
    pub name: String,
    /// Resource.
    pub resource: String,
    /// Low 64 bits of the trace id.
    pub trace_id: u64,
    /// Span id.
    pub span_id: u64,
    /// Parent span id, 0 for a root.
    pub parent_id: u64,
    /// Start, ns since the epoch.
    pub start: i64,
    /// Duration, ns.
    pub duration: i64,
    /// 1 when the span failed.
    pub error: i32,
    /// String tags.
    pub meta: BTreeMap<String, String>,
    /// Numeric tags.
    pub metrics: BTreeMap<String, f64>,
    /// Span type.
    #[serde(rename = "type")]
    pub span_type: String,
}

fn attr_str<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.attribute_str(key)
}

/// Maps finished spans to Datadog traces: one chunk per trace id, in batch order. The
/// chunk's root (the span whose parent is remote or absent, else the first span) carries
/// `_dd.p.tid`, `_sampling_priority_v1` and `_dd.origin`.
pub fn to_traces(batch: &[FinishedSpan], service: &ServiceInfo) -> Vec<Vec<DdSpan>> {
    let mut order: Vec<u128> = Vec::new();
    let mut chunks: HashMap<u128, Vec<&FinishedSpan>> = HashMap::new();
    for span in batch {
        let key = span.trace_id.get();
        chunks
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(span);
    }
    order
        .into_iter()
        .filter_map(|key| chunks.remove(&key))
        .map(|chunk| {
            let root = chunk
                .iter()
                .position(|s| s.parent_span_id.is_none() || s.parent_is_remote)
                .or_else(|| {
                    chunk
                        .iter()
                        .position(|s| !chunk.iter().any(|p| Some(p.span_id) == s.parent_span_id))
                })
                .unwrap_or(0);
            chunk
                .iter()
                .enumerate()
                .map(|(i, span)| {
                    let mut dd = to_dd_span(span, service);
                    if i == root {
                        let high = span.trace_id.high_u64();
                        if high != 0 {
                            dd.meta.insert("_dd.p.tid".into(), format!("{high:016x}"));
                        }
                        let priority = span
                            .remote
                            .as_ref()
                            .and_then(|r| r.sampling_priority)
                            .unwrap_or(1);
                        dd.metrics
                            .insert("_sampling_priority_v1".into(), f64::from(priority));
                        if let Some(origin) = span.remote.as_ref().and_then(|r| r.origin.as_ref()) {
                            dd.meta.insert("_dd.origin".into(), origin.clone());
                        }
                    }
                    dd
                })
                .collect()
        })
        .collect()
}

fn to_dd_span(span: &FinishedSpan, service: &ServiceInfo) -> DdSpan {
    let nanos = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    };
    let is_http = span.attribute(http::REQUEST_METHOD).is_some();
    let db_system = attr_str(span, db::SYSTEM_NAME);
    let name = match (span.kind, is_http, db_system) {
        (SpanKind::Server, true, _) => "http.server.request".to_owned(),
        (SpanKind::Client, true, _) => "http.client.request".to_owned(),
        (_, _, Some(system)) => format!("{system}.query"),
        _ => span.name.to_string(),
    };
    let span_type = attr_str(span, "dd.type")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            match (span.kind, is_http, db_system) {
                (SpanKind::Server, true, _) => "web",
                (SpanKind::Client, true, _) => "http",
                (_, _, Some(db::system::REDIS)) => "redis",
                (_, _, Some(_)) => "sql",
                _ => "custom",
            }
            .to_owned()
        });
    let resource =
        attr_str(span, "dd.resource").map_or_else(|| span.name.to_string(), str::to_owned);

    let mut meta = BTreeMap::new();
    let mut metrics = BTreeMap::new();
    for (key, value) in &span.attributes {
        if matches!(*key, "dd.resource" | "dd.type") {
            continue;
        }
        match value {
            AttrValue::I64(v) => {
                metrics.insert((*key).to_owned(), *v as f64);
            }
            AttrValue::F64(v) => {
                metrics.insert((*key).to_owned(), *v);
            }
            other => {
                meta.insert((*key).to_owned(), other.to_text().into_owned());
            }
        }
    }
    if let Some(env) = &service.environment {
        meta.insert("env".into(), env.clone());
    }
    if let Some(version) = &service.version {
        meta.insert("version".into(), version.clone());
    }
    meta.insert("language".into(), "rust".into());
    let kind = match span.kind {
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    };
    meta.insert("span.kind".into(), kind.into());
    let error_flag = match &span.status {
        SpanStatus::Error(message) => {
            meta.entry(error::TYPE.to_owned())
                .or_insert_with(|| "error".to_owned());
            let message = if message.is_empty() {
                span.name.to_string()
            } else {
                message.clone()
            };
            meta.insert(error::MESSAGE.to_owned(), message);
            1
        }
        _ => 0,
    };
    if span.parent_span_id.is_none() || span.parent_is_remote {
        metrics.insert("_top_level".into(), 1.0);
    }
    DdSpan {
        service: service.name.clone(),
        name,
        resource,
        trace_id: span.trace_id.low_u64(),
        span_id: span.span_id.get(),
        parent_id: span.parent_span_id.map_or(0, |p| p.get()),
        start: nanos(span.start),
        duration: span.duration().as_nanos() as i64,
        error: error_flag,
        meta,
        metrics,
        span_type,
    }
}

/// Encodes traces as the v0.4 payload: an array of traces, each an array of span maps.
pub fn encode_v04(traces: &[Vec<DdSpan>]) -> Result<Vec<u8>, ExportError> {
    rmp_serde::to_vec_named(traces).map_err(|e| ExportError::Rejected(format!("msgpack: {e}")))
}

type V05Span = (
    u32,
    u32,
    u32,
    u64,
    u64,
    u64,
    i64,
    i64,
    i32,
    BTreeMap<u32, u32>,
    BTreeMap<u32, f64>,
    u32,
);

/// Encodes traces as the v0.5 payload: `[string_table, traces]`, strings by index.
pub fn encode_v05(traces: &[Vec<DdSpan>]) -> Result<Vec<u8>, ExportError> {
    let mut table: Vec<&str> = vec![""];
    let mut index: HashMap<&str, u32> = HashMap::from([("", 0)]);
    let mut out: Vec<Vec<V05Span>> = Vec::with_capacity(traces.len());
    let mut strings: Vec<&str> = Vec::new();
    for trace in traces {
        for span in trace {
            strings.push(&span.service);
            strings.push(&span.name);
            strings.push(&span.resource);
            strings.push(&span.span_type);
            for (k, v) in &span.meta {
                strings.push(k);
                strings.push(v);
            }
            for k in span.metrics.keys() {
                strings.push(k);
            }
        }
    }
    for s in strings {
        if !index.contains_key(s) {
            index.insert(s, table.len() as u32);
            table.push(s);
        }
    }
    let id = |s: &str| index.get(s).copied().unwrap_or(0);
    for trace in traces {
        out.push(
            trace
                .iter()
                .map(|span| {
                    (
                        id(&span.service),
                        id(&span.name),
                        id(&span.resource),
                        span.trace_id,
                        span.span_id,
                        span.parent_id,
                        span.start,
                        span.duration,
                        span.error,
                        span.meta.iter().map(|(k, v)| (id(k), id(v))).collect(),
                        span.metrics.iter().map(|(k, v)| (id(k), *v)).collect(),
                        id(&span.span_type),
                    )
                })
                .collect(),
        );
    }
    rmp_serde::to_vec(&(table, out)).map_err(|e| ExportError::Rejected(format!("msgpack: {e}")))
}

/// Sends spans to the agent at `url` (`http://host:8126`).
pub struct DatadogExporter {
    url: String,
    version: DatadogApi,
    service: ServiceInfo,
    agent: ureq::Agent,
}

impl DatadogExporter {
    /// An exporter for the agent at `base_url`.
    pub fn new(base_url: &str, version: DatadogApi, service: ServiceInfo) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self {
            url: format!("{}{}", base_url.trim_end_matches('/'), path(version)),
            version,
            service,
            agent,
        }
    }

    fn apply_rates(&self, body: &str) {
        let Ok(answer) = serde_json::from_str::<serde_json::Value>(body) else {
            return;
        };
        let Some(rates) = answer.get("rate_by_service").and_then(|r| r.as_object()) else {
            return;
        };
        let key = format!(
            "service:{},env:{}",
            self.service.name,
            self.service.environment.as_deref().unwrap_or_default()
        );
        let rate = rates
            .get(&key)
            .or_else(|| rates.get("service:,env:"))
            .and_then(serde_json::Value::as_f64);
        if let Some(rate) = rate {
            crate::trace::set_agent_rate(rate);
        }
    }
}

impl SpanExporter for DatadogExporter {
    fn name(&self) -> &'static str {
        "datadog"
    }

    fn export(&mut self, batch: &[FinishedSpan], deadline: Instant) -> Result<(), ExportError> {
        let traces = to_traces(batch, &self.service);
        let body = match self.version {
            DatadogApi::V04 => encode_v04(&traces)?,
            DatadogApi::V05 => encode_v05(&traces)?,
        };
        let count = traces.len().to_string();
        let result = with_backoff(deadline, || {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let response = self
                .agent
                .put(&self.url)
                .config()
                .timeout_global(Some(remaining.max(Duration::from_millis(1))))
                .build()
                .header("Content-Type", "application/msgpack")
                .header("Datadog-Meta-Lang", "rust")
                .header("Datadog-Meta-Lang-Version", crate::RUSTC_VERSION)
                .header("Datadog-Meta-Tracer-Version", env!("CARGO_PKG_VERSION"))
                .header("X-Datadog-Trace-Count", &count)
                .send(&body[..]);
            match response {
                Err(err) => Attempt::Retry {
                    reason: err.to_string(),
                    after: None,
                },
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let after = retry_after(
                        response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                    );
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    if (200..300).contains(&status) {
                        Attempt::Done(Ok(text))
                    } else if retryable_status(status) {
                        Attempt::Retry {
                            reason: format!("agent answered {status}"),
                            after,
                        }
                    } else {
                        Attempt::Done(Err(ExportError::Rejected(format!(
                            "agent answered {status}: {text}"
                        ))))
                    }
                }
            }
        });
        match result {
            Ok(Ok(body)) => {
                self.apply_rates(&body);
                Ok(())
            }
            Ok(Err(rejected)) => Err(rejected),
            Err(reason) => Err(ExportError::Failed(reason)),
        }
    }
}
