//! W3C Trace Context: `traceparent` and `tracestate`.

use super::{
    Extractor, Injector, Malformed, PropagationFormat, SpanContext, SpanId, TraceId, TraceState,
};

/// `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

const SAMPLED: u8 = 0x01;

fn malformed(reason: &'static str) -> Malformed {
    Malformed {
        format: PropagationFormat::TraceContext,
        reason,
    }
}

/// Parses a `traceparent` value (version 00, or a later version's first four fields).
pub fn parse_traceparent(value: &[u8]) -> Result<SpanContext, Malformed> {
    let value = value.trim_ascii();
    if value.len() < 55 {
        return Err(malformed("traceparent shorter than 55 bytes"));
    }
    let version =
        super::context::parse_hex_u128(&value[0..2]).ok_or(malformed("version is not hex"))?;
    if version == 0xff {
        return Err(malformed("version ff is invalid"));
    }
    if version == 0 && value.len() != 55 {
        return Err(malformed("version 00 must be exactly 55 bytes"));
    }
    if version > 0 && value.len() > 55 && value[55] != b'-' {
        return Err(malformed("future version without '-' after flags"));
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return Err(malformed("fields not separated by '-'"));
    }
    let trace_id = TraceId::from_hex(&value[3..35])
        .ok_or(malformed("trace id not 32 lower-case hex, or zero"))?;
    let span_id = SpanId::from_hex(&value[36..52])
        .ok_or(malformed("parent id not 16 lower-case hex, or zero"))?;
    let flags =
        super::context::parse_hex_u128(&value[53..55]).ok_or(malformed("flags are not hex"))? as u8;
    let mut context = SpanContext::new(trace_id, span_id, flags & SAMPLED != 0);
    context.is_remote = true;
    Ok(context)
}

/// Extracts `traceparent` and, when it is valid, `tracestate`. A malformed `tracestate` is
/// dropped without invalidating the parent, as the specification asks.
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<SpanContext>, Malformed> {
    let Some(header) = carrier.get(TRACEPARENT) else {
        return Ok(None);
    };
    let mut context = parse_traceparent(header)?;
    if let Some(state) = carrier.get(TRACESTATE) {
        context.trace_state = TraceState::parse(state).unwrap_or_default();
    }
    Ok(Some(context))
}

/// The `traceparent` value of `context`.
pub fn traceparent(context: &SpanContext) -> String {
    super::context::hex_string(&traceparent_bytes(
        context.trace_id,
        context.span_id,
        context.sampled,
    ))
}

/// The `traceparent` value as bytes on the stack (no allocation).
pub fn traceparent_bytes(trace_id: TraceId, span_id: SpanId, sampled: bool) -> [u8; 55] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    super::context::write_hex(trace_id.get(), &mut out[3..35]);
    super::context::write_hex(u128::from(span_id.get()), &mut out[36..52]);
    if sampled {
        out[54] = b'1';
    }
    out
}

/// Writes `traceparent` and a non-empty `tracestate`.
pub fn inject<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    carrier.set(TRACEPARENT, traceparent(context));
    if !context.trace_state.is_empty() {
        carrier.set(TRACESTATE, context.trace_state.header_value());
    }
}
