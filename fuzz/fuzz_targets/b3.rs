//! B3, single (`b3`) and multi (`x-b3-*`) headers: any values; an accepted context
//! re-injects and re-extracts to the same ids and sampling decision in both forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::propagation::{PropagationFormat, b3};
use sdk_fuzz::{Headers, extract_and_round_trip};

fuzz_target!(|headers: Headers| {
    let carrier = headers.carrier(&[
        b3::SINGLE,
        b3::TRACE_ID,
        b3::SPAN_ID,
        b3::PARENT_SPAN_ID,
        b3::SAMPLED,
        b3::FLAGS,
    ]);
    extract_and_round_trip(PropagationFormat::B3, &carrier);
    extract_and_round_trip(PropagationFormat::B3Multi, &carrier);
});
