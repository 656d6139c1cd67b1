//! What the fuzz targets share: header carriers built from fuzz input, and the round trip
//! every accepted trace context must survive (inject, extract: the same context).

use arbitrary::Arbitrary;
use sdk_core::propagation::{Baggage, PropagationFormat, Propagator, SpanContext};
use std::collections::HashMap;

/// Headers from fuzz input: each pair names one of a target's header names (by index) and
/// carries raw bytes (invalid UTF-8 included), repeated names allowed.
#[derive(Debug, Arbitrary)]
pub struct Headers {
    pairs: Vec<(u8, Vec<u8>)>,
}

impl Headers {
    /// The carrier: `(name, value)` pairs with names taken from `names`.
    pub fn carrier<'a>(&'a self, names: &[&'static str]) -> Vec<(&'static str, &'a [u8])> {
        self.pairs
            .iter()
            .map(|(name, value)| (names[usize::from(*name) % names.len()], value.as_slice()))
            .collect()
    }
}

/// Extracts with `format` alone; an accepted context is injected and extracted again and
/// must come back with the same ids and sampling decision (and, for the formats that
/// carry them, the same trace state, priority and origin). Returns the context.
pub fn extract_and_round_trip(
    format: PropagationFormat,
    carrier: &[(&'static str, &[u8])],
) -> Option<SpanContext> {
    let propagator = Propagator::new([format]);
    let extracted = propagator.extract(carrier);
    let context = extracted.context?;
    assert!(
        context.is_remote,
        "{format}: an extracted context is remote"
    );
    let mut headers: HashMap<String, String> = HashMap::new();
    propagator.inject(&context, &Baggage::default(), &mut headers);
    for (name, value) in &headers {
        assert!(
            http::HeaderValue::from_str(value).is_ok(),
            "{format}: injected {name} is not a valid header value: {value:?}"
        );
    }
    let again = propagator
        .extract(&headers)
        .context
        .unwrap_or_else(|| panic!("{format}: {context:?} injected as {headers:?} is refused"));
    assert_eq!(again.trace_id, context.trace_id, "{format}: {headers:?}");
    assert_eq!(again.span_id, context.span_id, "{format}: {headers:?}");
    assert_eq!(again.sampled, context.sampled, "{format}: {headers:?}");
    match format {
        PropagationFormat::TraceContext => {
            assert_eq!(again.trace_state, context.trace_state, "{headers:?}");
            assert_eq!(
                again.random_trace_id, context.random_trace_id,
                "{headers:?}"
            );
        }
        PropagationFormat::Datadog => {
            assert_eq!(
                again.datadog_priority(),
                context.datadog_priority(),
                "{headers:?}"
            );
            assert_eq!(again.origin, context.origin, "{headers:?}");
        }
        _ => {}
    }
    Some(context)
}
