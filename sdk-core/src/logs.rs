//! Structured JSON log lines with trace correlation.
//!
//! [`JsonLogLayer`] writes one JSON object per `tracing` event. The schema (also in
//! `docs/log-schema.md`):
//!
//! | key | type | when |
//! |---|---|---|
//! | `timestamp` | string, RFC 3339, UTC, nanoseconds | always |
//! | `level` | `TRACE` `DEBUG` `INFO` `WARN` `ERROR` | always |
//! | `target` | string (module path or explicit target) | always |
//! | `message` | string | when the event has a message |
//! | `fields` | object of the event's other fields (numbers, booleans, strings) | when it has any |
//! | `span` | name of the innermost span | inside a span |
//! | `trace_id` | 32 lower-case hex | inside a span |
//! | `span_id` | 16 lower-case hex | inside a span |
//! | `dd.trace_id` | decimal string, low 64 bits of `trace_id` | inside a span |
//! | `dd.span_id` | decimal string of `span_id` | inside a span |
//! | `request_id` | string | when a span in scope recorded `request_id` |
//! | `user_id` | string | when a span in scope recorded `user.id` / `user_id` |
//! | `dd.service`, `dd.env`, `dd.version` | string | from the configuration, when set |
//!
//! Lines are filtered by `RUST_LOG` (see [`crate::init`]).
//!
//! Installed by [`crate::init`], lines reach stdout through a bounded queue and a writer
//! thread, so logging never blocks or fails the application: a line that finds the queue
//! full is dropped (`sdk.reason="queue_full"`), one stdout cannot take (a full disk, a
//! closed pipe) is lost (`sdk.reason="write_error"`), both counted in
//! `sdk.exporter.dropped{sdk.signal="logs"}`.

#[cfg(feature = "prometheus")]
mod output;

#[cfg(feature = "prometheus")]
pub(crate) use output::LossCountingOutput;

use crate::config::ServiceInfo;
use std::cell::RefCell;
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// A layer writing one JSON line per event to `W`.
#[derive(Debug)]
pub struct JsonLogLayer<W> {
    make_writer: W,
    /// Pre-rendered `,"dd.service":…,"dd.env":…,"dd.version":…` suffix.
    service_suffix: Box<[u8]>,
}

impl<W> JsonLogLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// A layer writing to `make_writer`, tagging lines with `service`.
    pub fn new(make_writer: W, service: &ServiceInfo) -> Self {
        let mut suffix = Vec::new();
        for (key, value) in [
            ("dd.service", Some(&service.name)),
            ("dd.env", service.environment.as_ref()),
            ("dd.version", service.version.as_ref()),
        ] {
            if let Some(value) = value {
                suffix.extend_from_slice(b",\"");
                suffix.extend_from_slice(key.as_bytes());
                suffix.extend_from_slice(b"\":");
                write_json_str(&mut suffix, value);
            }
        }
        Self {
            make_writer,
            service_suffix: suffix.into_boxed_slice(),
        }
    }
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes `value` as a JSON string literal.
fn write_json_str(out: &mut Vec<u8>, value: &str) {
    // Serializing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
    message: Option<String>,
    any: bool,
}

impl FieldWriter<'_> {
    fn key(&mut self, field: &Field) {
        self.out.push(if self.any { b',' } else { b'{' });
        self.any = true;
        write_json_str(self.out, field.name());
        self.out.push(b':');
    }
}

impl Visit for FieldWriter<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            write_json_str(self.out, &value.to_string());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
            return;
        }
        self.key(field);
        write_json_str(self.out, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.record_str(field, &text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
            return;
        }
        self.key(field);
        write_json_str(self.out, &format!("{value:?}"));
    }
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        BUFFER.with(|buffer| {
            let Ok(mut buf) = buffer.try_borrow_mut() else {
                return;
            };
            buf.clear();
            self.format(event, &ctx, &mut buf);
            let mut writer = self.make_writer.make_writer_for(event.metadata());
            let _ = writer.write_all(&buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
        });
    }
}

impl<W> JsonLogLayer<W> {
    fn format<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, out: &mut Vec<u8>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        out.extend_from_slice(b"{\"timestamp\":\"");
        let _ = time::OffsetDateTime::now_utc()
            .format_into(out, &time::format_description::well_known::Rfc3339);
        out.extend_from_slice(b"\",\"level\":\"");
        out.extend_from_slice(level_str(meta.level()).as_bytes());
        out.extend_from_slice(b"\",\"target\":");
        write_json_str(out, meta.target());

        let fields_start = out.len();
        out.extend_from_slice(b",\"fields\":");
        let mut visitor = FieldWriter {
            out,
            message: None,
            any: false,
        };
        event.record(&mut visitor);
        let (message, any) = (visitor.message, visitor.any);
        if any {
            out.push(b'}');
        } else {
            out.truncate(fields_start);
        }
        if let Some(message) = message {
            out.extend_from_slice(b",\"message\":");
            write_json_str(out, &message);
        }

        if let Some(span) = ctx.event_span(event) {
            out.extend_from_slice(b",\"span\":");
            write_json_str(out, span.name());
            if let Some(c) = crate::trace::correlation(&span) {
                let _ = write!(
                    out,
                    ",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"dd.trace_id\":\"{}\",\"dd.span_id\":\"{}\"",
                    c.trace_id,
                    c.span_id,
                    c.trace_id.low_u64(),
                    c.span_id.get()
                );
                if let Some(request_id) = &c.request_id {
                    out.extend_from_slice(b",\"request_id\":");
                    write_json_str(out, request_id);
                }
                if let Some(user_id) = &c.user_id {
                    out.extend_from_slice(b",\"user_id\":");
                    write_json_str(out, user_id);
                }
            }
        }
        out.extend_from_slice(&self.service_suffix);
        out.extend_from_slice(b"}\n");
    }
}

/// The log layer's filter: events by the `RUST_LOG` directives, spans at INFO and above
/// always (plus any the directives enable), so that a `WARN` line inside an `INFO` request
/// span keeps its trace correlation even under `RUST_LOG=warn`.
#[derive(Debug)]
pub struct LogFilter {
    events: tracing_subscriber::EnvFilter,
}

impl LogFilter {
    /// Filters events with `directives`.
    pub fn new(directives: tracing_subscriber::EnvFilter) -> Self {
        Self { events: directives }
    }
}

/// Spans at this level or above are always visible to the log layer.
const SPAN_LEVEL: tracing_subscriber::filter::LevelFilter =
    tracing_subscriber::filter::LevelFilter::INFO;

impl<S> tracing_subscriber::layer::Filter<S> for LogFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &tracing::Metadata<'_>, cx: &Context<'_, S>) -> bool {
        (meta.is_span() && SPAN_LEVEL >= *meta.level())
            || tracing_subscriber::layer::Filter::enabled(&self.events, meta, cx)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if meta.is_span() && SPAN_LEVEL >= *meta.level() {
            tracing::subscriber::Interest::always()
        } else {
            tracing_subscriber::layer::Filter::<S>::callsite_enabled(&self.events, meta)
        }
    }

    fn max_level_hint(&self) -> Option<tracing_subscriber::filter::LevelFilter> {
        tracing_subscriber::layer::Filter::<S>::max_level_hint(&self.events)
            .map(|hint| hint.max(SPAN_LEVEL))
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_new_span(&self.events, attrs, id, ctx);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_record(&self.events, id, values, ctx);
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_enter(&self.events, id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_exit(&self.events, id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_close(&self.events, id, ctx);
    }
}
