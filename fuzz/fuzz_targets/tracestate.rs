//! `tracestate`: any header values; an accepted list stays within its bounds and its
//! header value parses back to the same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::propagation::{TRACESTATE_MAX_LEN, TRACESTATE_MAX_MEMBERS, TraceState};

fuzz_target!(|values: Vec<Vec<u8>>| {
    let Some(state) = TraceState::parse_all(values.iter().map(Vec::as_slice)) else {
        return;
    };
    assert!(state.len() <= TRACESTATE_MAX_MEMBERS, "{state:?}");
    let header = state.header_value();
    assert!(header.len() <= TRACESTATE_MAX_LEN, "{header}");
    assert!(http::HeaderValue::from_str(&header).is_ok(), "{header:?}");
    let again = TraceState::parse(header.as_bytes()).unwrap_or_default();
    assert_eq!(again, state, "{header}");
});
