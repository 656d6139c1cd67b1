//! `OTEL_TRACES_EXPORTER=console`: one JSON object per finished span on stdout.

use super::{ExportError, SpanExporter};
use crate::spans::{AttrValue, FinishedSpan, SpanStatus};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::time::{Instant, UNIX_EPOCH};

/// Writes finished spans as JSON lines to a writer (stdout by default).
pub struct ConsoleSpanExporter<W = std::io::Stdout> {
    out: W,
}

impl Default for ConsoleSpanExporter {
    fn default() -> Self {
        Self {
            out: std::io::stdout(),
        }
    }
}

impl<W: Write> ConsoleSpanExporter<W> {
    /// An exporter writing to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

fn value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => Value::from(s.as_ref()),
        AttrValue::Shared(s) => Value::from(s.as_ref()),
        AttrValue::I64(i) => Value::from(*i),
        AttrValue::F64(f) => Value::from(*f),
        AttrValue::Bool(b) => Value::from(*b),
    }
}

/// The JSON object written for `span`.
pub fn span_json(span: &FinishedSpan) -> Value {
    let nanos = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let attributes: Map<String, Value> = span
        .attributes
        .iter()
        .map(|(k, v)| ((*k).to_owned(), value(v)))
        .collect();
    let events: Vec<Value> = span
        .events
        .iter()
        .map(|e| json!({ "name": e.name, "time_unix_nano": nanos(e.time), "level": e.level.as_str() }))
        .collect();
    let (status, message) = match &span.status {
        SpanStatus::Unset => ("unset", None),
        SpanStatus::Ok => ("ok", None),
        SpanStatus::Error(m) => ("error", Some(m.as_str())),
    };
    json!({
        "type": "span",
        "name": &*span.name,
        "trace_id": span.trace_id.to_hex(),
        "span_id": span.span_id.to_hex(),
        "parent_span_id": span.parent_span_id.map(|p| p.to_hex()),
        "kind": format!("{:?}", span.kind).to_ascii_lowercase(),
        "start_time_unix_nano": nanos(span.start),
        "end_time_unix_nano": nanos(span.end),
        "status": status,
        "status_message": message,
        "attributes": attributes,
        "events": events,
        "target": span.target,
    })
}

impl<W: Write + Send + 'static> SpanExporter for ConsoleSpanExporter<W> {
    fn name(&self) -> &'static str {
        "console"
    }

    fn export(&mut self, batch: &[FinishedSpan], _deadline: Instant) -> Result<(), ExportError> {
        let mut text = Vec::with_capacity(batch.len() * 256);
        for span in batch {
            let _ = serde_json::to_writer(&mut text, &span_json(span));
            text.push(b'\n');
        }
        self.out
            .write_all(&text)
            .and_then(|()| self.out.flush())
            .map_err(|e| ExportError::Failed(e.to_string()))
    }
}
