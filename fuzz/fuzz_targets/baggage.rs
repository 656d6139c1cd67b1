//! `baggage`: any header values; accepted baggage stays within its bounds and its header
//! value parses back to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::propagation::{BAGGAGE_MAX_LEN, BAGGAGE_MAX_MEMBERS, baggage};

fuzz_target!(|values: Vec<Vec<u8>>| {
    let Ok(parsed) = baggage::parse_all(values.iter().map(Vec::as_slice)) else {
        return;
    };
    assert!(parsed.len() <= BAGGAGE_MAX_MEMBERS, "{parsed:?}");
    let header = baggage::header_value(&parsed);
    assert!(header.len() <= BAGGAGE_MAX_LEN, "{} bytes", header.len());
    assert!(http::HeaderValue::from_str(&header).is_ok(), "{header:?}");
    if parsed.is_empty() {
        return;
    }
    let again = baggage::parse(header.as_bytes())
        .unwrap_or_else(|e| panic!("{header:?} is refused: {e:?}"));
    assert_eq!(again, parsed, "{header}");
});
