//! `traceparent` (with `tracestate`): any header values; an accepted context re-injects
//! and re-extracts to the same ids, flags and trace state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::propagation::{PropagationFormat, w3c};
use sdk_fuzz::{Headers, extract_and_round_trip};

fuzz_target!(|headers: Headers| {
    let carrier = headers.carrier(&[w3c::TRACEPARENT, w3c::TRACESTATE]);
    if let Some(context) = extract_and_round_trip(PropagationFormat::TraceContext, &carrier) {
        // One traceparent, 55 bytes of version 00 (later versions may be longer).
        let traceparents: Vec<&[u8]> = carrier
            .iter()
            .filter(|(name, _)| *name == w3c::TRACEPARENT)
            .map(|(_, value)| *value)
            .collect();
        assert_eq!(traceparents.len(), 1, "two traceparents start a new trace");
        assert_ne!(
            context.trace_id.to_hex(),
            "0".repeat(32),
            "an all-zero trace id"
        );
    }
    // The parser alone, on the raw bytes (optional whitespace around the value is allowed).
    for (_, value) in &carrier {
        if let Ok(context) = w3c::parse_traceparent(value) {
            let ows = |b: &u8| matches!(b, b' ' | b'\t');
            let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
            let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
            let value = &value[start..end];
            assert!(value.len() >= 55, "{value:?}");
            assert_eq!(
                &value[3..35],
                context.trace_id.to_hex().as_bytes(),
                "the trace id is the header's"
            );
        }
    }
});
