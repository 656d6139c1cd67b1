//! The RUM beacon parser and validator: any body; an accepted beacon is within every
//! bound, serializes and parses back to the same beacon.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_core::rum::{Beacon, MAX_BEACON_BYTES, MAX_ERRORS, MAX_FIELD_LEN, MAX_VITALS};

fuzz_target!(|body: &[u8]| {
    let Ok(beacon) = Beacon::parse(body) else {
        return;
    };
    assert!(body.len() <= MAX_BEACON_BYTES);
    assert!(beacon.vitals.len() <= MAX_VITALS && beacon.errors.len() <= MAX_ERRORS);
    assert!(beacon.service.len() <= MAX_FIELD_LEN && beacon.route.len() <= MAX_FIELD_LEN);
    for vital in &beacon.vitals {
        assert!(vital.in_range(), "{vital:?}");
        assert_eq!(vital.rating, vital.name.rate(vital.value));
    }
    assert_eq!(beacon.validate(), Ok(()));
    let json = serde_json::to_vec(&beacon).expect("a parsed beacon serializes");
    assert_eq!(Beacon::parse(&json), Ok(beacon));
});
