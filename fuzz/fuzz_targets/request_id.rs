//! The incoming `x-request-id` check: what it accepts is 1–128 bytes of the documented
//! alphabet, a valid header value and a string the logs can carry as is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_tower::request_id::{MAX_LEN, is_valid};

fuzz_target!(|value: &[u8]| {
    if is_valid(value) {
        assert!((1..=MAX_LEN).contains(&value.len()));
        let text = std::str::from_utf8(value).expect("accepted ids are ASCII");
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)),
            "{text:?}"
        );
        assert!(http::HeaderValue::from_bytes(value).is_ok());
        assert_eq!(
            serde_json::to_string(text).unwrap().len(),
            text.len() + 2,
            "no escaping"
        );
    }
});
