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
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::borrow::Cow;
use std::time::{Duration, Instant, UNIX_EPOCH};

fn path(version: DatadogApi) -> &'static str {
    match version {
        DatadogApi::V04 => "/v0.4/traces",
        DatadogApi::V05 => "/v0.5/traces",
    }
}

/// One span in Datadog's model (v0.4 field names), borrowing from the finished span.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DdSpan<'a> {
    /// Service.
    pub service: &'a str,
    /// Operation name.
    pub name: Cow<'a, str>,
    /// Resource.
    pub resource: Cow<'a, str>,
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
    /// String tags, unique keys.
    #[serde(serialize_with = "as_map")]
    pub meta: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Numeric tags, unique keys.
    #[serde(serialize_with = "as_map")]
    pub metrics: Vec<(Cow<'a, str>, f64)>,
    /// Span type.
    #[serde(rename = "type")]
    pub span_type: Cow<'a, str>,
}

fn as_map<S: serde::Serializer, K: Serialize, V: Serialize>(
    pairs: &[(K, V)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// Sets `key` unless it is already there (attributes win over defaults).
fn put_default<'a, V>(pairs: &mut Vec<(Cow<'a, str>, V)>, key: &'a str, value: V) {
    if !pairs.iter().any(|(k, _)| k == key) {
        pairs.push((Cow::Borrowed(key), value));
    }
}

/// Sets `key`, replacing an attribute of the same name.
fn put<'a, V>(pairs: &mut Vec<(Cow<'a, str>, V)>, key: &'a str, value: V) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((Cow::Borrowed(key), value)),
    }
}

fn attr_str<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.attribute_str(key)
}

/// Maps finished spans to Datadog traces: one chunk per trace id, in batch order. The
/// chunk's root (the span whose parent is remote or absent, else the first span) carries
/// `_dd.p.tid`, `_sampling_priority_v1` and `_dd.origin`.
pub fn to_traces<'a>(batch: &'a [FinishedSpan], service: &'a ServiceInfo) -> Vec<Vec<DdSpan<'a>>> {
    let (spans, ends) = chunks(batch);
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let chunk = &spans[start..end];
            start = end;
            let root = root_of(chunk);
            chunk
                .iter()
                .enumerate()
                .map(|(i, span)| {
                    let mut dd = to_dd_span(span, service);
                    if i == root {
                        mark_root(&mut dd, span);
                    }
                    dd
                })
                .collect()
        })
        .collect()
}

/// The spans of `batch` grouped by trace (chunks in order of first appearance, spans in
/// batch order within a chunk), and where each chunk ends.
fn chunks(batch: &[FinishedSpan]) -> (Vec<&FinishedSpan>, Vec<usize>) {
    let mut chunk_of: FxHashMap<u128, usize> = FxHashMap::default();
    let mut keyed: Vec<(usize, &FinishedSpan)> = batch
        .iter()
        .map(|span| {
            let next = chunk_of.len();
            (*chunk_of.entry(span.trace_id.get()).or_insert(next), span)
        })
        .collect();
    // Stable: batch order is kept inside a chunk.
    keyed.sort_by_key(|(chunk, _)| *chunk);
    let mut ends = Vec::with_capacity(chunk_of.len());
    for (i, (chunk, _)) in keyed.iter().enumerate() {
        if keyed.get(i + 1).is_none_or(|(next, _)| next != chunk) {
            ends.push(i + 1);
        }
    }
    (keyed.into_iter().map(|(_, span)| span).collect(), ends)
}

/// Index of a chunk's root: the span whose parent is remote or absent, else the first span
/// whose parent is not in the chunk, else the first.
fn root_of(chunk: &[&FinishedSpan]) -> usize {
    chunk
        .iter()
        .position(|s| s.parent_span_id.is_none() || s.parent_is_remote)
        .or_else(|| {
            chunk
                .iter()
                .position(|s| !chunk.iter().any(|p| Some(p.span_id) == s.parent_span_id))
        })
        .unwrap_or(0)
}

/// What the root of a chunk carries for the whole trace.
fn mark_root<'a>(dd: &mut DdSpan<'a>, span: &'a FinishedSpan) {
    let high = span.trace_id.high_u64();
    if high != 0 {
        let digits = crate::propagation::hex_u128(u128::from(high));
        put(
            &mut dd.meta,
            "_dd.p.tid",
            Cow::Owned(String::from_utf8_lossy(&digits[16..]).into_owned()),
        );
    }
    let priority = span
        .remote
        .as_ref()
        .and_then(|r| r.sampling_priority)
        .unwrap_or(1);
    put(
        &mut dd.metrics,
        "_sampling_priority_v1",
        f64::from(priority),
    );
    if let Some(origin) = span.remote.as_ref().and_then(|r| r.origin.as_deref()) {
        put(&mut dd.meta, "_dd.origin", Cow::Borrowed(origin));
    }
}

