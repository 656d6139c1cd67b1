//! Datadog headers (`x-datadog-*`): any values; an accepted context re-injects and
//! re-extracts to the same ids, sampling priority and origin; tags stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::propagation::{PropagationFormat, datadog};
use sdk_fuzz::{Headers, extract_and_round_trip};

fuzz_target!(|headers: Headers| {
    let carrier = headers.carrier(&[
        datadog::TRACE_ID,
        datadog::PARENT_ID,
        datadog::SAMPLING_PRIORITY,
        datadog::ORIGIN,
        datadog::TAGS,
    ]);
    if let Some(context) = extract_and_round_trip(PropagationFormat::Datadog, &carrier) {
        if let Some(priority) = context.sampling_priority {
            assert!((-1..=2).contains(&priority), "priority {priority}");
        }
        assert!(datadog::tags_value(&context).len() <= datadog::TAGS_MAX_LEN);
    }
});
