//! B3 single (`b3`) and multi (`x-b3-*`) headers.

use super::context::parse_hex_u128;
use super::{Extractor, Injector, Malformed, PropagationFormat, SpanContext, SpanId, TraceId};

/// Single-header name.
pub const SINGLE: &str = "b3";
/// Multi-header trace id.
pub const TRACE_ID: &str = "x-b3-traceid";
/// Multi-header span id.
pub const SPAN_ID: &str = "x-b3-spanid";
/// Multi-header parent span id.
pub const PARENT_SPAN_ID: &str = "x-b3-parentspanid";
/// Multi-header sampling decision.
pub const SAMPLED: &str = "x-b3-sampled";
/// Multi-header debug flag.
pub const FLAGS: &str = "x-b3-flags";

fn malformed(format: PropagationFormat, reason: &'static str) -> Malformed {
    Malformed { format, reason }
}

/// B3 trace ids are 16 or 32 lower-case hex digits.
fn trace_id(hex: &[u8], format: PropagationFormat) -> Result<TraceId, Malformed> {
    if hex.len() != 16 && hex.len() != 32 {
        return Err(malformed(format, "trace id not 16 or 32 hex digits"));
    }
    parse_hex_u128(hex)
        .and_then(TraceId::new)
        .ok_or(malformed(format, "trace id not lower-case hex, or zero"))
}

fn span_id(hex: &[u8], format: PropagationFormat) -> Result<SpanId, Malformed> {
    SpanId::from_hex(hex).ok_or(malformed(format, "span id not 16 lower-case hex, or zero"))
}

/// Extracts `b3: {trace}-{span}[-{sampling}[-{parent}]]`. A lone sampling decision
/// (`0`, `1`, `d`) carries no parent and yields nothing.
pub fn extract_single<E: Extractor + ?Sized>(
    carrier: &E,
) -> Result<Option<SpanContext>, Malformed> {
    const F: PropagationFormat = PropagationFormat::B3;
    let Some(value) = carrier.get(SINGLE) else {
        return Ok(None);
    };
    let value = value.trim_ascii();
    if value.len() > 68 {
        return Err(malformed(F, "longer than 68 bytes"));
    }
    if matches!(value, b"0" | b"1" | b"d") {
        return Ok(None);
    }
    let mut parts = value.split(|&b| b == b'-');
    let trace = trace_id(parts.next().unwrap_or_default(), F)?;
    let span = span_id(parts.next().ok_or(malformed(F, "span id missing"))?, F)?;
    let sampled = match parts.next() {
        None => true,
        Some(b"1" | b"d") => true,
        Some(b"0") => false,
        Some(_) => return Err(malformed(F, "sampling state not 0, 1 or d")),
    };
    if let Some(parent) = parts.next() {
        span_id(parent, F)?;
    }
    if parts.next().is_some() {
        return Err(malformed(F, "too many fields"));
    }
    let mut context = SpanContext::new(trace, span, sampled);
    context.is_remote = true;
    Ok(Some(context))
}

/// Extracts `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`.
pub fn extract_multi<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<SpanContext>, Malformed> {
    const F: PropagationFormat = PropagationFormat::B3Multi;
    let Some(trace) = carrier.get(TRACE_ID) else {
        return Ok(None);
    };
    let trace = trace_id(trace.trim_ascii(), F)?;
    let span = span_id(
        carrier
            .get(SPAN_ID)
            .ok_or(malformed(F, "span id missing"))?
            .trim_ascii(),
        F,
    )?;
    let debug = carrier.get(FLAGS).map(<[u8]>::trim_ascii) == Some(b"1");
    let sampled = match carrier.get(SAMPLED).map(<[u8]>::trim_ascii) {
        None => true,
        Some(b"1" | b"true") => true,
        Some(b"0" | b"false") => debug,
        Some(_) => return Err(malformed(F, "x-b3-sampled not 0, 1, true or false")),
    };
    if let Some(parent) = carrier.get(PARENT_SPAN_ID) {
        span_id(parent.trim_ascii(), F)?;
    }
    let mut context = SpanContext::new(trace, span, sampled || debug);
    context.is_remote = true;
    Ok(Some(context))
}

/// Writes `b3: {trace32}-{span}-{0|1}`.
pub fn inject_single<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    carrier.set(
        SINGLE,
        format!(
            "{:032x}-{:016x}-{}",
            context.trace_id.get(),
            context.span_id.get(),
            if context.sampled { '1' } else { '0' }
        ),
    );
}

/// Writes `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`.
pub fn inject_multi<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    carrier.set(TRACE_ID, context.trace_id.to_hex());
    carrier.set(SPAN_ID, context.span_id.to_hex());
    carrier.set(SAMPLED, if context.sampled { "1" } else { "0" }.to_owned());
}