fn db_operation_name(system: &str) -> Cow<'static, str> {
    match system {
        db::system::POSTGRESQL => Cow::Borrowed("postgresql.query"),
        db::system::MYSQL => Cow::Borrowed("mysql.query"),
        db::system::SQLITE => Cow::Borrowed("sqlite.query"),
        db::system::REDIS => Cow::Borrowed("redis.command"),
        other => Cow::Owned(format!("{other}.query")),
    }
}

/// String tags of a Datadog span.
type Meta<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;
/// Numeric tags of a Datadog span.
type Metrics<'a> = Vec<(Cow<'a, str>, f64)>;

fn to_dd_span<'a>(span: &'a FinishedSpan, service: &'a ServiceInfo) -> DdSpan<'a> {
    to_dd_span_in(
        span,
        service,
        Vec::with_capacity(span.attributes.len() + 6),
        Vec::with_capacity(4),
    )
}

/// [`to_dd_span`] filling the given (empty) tag lists, so an encoder can reuse them.
fn to_dd_span_in<'a>(
    span: &'a FinishedSpan,
    service: &'a ServiceInfo,
    mut meta: Meta<'a>,
    mut metrics: Metrics<'a>,
) -> DdSpan<'a> {
    let nanos = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    };
    let is_http = span.attribute(http::REQUEST_METHOD).is_some();
    let db_system = attr_str(span, db::SYSTEM_NAME);
    let name: Cow<'a, str> = match (span.kind, is_http, db_system) {
        (SpanKind::Server, true, _) => Cow::Borrowed("http.server.request"),
        (SpanKind::Client, true, _) => Cow::Borrowed("http.client.request"),
        (_, _, Some(system)) => db_operation_name(system),
        _ => Cow::Borrowed(&span.name),
    };
    let span_type: Cow<'a, str> = match attr_str(span, "dd.type") {
        Some(explicit) => Cow::Borrowed(explicit),
        None => Cow::Borrowed(match (span.kind, is_http, db_system) {
            (SpanKind::Server, true, _) => "web",
            (SpanKind::Client, true, _) => "http",
            (_, _, Some(db::system::REDIS)) => "redis",
            (_, _, Some(_)) => "sql",
            _ => "custom",
        }),
    };
    let resource: Cow<'a, str> = Cow::Borrowed(attr_str(span, "dd.resource").unwrap_or(&span.name));

    for (key, value) in &span.attributes {
        if matches!(*key, "dd.resource" | "dd.type") {
            continue;
        }
        match value {
            AttrValue::I64(v) => metrics.push((Cow::Borrowed(key), *v as f64)),
            AttrValue::F64(v) => metrics.push((Cow::Borrowed(key), *v)),
            other => meta.push((Cow::Borrowed(key), other.to_text())),
        }
    }
    if let Some(env) = &service.environment {
        put(&mut meta, "env", Cow::Borrowed(env));
    }
    if let Some(version) = &service.version {
        put(&mut meta, "version", Cow::Borrowed(version));
    }
    put(&mut meta, "language", Cow::Borrowed("rust"));
    let kind = match span.kind {
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    };
    put(&mut meta, "span.kind", Cow::Borrowed(kind));
    let error_flag = match &span.status {
        SpanStatus::Error(message) => {
            put_default(&mut meta, error::TYPE, Cow::Borrowed("error"));
            let message: &'a str = if message.is_empty() {
                &span.name
            } else {
                message
            };
            put(&mut meta, error::MESSAGE, Cow::Borrowed(message));
            1
        }
        _ => 0,
    };
    if span.parent_span_id.is_none() || span.parent_is_remote {
        put(&mut metrics, "_top_level", 1.0);
    }
    DdSpan {
        service: &service.name,
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
///
/// Written field by field (`rmp`'s msgpack primitives for numbers and lengths, strings
/// appended directly), in the bytes `rmp_serde` produces for [`DdSpan`] as a struct map (a
/// test holds the two equal), without serde's per-field dispatch.
pub fn encode_v04(traces: &[Vec<DdSpan<'_>>]) -> Result<Vec<u8>, ExportError> {
    let spans: usize = traces.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(spans * 400);
    write_v04(&mut out, traces).map_err(|e| ExportError::Rejected(format!("msgpack: {e}")))?;
    Ok(out)
}

/// Encodes `batch` as the v0.4 payload straight from the finished spans: the bytes of
/// `encode_v04(&to_traces(batch, service))`, with one pair of tag lists reused for every
/// span instead of two allocations per span. Returns the payload and its trace count.
pub fn encode_batch_v04(
    batch: &[FinishedSpan],
    service: &ServiceInfo,
) -> Result<(Vec<u8>, usize), ExportError> {
    let msgpack = |e: rmp::encode::ValueWriteError| ExportError::Rejected(format!("msgpack: {e}"));
    let (spans, ends) = chunks(batch);
    let mut out = Vec::with_capacity(batch.len() * 400);
    rmp::encode::write_array_len(&mut out, count(ends.len())).map_err(msgpack)?;
    let (mut meta, mut metrics): (Meta<'_>, Metrics<'_>) = (Vec::new(), Vec::new());
    let mut start = 0;
    for &end in &ends {
        let chunk = &spans[start..end];
        start = end;
        rmp::encode::write_array_len(&mut out, count(chunk.len())).map_err(msgpack)?;
        let root = root_of(chunk);
        for (i, span) in chunk.iter().enumerate() {
            meta.clear();
            metrics.clear();
            let mut dd = to_dd_span_in(span, service, meta, metrics);
            if i == root {
                mark_root(&mut dd, span);
            }
            write_span(&mut out, &dd).map_err(msgpack)?;
            (meta, metrics) = (dd.meta, dd.metrics);
        }
    }
    Ok((out, ends.len()))
}

/// A msgpack array or map length.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn write_v04(
    out: &mut Vec<u8>,
    traces: &[Vec<DdSpan<'_>>],
) -> Result<(), rmp::encode::ValueWriteError> {
    rmp::encode::write_array_len(out, count(traces.len()))?;
    for trace in traces {
        rmp::encode::write_array_len(out, count(trace.len()))?;
        for span in trace {
            write_span(out, span)?;
        }
    }
    Ok(())
}

/// One span as a v0.4 map, field by field in `DdSpan`'s order.
fn write_span(out: &mut Vec<u8>, span: &DdSpan<'_>) -> Result<(), rmp::encode::ValueWriteError> {
    use rmp::encode::{write_f64, write_map_len, write_sint, write_uint};
    write_map_len(out, 12)?;
    write_str(out, "service");
    write_str(out, span.service);
    write_str(out, "name");
    write_str(out, &span.name);
    write_str(out, "resource");
    write_str(out, &span.resource);
    write_str(out, "trace_id");
    write_uint(out, span.trace_id)?;
    write_str(out, "span_id");
    write_uint(out, span.span_id)?;
    write_str(out, "parent_id");
    write_uint(out, span.parent_id)?;
    write_str(out, "start");
    write_sint(out, span.start)?;
    write_str(out, "duration");
    write_sint(out, span.duration)?;
    write_str(out, "error");
    write_sint(out, i64::from(span.error))?;
    write_str(out, "meta");
    write_map_len(out, count(span.meta.len()))?;
    for (key, value) in &span.meta {
        write_str(out, key);
        write_str(out, value);
    }
    write_str(out, "metrics");
    write_map_len(out, count(span.metrics.len()))?;
    for (key, value) in &span.metrics {
        write_str(out, key);
        write_f64(out, *value)?;
    }
    write_str(out, "type");
    write_str(out, &span.span_type);
    Ok(())
}

/// A msgpack str (fixstr, str 8/16/32 by length) appended to `out`.
///
/// Strings are most of a span, and rmp's `write_str` goes through `io::Write` once for the
/// marker and once for the body: measured with callgrind, 30 % of the encoder's
/// instructions. Texts over 4 GiB cannot occur (attribute values are clipped to 4 KiB).
fn write_str(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&count(len).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
}

/// A v0.5 span: service, name, resource, trace id, span id, parent id, start, duration,
/// error, meta, metrics, type; strings as string-table indexes.
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
    PairMap<u32, u32>,
    PairMap<u32, f64>,
    u32,
);

/// Serializes pairs as a msgpack map.
struct PairMap<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for PairMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        as_map(&self.0, serializer)
    }
}

