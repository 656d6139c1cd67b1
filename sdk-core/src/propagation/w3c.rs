//! W3C Trace Context: `traceparent` and `tracestate`.

use super::context::trim_ows;
use super::{
    Extractor, Injector, Malformed, PropagationFormat, SpanContext, SpanId, TraceId, TraceState,
};

/// `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// `trace-flags` bit: the caller may have recorded the trace.
const SAMPLED: u8 = 0x01;
/// `trace-flags` bit (Level 2): the trace id's right-most 7 bytes are random.
const RANDOM_TRACE_ID: u8 = 0x02;

fn malformed(reason: &'static str) -> Malformed {
    Malformed {
        format: PropagationFormat::TraceContext,
        reason,
    }
}

/// Parses a `traceparent` value: version `00` of exactly 55 characters, or a higher
/// version (not `ff`) whose first 55 characters have the version-00 shape and are followed
/// by `-` or nothing. Optional whitespace around the value is ignored; hex must be lower
/// case and neither id may be all zeros. The sampled and random-trace-id flags are read;
/// other flags are ignored.
pub fn parse_traceparent(value: &[u8]) -> Result<SpanContext, Malformed> {
    let value = trim_ows(value);
    if value.len() < 55 {
        return Err(malformed("traceparent shorter than 55 bytes"));
    }
    if value[2] != b'-' {
        return Err(malformed("version is not two characters followed by '-'"));
    }
    let version =
        super::context::parse_hex_u128(&value[0..2]).ok_or(malformed("version is not hex"))?;
    if version == 0xff {
        return Err(malformed("version ff is invalid"));
    }
    if version == 0 && value.len() != 55 {
        return Err(malformed("version 00 must be exactly 55 bytes"));
    }
    if value.len() > 55 && value[55] != b'-' {
        return Err(malformed("future version without '-' after flags"));
    }
    if value[35] != b'-' || value[52] != b'-' {
        return Err(malformed("fields not separated by '-'"));
    }
    let trace_id = TraceId::from_hex(&value[3..35])
        .ok_or(malformed("trace id not 32 lower-case hex, or zero"))?;
    let span_id = SpanId::from_hex(&value[36..52])
        .ok_or(malformed("parent id not 16 lower-case hex, or zero"))?;
    let flags =
        super::context::parse_hex_u128(&value[53..55]).ok_or(malformed("flags are not hex"))? as u8;
    let mut context = SpanContext::new(trace_id, span_id, flags & SAMPLED != 0);
    context.random_trace_id = flags & RANDOM_TRACE_ID != 0;
    context.is_remote = true;
    Ok(context)
}

/// Extracts `traceparent` and, when it is valid, `tracestate`.
///
/// Two or more `traceparent` headers are rejected like an invalid one (the caller starts a
/// new trace). Every `tracestate` header is read, as one list; a list the specification
/// lets us discard (a malformed member, more than 32 members) is dropped without
/// invalidating the parent. Nothing is allocated when there is no `tracestate`.
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<SpanContext>, Malformed> {
    let mut headers = carrier.get_all(TRACEPARENT);
    let Some(header) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(malformed("more than one traceparent header"));
    }
    let mut context = parse_traceparent(header)?;
    context.trace_state = TraceState::parse_all(carrier.get_all(TRACESTATE)).unwrap_or_default();
    Ok(Some(context))
}

/// The `traceparent` value of `context`, with its sampled and random-trace-id flags.
pub fn traceparent(context: &SpanContext) -> String {
    let mut flags = 0;
    if context.sampled {
        flags |= SAMPLED;
    }
    if context.random_trace_id {
        flags |= RANDOM_TRACE_ID;
    }
    super::context::hex_string(&encode(context.trace_id, context.span_id, flags))
}

/// The `traceparent` value as bytes on the stack (no allocation), with the sampled flag
/// only.
pub fn traceparent_bytes(trace_id: TraceId, span_id: SpanId, sampled: bool) -> [u8; 55] {
    encode(trace_id, span_id, if sampled { SAMPLED } else { 0 })
}

fn encode(trace_id: TraceId, span_id: SpanId, flags: u8) -> [u8; 55] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    super::context::write_hex(trace_id.get(), &mut out[3..35]);
    super::context::write_hex(u128::from(span_id.get()), &mut out[36..52]);
    super::context::write_hex(u128::from(flags), &mut out[53..55]);
    out
}

/// Writes `traceparent` and a non-empty `tracestate`.
pub fn inject<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    carrier.set(TRACEPARENT, traceparent(context));
    if !context.trace_state.is_empty() {
        carrier.set(TRACESTATE, context.trace_state.header_value());
    }
}
