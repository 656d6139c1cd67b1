//! Datadog `x-datadog-*` headers, with 128-bit trace ids through `_dd.p.tid`.

use super::context::{parse_decimal_u64, parse_hex_u128};
use super::{Extractor, Injector, Malformed, PropagationFormat, SpanContext, SpanId, TraceId};

/// Low 64 bits of the trace id, decimal.
pub const TRACE_ID: &str = "x-datadog-trace-id";
/// Parent span id, decimal.
pub const PARENT_ID: &str = "x-datadog-parent-id";
/// Sampling priority, -1..=2.
pub const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
/// Trace origin (`synthetics`, `rum`…).
pub const ORIGIN: &str = "x-datadog-origin";
/// Propagated `_dd.p.*` tags.
pub const TAGS: &str = "x-datadog-tags";
/// Tag carrying the high 64 bits of a 128-bit trace id (16 lower-case hex).
pub const TID_TAG: &str = "_dd.p.tid";
/// Longest `x-datadog-tags` value read or written.
pub const TAGS_MAX_LEN: usize = 512;
const ORIGIN_MAX_LEN: usize = 256;

fn malformed(reason: &'static str) -> Malformed {
    Malformed {
        format: PropagationFormat::Datadog,
        reason,
    }
}

/// Extracts the Datadog headers. A missing sampling priority means "auto keep" (sampled).
/// The trace id is zero only if both its low bits (`x-datadog-trace-id`) and `_dd.p.tid`
/// are, which is rejected.
/// A malformed `_dd.p.tid` or oversized tags are dropped and the 64-bit id kept, as
/// Datadog's tracers do.
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<SpanContext>, Malformed> {
    let Some(trace_header) = carrier.get(TRACE_ID) else {
        return Ok(None);
    };
    let low = parse_decimal_u64(trace_header.trim_ascii())
        .ok_or(malformed("trace id is not a decimal u64"))?;
    let parent = carrier
        .get(PARENT_ID)
        .ok_or(malformed("parent id missing"))
        .and_then(|v| {
            parse_decimal_u64(v.trim_ascii()).ok_or(malformed("parent id is not a decimal u64"))
        })?;
    let span_id = SpanId::new(parent).ok_or(malformed("parent id is zero"))?;

    let priority = match carrier.get(SAMPLING_PRIORITY) {
        None => None,
        Some(raw) => {
            let text = std::str::from_utf8(raw.trim_ascii())
                .map_err(|_| malformed("sampling priority not UTF-8"))?;
            let value: i8 = text
                .parse()
                .map_err(|_| malformed("sampling priority not an integer"))?;
            if !(-1..=2).contains(&value) {
                return Err(malformed("sampling priority outside -1..=2"));
            }
            Some(value)
        }
    };

    let mut high = 0u64;
    let mut dd_tags = Vec::new();
    if let Some(raw) = carrier.get(TAGS)
        && raw.len() <= TAGS_MAX_LEN
        && let Ok(text) = std::str::from_utf8(raw)
    {
        for pair in text.split(',') {
            let Some((key, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key == TID_TAG {
                if value.len() == 16 {
                    high = parse_hex_u128(value.as_bytes()).map_or(0, |v| v as u64);
                }
            } else if key.starts_with("_dd.p.") && valid_tag(key) && valid_tag(value) {
                dd_tags.push((key.to_owned(), value.to_owned()));
            }
        }
    }

    let origin = carrier
        .get(ORIGIN)
        .filter(|v| v.len() <= ORIGIN_MAX_LEN)
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| valid_tag(v))
        .map(str::to_owned);

    let trace_id = TraceId::new((u128::from(high) << 64) | u128::from(low))
        .ok_or(malformed("trace id is zero"))?;
    let mut context = SpanContext::new(trace_id, span_id, priority.is_none_or(|p| p > 0));
    context.sampling_priority = priority;
    context.origin = origin;
    context.dd_tags = dd_tags;
    context.is_remote = true;
    Ok(Some(context))
}

fn valid_tag(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// The `x-datadog-tags` value: `_dd.p.tid` first (for 128-bit ids), then the carried tags,
/// stopping before 512 bytes.
pub fn tags_value(context: &SpanContext) -> String {
    let mut out = String::new();
    let high = context.trace_id.high_u64();
    if high != 0 {
        out.push_str(TID_TAG);
        out.push('=');
        out.push_str(&format!("{high:016x}"));
    }
    for (key, value) in &context.dd_tags {
        let extra = usize::from(!out.is_empty());
        if out.len() + extra + key.len() + 1 + value.len() > TAGS_MAX_LEN {
            break;
        }
        if extra == 1 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Writes the Datadog headers.
pub fn inject<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    carrier.set(TRACE_ID, context.trace_id.low_u64().to_string());
    carrier.set(PARENT_ID, context.span_id.get().to_string());
    carrier.set(SAMPLING_PRIORITY, context.datadog_priority().to_string());
    if let Some(origin) = &context.origin {
        carrier.set(ORIGIN, origin.clone());
    }
    let tags = tags_value(context);
    if !tags.is_empty() {
        carrier.set(TAGS, tags);
    }
}