/// Encodes traces as the v0.5 payload: `[string_table, traces]`, strings by index.
pub fn encode_v05(traces: &[Vec<DdSpan<'_>>]) -> Result<Vec<u8>, ExportError> {
    let mut table: Vec<&str> = vec![""];
    let mut strings: Vec<&str> = Vec::new();
    for span in traces.iter().flatten() {
        strings.extend([span.service, &span.name, &span.resource, &span.span_type]);
        for (k, v) in &span.meta {
            strings.push(k);
            strings.push(v);
        }
        strings.extend(span.metrics.iter().map(|(k, _)| k.as_ref()));
    }
    // The string table is built from our own spans' strings, so a fast non-keyed hash fits.
    let mut index: rustc_hash::FxHashMap<&str, u32> = rustc_hash::FxHashMap::default();
    index.insert("", 0);
    for s in strings {
        if !index.contains_key(s) {
            index.insert(s, table.len() as u32);
            table.push(s);
        }
    }
    let id = |s: &str| index.get(s).copied().unwrap_or(0);
    let out: Vec<Vec<V05Span>> = traces
        .iter()
        .map(|trace| {
            trace
                .iter()
                .map(|span| {
                    (
                        id(span.service),
                        id(&span.name),
                        id(&span.resource),
                        span.trace_id,
                        span.span_id,
                        span.parent_id,
                        span.start,
                        span.duration,
                        span.error,
                        PairMap(span.meta.iter().map(|(k, v)| (id(k), id(v))).collect()),
                        PairMap(span.metrics.iter().map(|(k, v)| (id(k), *v)).collect()),
                        id(&span.span_type),
                    )
                })
                .collect()
        })
        .collect();
    rmp_serde::to_vec(&(table, out)).map_err(|e| ExportError::Rejected(format!("msgpack: {e}")))
}

/// Sends spans to the agent at `url` (`http://host:8126`).
pub struct DatadogExporter {
    url: String,
    version: DatadogApi,
    service: ServiceInfo,
    agent: ureq::Agent,
    /// Until when the agent asked (`429`/`503` with `Retry-After`) not to be called: the
    /// next batch waits too, not only the retries of the refused one.
    not_before: Option<Instant>,
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
            not_before: None,
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
        let (body, traces) = match self.version {
            DatadogApi::V04 => encode_batch_v04(batch, &self.service)?,
            DatadogApi::V05 => {
                let traces = to_traces(batch, &self.service);
                (encode_v05(&traces)?, traces.len())
            }
        };
        let count = traces.to_string();
        if let Some(at) = self.not_before.take().filter(|at| *at > Instant::now()) {
            if at > deadline {
                self.not_before = Some(at);
                return Err(ExportError::Failed(
                    "the agent asked to wait (Retry-After) past this export's deadline".into(),
                ));
            }
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        let mut throttled_until = None;
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
                        if matches!(status, 429 | 503) {
                            throttled_until = after.map(|after| Instant::now() + after);
                        }
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
        self.not_before = throttled_until;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{SpanId, TraceId};
    use std::time::{Duration, SystemTime};

    fn span(trace: u128, id: u64, parent: Option<u64>, status: SpanStatus) -> FinishedSpan {
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        FinishedSpan {
            trace_id: TraceId::new(trace).unwrap_or_else(|| panic!("trace id")),
            span_id: SpanId::new(id).unwrap_or_else(|| panic!("span id")),
            parent_span_id: parent.and_then(SpanId::new),
            parent_is_remote: false,
            name: crate::spans::SpanName::Static("GET /users/{id}"),
            kind: SpanKind::Server,
            start,
            end: start + Duration::from_micros(1_250),
            attributes: vec![
                (http::REQUEST_METHOD, AttrValue::Str(Cow::Borrowed("GET"))),
                (http::RESPONSE_STATUS_CODE, AttrValue::I64(503)),
                ("ratio", AttrValue::F64(0.25)),
                ("flag", AttrValue::Bool(true)),
                ("request.id", AttrValue::Shared(std::sync::Arc::from("r-1"))),
            ],
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            status,
            target: "test",
            remote: None,
        }
    }

    #[test]
    fn v04_writer_produces_the_bytes_of_the_serde_model() {
        let service = ServiceInfo {
            name: "checkout".into(),
            version: Some("1.2.3".into()),
            environment: Some("prod".into()),
        };
        let batch = vec![
            span(u128::MAX - 7, 1, None, SpanStatus::Error("boom".into())),
            span(42, 2, None, SpanStatus::Ok),
            span(u128::MAX - 7, 3, Some(1), SpanStatus::Unset),
            span(42, u64::MAX, Some(2), SpanStatus::Error(String::new())),
        ];
        let mut batch = batch;
        // Every msgpack str form: fixstr, str 8, str 16 and str 32, at their edges.
        for (key, len) in [
            ("s31", 31),
            ("s32", 32),
            ("s255", 255),
            ("s256", 256),
            ("s65535", 65_535),
            ("s65536", 65_536),
        ] {
            batch[2].attributes.push((
                key,
                AttrValue::Str(Cow::Owned("é".repeat(len / 2) + &"x".repeat(len % 2))),
            ));
        }
        let traces = to_traces(&batch, &service);
        assert_eq!(traces.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
        let mut expected = Vec::new();
        traces
            .serialize(&mut rmp_serde::Serializer::new(&mut expected).with_struct_map())
            .unwrap_or_else(|e| panic!("{e}"));
        let written = encode_v04(&traces).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, expected);
        let direct = encode_batch_v04(&batch, &service).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(direct, (expected, 2));
        let empty: Vec<Vec<DdSpan<'_>>> = Vec::new();
        assert_eq!(encode_v04(&empty).ok(), rmp_serde::to_vec(&empty).ok());
        assert_eq!(
            encode_batch_v04(&[], &service).ok(),
            rmp_serde::to_vec(&empty).ok().map(|bytes| (bytes, 0))
        );
    }
}
